// The failure converter of workers, clients and the workflow bundle while payload encryption is on
// (infra/temporal/connect.ts): failure messages and stack traces move into `encodedAttributes`,
// a payload the codec encrypts, so history keeps only "Encoded failure". Plain CommonJS: the
// Temporal SDK loads it with require() in the worker and bundles it into the workflow sandbox.
'use strict';
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
// Found in a workflow bundle's code when the bundle was built with this converter.
exports.BUNDLE_MARKER = 'cc2d-encoded-failure-converter-v1';
