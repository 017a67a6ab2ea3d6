// Every test file runs on the backend the project would pick (native when built), or the one
// TFJS_BACKEND names. CI builds the native addon, so CI tests run on `tensorflow`.
import { initBackend } from '../../infra/tf-backend';

await initBackend();
