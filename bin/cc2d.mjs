#!/usr/bin/env node
// Entry point of `npx cc2d`: runs the TypeScript CLI through tsx (no build step to forget).
import { register } from 'tsx/esm/api';

register();
// A reader that stops early (`cc2d runs list | head -3`) closes the pipe; the next write fails with
// EPIPE. Exit quietly then, as Unix tools do, instead of dying on an unhandled 'error' event.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv);
