#!/usr/bin/env node
// Entry point of `npx cc2d`: runs the TypeScript CLI through tsx (no build step to forget).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv);
