/**
 * What a test file does when something it needs (a server, the ISBI dataset, chromium, the
 * native TF backend) is missing.
 *
 * Strict - `CI` or `CC2D_TEST_STRICT` set (infra/test-all.sh sets the latter, so `npm run
 * test:all` is as strict as CI): the file FAILS with a message naming what is missing and how to
 * install it. Otherwise (a developer's `npx vitest run <file>`): the file is skipped and the
 * same message is printed.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../infra/config/stack';

function truthy(v: string | undefined): boolean {
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

export function isStrict(env: NodeJS.ProcessEnv = process.env): boolean {
  return truthy(env.CI) || truthy(env.CC2D_TEST_STRICT);
}

/** Throws under strict; otherwise prints why `file` skips and returns undefined. */
export function missingDependency(file: string, problem: string, howToFix: string): undefined {
  const msg = `[${file}] ${problem}. ${howToFix}`;
  if (isStrict()) throw new Error(`${msg} (CI or CC2D_TEST_STRICT is set, so this fails instead of skipping)`);
  console.warn(`${msg} Skipping (set CC2D_TEST_STRICT=1 to make this a failure).`);
  return undefined;
}

/** The ISBI 2015 dataset directory (ISBI_DIR), or undefined when it is missing and not strict. */
export async function requireDataset(file: string): Promise<string | undefined> {
  // Loaded here, not at the top: every test file imports this module through setup-backend.ts.
  const { checkDataset, isbiDir } = await import('../../infra/stack/checks');
  const dir = isbiDir();
  const check = await checkDataset(dir);
  if (check.ok) return dir;
  return missingDependency(file, `ISBI 2015 dataset not usable at ${dir}: ${check.reason}`, 'Set ISBI_DIR to a copy of the ISBI 2015 dataset (`npm run test:all` defaults it to ../shared/datasets/isbi2015_ceph).');
}

export const CHROMIUM = process.env.CC2D_CHROMIUM ?? '/usr/bin/chromium';

/** The chromium binary, or undefined when it is missing and not strict. */
export function requireBrowser(file: string): string | undefined {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  return missingDependency(file, `${CHROMIUM} not found`, 'Install it with `bash infra/install-browser.sh` (part of `npm run setup`), or set CC2D_CHROMIUM.');
}

/** Where `npm run setup` installs the Temporal and SeaweedFS binaries. */
export const SERVER_BIN_DIR = path.join(PROJECT_ROOT, '.tools', 'venv', 'bin');

/** True when the `temporal` and `weed` binaries are installed; otherwise fails under strict, or prints why and returns false. */
export function requireServerBinaries(file: string): boolean {
  if (existsSync(path.join(SERVER_BIN_DIR, 'temporal')) && existsSync(path.join(SERVER_BIN_DIR, 'weed'))) return true;
  missingDependency(file, `${SERVER_BIN_DIR}/{temporal,weed} missing`, 'Install them with `npm run setup`.');
  return false;
}
