// Every test file runs on the backend the project would pick (native when built), or the one
// TFJS_BACKEND names. Under CI or CC2D_TEST_STRICT (`npm run test:all`) the native backend must
// have loaded unless TFJS_BACKEND asked for another: a silent fallback to WASM would make the
// suite pass without ever testing the backend the project ships.
import { initBackend } from '../../infra/tf-backend';
import { isStrict } from './strict';

const info = await initBackend();
if (info.backend !== 'tensorflow' && !process.env.TFJS_BACKEND && isStrict()) {
  throw new Error(
    `native TensorFlow backend not loaded (running on ${info.backend}: ${info.fallbackReason ?? 'no reason given'}). ` +
      'Build it with `bash infra/install-tfjs-native.sh` (part of `npm run setup`). ' +
      '(CI or CC2D_TEST_STRICT is set, so this fails instead of running on a fallback backend)',
  );
}
