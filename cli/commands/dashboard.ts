/**
 * `cc2d dashboard [--port 8787] [--host 127.0.0.1]`: read-only runs dashboard on a loopback
 * address. Prints the URL with a fresh random token (every request without it gets 401), then
 * serves until Ctrl-C. Runs come from Temporal visibility, reports from S3 (see
 * infra/dashboard/server.ts for the security rules).
 *
 * stdout gets exactly one line, the URL to open (`http://127.0.0.1:<port>/?token=…`), so scripts
 * and tests can read it; everything else goes to stderr.
 */
import type { Command } from 'commander';
import { loadStackSettings } from '../../infra/config/stack';
import { startDashboard } from '../../infra/dashboard/server';
import { createStoreSiteSource } from '../../infra/dashboard/champion';
import { createStoreCompareSource, createStoreReportSource, createTemporalRunSource, runsQuery } from '../../infra/dashboard/sources';
import { UserError } from '../../infra/errors';
import { createS3Store } from '../../infra/storage/s3-store';
import { connectClient } from '../../infra/temporal/connect';
import { payloadCodecFromEnv } from '../../infra/temporal/payload-codec';

interface DashboardFlags {
  port: string;
  host: string;
  limit: string;
  site?: string;
  uiOrigin: string;
}

export function register(program: Command): void {
  program
    .command('dashboard')
    .description('serve a read-only runs dashboard on 127.0.0.1 (token printed at start; Ctrl-C stops it)')
    .option('--port <port>', 'port to listen on (0 = any free port)', '8787')
    .option('--host <host>', 'loopback address to bind (127.0.0.1 or ::1)', '127.0.0.1')
    .option('--limit <n>', 'newest runs listed', '200')
    .option('--site <name>', 'only the runs of this site')
    .option('--ui-origin <origin>', 'Temporal UI origin allowed to call the codec endpoint /codec (payload encryption on)', process.env.CC2D_TEMPORAL_UI_ORIGIN ?? 'http://127.0.0.1:8233')
    .action(async (flags: DashboardFlags) => {
      const port = Number(flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`--port: expected 0-65535, got "${flags.port}"`);
      const limit = Number(flags.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 5000) throw new UserError(`--limit: expected 1-5000, got "${flags.limit}"`);
      let query: string;
      try {
        query = runsQuery(flags.site);
      } catch (err) {
        throw new UserError(`--site: ${(err as Error).message}`);
      }
      let uiOrigin: string;
      try {
        uiOrigin = new URL(flags.uiOrigin).origin;
      } catch {
        throw new UserError(`--ui-origin: expected an origin such as http://127.0.0.1:8233, got "${flags.uiOrigin}"`);
      }
      const codec = payloadCodecFromEnv();
      const settings = loadStackSettings();
      let client;
      try {
        client = await connectClient(settings);
      } catch (err) {
        throw new UserError(`cannot reach Temporal at ${settings.temporal.address} (${(err as Error).message.split('\n')[0]}); start the stack with \`npx cc2d dev up\``);
      }
      const store = createS3Store(settings);
      let dashboard;
      try {
        dashboard = await startDashboard({
          runs: createTemporalRunSource(client, flags.site !== undefined ? { site: flags.site } : {}),
          reports: createStoreReportSource(store),
          compare: createStoreCompareSource(store),
          sites: createStoreSiteSource(store),
          host: flags.host,
          port,
          limit,
          namespace: settings.temporal.namespace,
          ...(flags.site !== undefined ? { site: flags.site } : {}),
          ...(codec ? { codec, codecOrigin: uiOrigin } : {}),
        });
      } catch (err) {
        store.destroy();
        await client.connection.close();
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') throw new UserError(`--port ${port}: already in use; pick another or use --port 0`);
        throw new UserError((err as Error).message);
      }
      console.error(`cc2d dashboard: serving runs of namespace "${settings.temporal.namespace}" (${query}; read-only). Open this URL (it carries the access token):`);
      console.log(dashboard.loginUrl);
      if (codec) console.error(`Temporal UI codec endpoint: ${dashboard.url}codec (allowed origin ${uiOrigin}; open the URL above first in the same browser, and tick "include cross-origin credentials")`);
      console.error('Press Ctrl-C to stop.');
      await new Promise<void>((resolve) => {
        const stop = (): void => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await dashboard.close();
      store.destroy();
      await client.connection.close();
    });
}
