/**
 * `cc2d dev up|down|status|restart-temporal|stop-s3|start-s3`: the local Temporal + S3 stack.
 * The logic lives in infra/stack/dev-stack.ts; this file only parses arguments and prints.
 */
import type { Command } from 'commander';
import { loadStackSettings } from '../../infra/config/stack';
import {
  devDown,
  devStackLayout,
  devUp,
  restartTemporal,
  stackStatus,
  startS3,
  stopS3,
  type ServiceStatus,
  type StartResult,
  type StopResult,
} from '../../infra/stack/dev-stack';

function layout() {
  return devStackLayout(loadStackSettings());
}

function printStart(results: StartResult[]): void {
  for (const r of results) {
    const what =
      r.action === 'started' ? `started (pid ${r.pid})` : r.action === 'already-running' ? `already up (pid ${r.pid})` : 'external (not managed by dev stack)';
    console.log(`${r.service.padEnd(8)} ${what}`);
  }
}

function printStop(results: StopResult[]): void {
  for (const r of results) {
    const what = { stopped: 'stopped', killed: 'killed (did not stop in time)', 'not-running': 'already stopped', external: 'external (left alone)' }[r.action];
    console.log(`${r.service.padEnd(8)} ${what}`);
  }
}

function printStatus(statuses: ServiceStatus[]): void {
  for (const s of statuses) {
    const extra = [s.pid !== undefined ? `pid ${s.pid}` : undefined, s.ui ? `ui ${s.ui}` : undefined, s.detail].filter(Boolean).join(', ');
    console.log(`${s.service.padEnd(8)} ${s.state.padEnd(13)} ${s.address}${extra ? `  (${extra})` : ''}`);
  }
}

export function register(program: Command): void {
  const dev = program.command('dev').description('Manage the local dev stack (Temporal dev server + SeaweedFS S3) in .data/');

  dev
    .command('up')
    .description('Start Temporal and S3 (detached), wait until healthy, register search attributes, create the bucket')
    .option('--timeout <seconds>', 'health wait per service', '90')
    .action(async (opts: { timeout: string }) => {
      const l = layout();
      const results = await devUp(l, { timeoutMs: Number(opts.timeout) * 1000 });
      printStart(results);
      if (results.every((r) => r.action !== 'started')) console.log('dev stack already up');
      console.log(`temporal ${l.temporal.address} namespace ${l.temporal.namespace}, ui http://127.0.0.1:${l.temporal.uiPort}`);
      console.log(`s3       ${l.s3.endpoint} bucket ${l.s3.bucket}; logs in ${l.logsDir}`);
    });

  dev
    .command('down')
    .description('Stop both services (SIGTERM; after the grace period SIGQUIT, which dumps the goroutines to the service log, then SIGKILL)')
    .option('--timeout <seconds>', 'grace period per service (default: Temporal 25 s, SeaweedFS 60 s; it usually stops in ~15 s)')
    .action(async (opts: { timeout?: string }) => {
      printStop(await devDown(layout(), opts.timeout !== undefined ? { timeoutMs: Number(opts.timeout) * 1000 } : {}));
    });

  dev
    .command('status')
    .description('Show the state of each service')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => {
      const statuses = await stackStatus(layout());
      if (opts.json) console.log(JSON.stringify(Object.fromEntries(statuses.map((s) => [s.service, s]))));
      else printStatus(statuses);
    });

  dev
    .command('restart-temporal')
    .description('Stop and start the Temporal dev server on the same SQLite file (fault tests)')
    .option('--kill', 'SIGKILL instead of SIGTERM (simulate a crash)')
    .action(async (opts: { kill?: boolean }) => {
      printStart([await restartTemporal(layout(), opts.kill ? { signal: 'SIGKILL' } : {})]);
    });

  dev
    .command('stop-s3')
    .description('Stop the S3 server only (fault tests)')
    .option('--kill', 'SIGKILL instead of SIGTERM')
    .action(async (opts: { kill?: boolean }) => {
      printStop([await stopS3(layout(), opts.kill ? { signal: 'SIGKILL' } : {})]);
    });

  dev
    .command('start-s3')
    .description('Start the S3 server only')
    .action(async () => {
      printStart([await startS3(layout())]);
    });
}
