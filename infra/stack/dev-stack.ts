/**
 * The local development stack: a Temporal dev server (SQLite, persistent) and SeaweedFS with
 * its S3 gateway, both from .tools/venv (infra/install-servers.sh), both bound to 127.0.0.1.
 *
 * Processes run detached (they outlive the CLI call), log to `<dataDir>/logs/<service>.log`
 * and record their pid in `<dataDir>/pids/<service>.pid`. A pid counts as "ours" only when
 * /proc/<pid>/cmdline shows our binary with our data dir, so a recycled pid or another stack
 * is never signalled. Used by `cc2d dev ...`, `.ci/run`, tests and fault tests
 * (`stopService('s3')` / `startS3()` / `restartTemporal()` / `pauseService`).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { SEARCH_ATTRIBUTES, SEARCH_ATTRIBUTE_CLI_TYPES } from '../config/names';
import { splitHostPort, type StackSettings } from '../config/stack';
import { UserError } from '../errors';
import { createS3Store } from '../storage/s3-store';
import { ensureLocalCredentials, readLocalCredentials, s3IdentityConfigPath } from './local-credentials';

const execFileP = promisify(execFile);

export type ServiceName = 'temporal' | 's3';
export const SERVICES: readonly ServiceName[] = ['temporal', 's3'];

/** Retention of closed workflows in the dev namespace (dashboards query history). */
export const DEV_RETENTION = '720h';
const DEV_RETENTION_SECONDS = 720 * 3600;

/**
 * Namespace the project's tests run their workflows in (same search attributes), so test runs
 * never appear in a user's `cc2d runs list` or dashboard. One day of retention: nobody reads them.
 */
export const TEST_NAMESPACE = 'cc2d-test';
const TEST_RETENTION = '24h';
const TEST_RETENTION_SECONDS = 24 * 3600;

export interface DevStackLayout {
  projectRoot: string;
  dataDir: string;
  binDir: string;
  logsDir: string;
  pidsDir: string;
  temporal: {
    /** False when CC2D_TEMPORAL_ADDRESS is not on this machine: the dev stack leaves it alone. */
    managed: boolean;
    host: string;
    port: number;
    uiPort: number;
    address: string;
    namespace: string;
    dbFile: string;
  };
  s3: {
    managed: boolean;
    host: string;
    port: number;
    endpoint: string;
    bucket: string;
    /** SeaweedFS's internal master / volume / filer HTTP ports; each gRPC port is +10000. */
    masterPort: number;
    volumePort: number;
    filerPort: number;
    weedDir: string;
    identityFile: string;
  };
}

export interface LayoutOverrides {
  dataDir?: string;
  binDir?: string;
  temporalPort?: number;
  temporalUiPort?: number;
  s3Port?: number;
  masterPort?: number;
  volumePort?: number;
  filerPort?: number;
  namespace?: string;
  bucket?: string;
}

/** Where everything of the local stack lives, derived from the stack settings. */
export function devStackLayout(settings: StackSettings, o: LayoutOverrides = {}): DevStackLayout {
  const dataDir = o.dataDir ?? settings.dataDir;
  const t = splitHostPort(settings.temporal.address);
  const tPort = o.temporalPort ?? t.port;
  const s3Url = settings.s3.endpoint !== undefined ? new URL(settings.s3.endpoint) : undefined;
  const s3Port = o.s3Port ?? (s3Url ? Number(s3Url.port || 80) : 8333);
  return {
    projectRoot: settings.projectRoot,
    dataDir,
    binDir: o.binDir ?? process.env.CC2D_TOOLS_BIN ?? path.join(settings.projectRoot, '.tools', 'venv', 'bin'),
    logsDir: path.join(dataDir, 'logs'),
    pidsDir: path.join(dataDir, 'pids'),
    temporal: {
      managed: settings.temporal.local,
      host: '127.0.0.1',
      port: tPort,
      uiPort: o.temporalUiPort ?? tPort + 1000,
      address: `127.0.0.1:${tPort}`,
      namespace: o.namespace ?? settings.temporal.namespace,
      dbFile: path.join(dataDir, 'temporal', 'temporal.db'),
    },
    s3: {
      // Any plain-http loopback endpoint is ours to run; credentials are only picked
      // automatically for the default one (see infra/config/stack.ts).
      managed: s3Url !== undefined && s3Url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(s3Url.hostname),
      host: '127.0.0.1',
      port: s3Port,
      endpoint: `http://127.0.0.1:${s3Port}`,
      bucket: o.bucket ?? settings.s3.bucket,
      masterPort: o.masterPort ?? 9333,
      volumePort: o.volumePort ?? 9334,
      filerPort: o.filerPort ?? 9335,
      weedDir: path.join(dataDir, 'weed'),
      identityFile: s3IdentityConfigPath(dataDir),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// processes

function binary(layout: DevStackLayout, service: ServiceName): string {
  return path.join(layout.binDir, service === 'temporal' ? 'temporal' : 'weed');
}

/** A string that only our own process for this service and data dir has on its command line. */
function identityArg(layout: DevStackLayout, service: ServiceName): string {
  return service === 'temporal' ? layout.temporal.dbFile : `-dir=${layout.s3.weedDir}`;
}

function pidFile(layout: DevStackLayout, service: ServiceName): string {
  return path.join(layout.pidsDir, `${service}.pid`);
}

export function logFile(layout: DevStackLayout, service: ServiceName): string {
  return path.join(layout.logsDir, `${service}.log`);
}

function threadStates(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map((tid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      } catch {
        return 'X';
      }
    });
  } catch {
    return [];
  }
}

/**
 * 'dead' only when every thread is gone or a zombie: a Go server whose main thread exited can
 * show 'Z' for the leader while other threads still hold its sockets.
 */
function processState(pid: number): 'alive' | 'dead' {
  return threadStates(pid).every((s) => s === 'Z' || s === 'X') ? 'dead' : 'alive';
}

/** True when every thread of `pid` is stopped (SIGSTOP delivered everywhere). */
function processStopped(pid: number): boolean {
  const states = threadStates(pid);
  return states.length > 0 && states.every((s) => s === 'T' || s === 't' || s === 'Z' || s === 'X');
}

function isOurProcess(layout: DevStackLayout, service: ServiceName, pid: number): boolean {
  if (processState(pid) !== 'alive') return false;
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv[0] === binary(layout, service) && argv.includes(identityArg(layout, service));
  } catch {
    return false;
  }
}

/** The pid of our running process for `service`, or undefined (stale pid files are removed). */
export async function servicePid(layout: DevStackLayout, service: ServiceName): Promise<number | undefined> {
  let text: string;
  try {
    text = await fs.readFile(pidFile(layout, service), 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  if (Number.isInteger(pid) && pid > 1 && isOurProcess(layout, service, pid)) return pid;
  await fs.rm(pidFile(layout, service), { force: true });
  return undefined;
}

/** True when something accepts or holds `port` on 127.0.0.1. */
export async function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(true));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(false)));
  });
}

function servicePorts(layout: DevStackLayout, service: ServiceName): number[] {
  if (service === 'temporal') return [layout.temporal.port, layout.temporal.uiPort];
  const s = layout.s3;
  return [s.port, s.port + 10000, s.masterPort, s.masterPort + 10000, s.volumePort, s.volumePort + 10000, s.filerPort, s.filerPort + 10000];
}

function serviceArgs(layout: DevStackLayout, service: ServiceName): string[] {
  if (service === 'temporal') {
    const t = layout.temporal;
    const sa = Object.values(SEARCH_ATTRIBUTES).flatMap((a) => ['--search-attribute', `${a.name}=${SEARCH_ATTRIBUTE_CLI_TYPES[a.type]}`]);
    return [
      'server', 'start-dev',
      '--ip', t.host,
      '--port', String(t.port),
      '--db-filename', t.dbFile,
      '--namespace', t.namespace,
      ...(t.namespace === TEST_NAMESPACE ? [] : ['--namespace', TEST_NAMESPACE]),
      '--ui-ip', t.host,
      '--ui-port', String(t.uiPort),
      '--ui-disable-news-fetch',
      ...sa,
      '--log-level', 'warn',
    ];
  }
  const s = layout.s3;
  return [
    'server',
    `-dir=${s.weedDir}`,
    '-ip=127.0.0.1',
    '-ip.bind=127.0.0.1',
    '-master.telemetry=false',
    `-master.port=${s.masterPort}`,
    '-master.volumeSizeLimitMB=1024',
    `-volume.port=${s.volumePort}`,
    '-volume.max=0',
    '-volume.preStopSeconds=0',
    '-master.electionTimeout=1s',
    `-filer.port=${s.filerPort}`,
    '-s3',
    `-s3.port=${s.port}`,
    `-s3.config=${s.identityFile}`,
    '-s3.port.iceberg=0',
    '-s3.port.lance=0',
  ];
}

/** A minimal environment for the servers: they need no AWS credentials or project secrets. */
function serverEnv(): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];
  const env: NodeJS.ProcessEnv = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return env;
}

async function tailLog(layout: DevStackLayout, service: ServiceName, lines = 15): Promise<string> {
  try {
    const text = await fs.readFile(logFile(layout, service), 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class PortInUseError extends UserError {
  constructor(service: ServiceName, port: number, pidsDir = '.data/pids') {
    super(
      `${service}: port ${port} on 127.0.0.1 is already in use by a program that is not this project's dev stack ` +
        `(no matching process in ${pidsDir}). Stop that program, or point cc2d at it/elsewhere with ` +
        (service === 'temporal' ? 'CC2D_TEMPORAL_ADDRESS' : 'CC2D_S3_ENDPOINT') + '.',
      'PortInUse',
    );
  }
}

async function spawnService(layout: DevStackLayout, service: ServiceName): Promise<number> {
  const bin = binary(layout, service);
  if (!existsSync(bin)) throw new UserError(`${bin} not found: run \`npm run setup\` (infra/install-servers.sh) first`);
  for (const port of servicePorts(layout, service)) {
    if (await portInUse(port)) throw new PortInUseError(service, port, layout.pidsDir);
  }
  await fs.mkdir(layout.logsDir, { recursive: true });
  await fs.mkdir(layout.pidsDir, { recursive: true });
  if (service === 'temporal') await fs.mkdir(path.dirname(layout.temporal.dbFile), { recursive: true });
  else await fs.mkdir(layout.s3.weedDir, { recursive: true });
  const args = serviceArgs(layout, service);
  const fd = openSync(logFile(layout, service), 'a');
  try {
    writeSync(fd, `\n=== ${new Date().toISOString()} cc2d dev: starting ${service}: ${bin} ${args.join(' ')}\n`);
    const child = spawn(bin, args, { cwd: layout.dataDir, detached: true, stdio: ['ignore', fd, fd], env: serverEnv() });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${service}: spawn of ${bin} failed`);
    child.on('error', () => undefined);
    child.unref();
    await fs.writeFile(pidFile(layout, service), `${pid}\n`);
    return pid;
  } finally {
    closeSync(fd);
  }
}

async function stopPid(pid: number, timeoutMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<'stopped' | 'killed'> {
  const send = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pid, sig); // its own process group (spawned detached)
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  send(signal);
  if (signal !== 'SIGKILL' && signal !== 'SIGCONT') send('SIGCONT'); // a paused (SIGSTOP) server must run to handle it
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (processState(pid) === 'dead') return 'stopped';
    await sleep(100);
  }
  // Both servers are Go programs: SIGQUIT makes the runtime write every goroutine's stack to the
  // service log and exit, so a stop that hung leaves the reason behind; SIGKILL if even that hangs.
  send('SIGQUIT');
  for (let i = 0; i < 30 && processState(pid) !== 'dead'; i++) await sleep(100);
  send('SIGKILL');
  for (let i = 0; i < 50 && processState(pid) !== 'dead'; i++) await sleep(100);
  return 'killed';
}

// ---------------------------------------------------------------------------------------------
// health

async function temporalCli(layout: DevStackLayout, args: string[], timeoutMs = 20_000): Promise<string> {
  const { stdout } = await execFileP(binary(layout, 'temporal'), [...args, '--address', layout.temporal.address], {
    timeout: timeoutMs,
    env: serverEnv(),
    maxBuffer: 4 << 20,
  });
  return stdout;
}

export async function temporalHealthy(layout: DevStackLayout): Promise<boolean> {
  try {
    return (await temporalCli(layout, ['operator', 'cluster', 'health'], 5_000)).includes('SERVING');
  } catch {
    return false;
  }
}

/**
 * True when the S3 endpoint serves a full authenticated round trip: put, get and delete of a
 * small object (with `createBucket`, the bucket is created first). A bucket-level request is
 * not enough: after a restart SeaweedFS answers HeadBucket from the filer before its volume
 * server has re-registered, and object reads fail with HTTP 500 for a few seconds.
 */
export async function s3Healthy(layout: DevStackLayout, createBucket = false): Promise<boolean> {
  const creds = await readLocalCredentials(layout.dataDir);
  if (!creds) return false;
  const store = createS3Store(
    {
      s3: {
        endpoint: layout.s3.endpoint,
        region: 'us-east-1',
        bucket: layout.s3.bucket,
        prefix: '',
        forcePathStyle: true,
        local: true,
        credentialSource: 'local-dev-file',
      },
    },
    { credentials: creds, maxAttempts: 1, requestTimeoutMs: 5_000, idleTimeoutMs: 5_000, connectionTimeoutMs: 1_000 },
  );
  try {
    if (createBucket) await store.ensureBucket();
    const key = `.cc2d-health/${process.pid}`;
    const put = await store.put(key, new TextEncoder().encode('ok'));
    await store.get(key, put.sha256);
    await store.delete([key]);
    return true;
  } catch {
    return false;
  } finally {
    store.destroy();
  }
}

async function waitHealthy(layout: DevStackLayout, service: ServiceName, pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (processState(pid) === 'dead') {
      await fs.rm(pidFile(layout, service), { force: true });
      throw new UserError(`${service} exited during start-up; last lines of ${logFile(layout, service)}:\n${await tailLog(layout, service)}`);
    }
    const ok = service === 'temporal' ? await temporalHealthy(layout) : await s3Healthy(layout, true);
    if (ok) return;
    await sleep(300);
  }
  throw new UserError(`${service} did not become healthy within ${timeoutMs / 1000}s; last lines of ${logFile(layout, service)}:\n${await tailLog(layout, service)}`);
}

/**
 * For the dev namespace and the tests' namespace (TEST_NAMESPACE): creates the namespace when it
 * is missing (a stack started before the test namespace existed), registers every cc2d search
 * attribute that is missing (start-dev only applies `--search-attribute` when it first creates a
 * namespace) and sets the retention (30 days; 1 day for the tests' namespace). Returns the
 * search attributes it registered, as `<namespace>/<name>`.
 */
export async function ensureTemporalNamespaceSetup(layout: DevStackLayout): Promise<{ created: string[] }> {
  const created: string[] = [];
  const namespaces = [...new Set([layout.temporal.namespace, TEST_NAMESPACE])];
  for (const ns of namespaces) {
    const retention = ns === TEST_NAMESPACE ? { text: TEST_RETENTION, seconds: TEST_RETENTION_SECONDS } : { text: DEV_RETENTION, seconds: DEV_RETENTION_SECONDS };
    const missing = await setUpNamespace(layout, ns, retention);
    created.push(...missing.map((name) => `${ns}/${name}`));
  }
  return { created };
}

type NamespaceDescription = { config?: { workflowExecutionRetentionTtl?: string } };
type SearchAttributeList = { customAttributes?: Record<string, string> };

/** Parsed JSON of a `temporal operator ... -n ns -o json` command; undefined when the namespace does not exist (yet). */
async function namespaceJson<T>(layout: DevStackLayout, args: string[]): Promise<T | undefined> {
  try {
    return JSON.parse(await temporalCli(layout, [...args, '-o', 'json'])) as T;
  } catch (err) {
    if (/Namespace \S+ is not found/i.test(String(err))) return undefined;
    throw err;
  }
}

async function setUpNamespace(layout: DevStackLayout, ns: string, retention: { text: string; seconds: number }): Promise<string[]> {
  const describe = () => namespaceJson<NamespaceDescription>(layout, ['operator', 'namespace', 'describe', '-n', ns]);
  const listAttributes = () => namespaceJson<SearchAttributeList>(layout, ['operator', 'search-attribute', 'list', '-n', ns]);
  let described = await describe();
  if (!described) await temporalCli(layout, ['operator', 'namespace', 'create', '-n', ns, '--retention', retention.text]);
  // A new namespace reaches every frontend service's namespace cache only after a few seconds.
  const deadline = Date.now() + 30_000;
  let listed: SearchAttributeList | undefined;
  while (!(described ??= await describe()) || !(listed = await listAttributes())) {
    if (Date.now() > deadline) throw new UserError(`namespace ${ns}: created, but not usable after 30 s`);
    await sleep(500);
  }
  const have = listed.customAttributes ?? {};
  const missing = Object.values(SEARCH_ATTRIBUTES).filter((a) => have[a.name] === undefined);
  const wrong = Object.values(SEARCH_ATTRIBUTES).filter((a) => have[a.name] !== undefined && have[a.name] !== `INDEXED_VALUE_TYPE_${a.type}`);
  if (wrong.length > 0) {
    throw new UserError(
      `namespace ${ns}: search attribute(s) registered with the wrong type: ${wrong.map((a) => `${a.name} is ${have[a.name]}, expected ${a.type}`).join('; ')}`,
    );
  }
  if (missing.length > 0) {
    await temporalCli(layout, [
      'operator', 'search-attribute', 'create', '-n', ns,
      ...missing.flatMap((a) => ['--name', a.name, '--type', SEARCH_ATTRIBUTE_CLI_TYPES[a.type]]),
    ]);
  }
  if (described.config?.workflowExecutionRetentionTtl !== `${retention.seconds}s`) {
    await temporalCli(layout, ['operator', 'namespace', 'update', '-n', ns, '--retention', retention.text]);
  }
  return missing.map((a) => a.name);
}

// ---------------------------------------------------------------------------------------------
// public operations

export type ServiceState =
  /** Our process is running and answers. */
  | 'running'
  /** Our process is running but does not answer (yet). */
  | 'unhealthy'
  /** Not running. */
  | 'stopped'
  /** Not running, and its port is held by another program. */
  | 'port-conflict'
  /** Configured to a non-local address: not managed by the dev stack. */
  | 'external';

export interface ServiceStatus {
  service: ServiceName;
  state: ServiceState;
  address: string;
  pid?: number;
  logFile?: string;
  ui?: string;
  detail?: string;
}

export interface StartResult {
  service: ServiceName;
  action: 'started' | 'already-running' | 'external';
  pid?: number;
}

export interface StartOptions {
  /** How long to wait for health (default 90 s). */
  timeoutMs?: number;
}

export async function serviceStatus(layout: DevStackLayout, service: ServiceName): Promise<ServiceStatus> {
  const address = service === 'temporal' ? layout.temporal.address : layout.s3.endpoint;
  const managed = service === 'temporal' ? layout.temporal.managed : layout.s3.managed;
  if (!managed) return { service, state: 'external', address };
  const pid = await servicePid(layout, service);
  const base = {
    service,
    address,
    logFile: logFile(layout, service),
    ...(service === 'temporal' ? { ui: `http://127.0.0.1:${layout.temporal.uiPort}` } : {}),
  };
  if (pid === undefined) {
    const busy = await portInUse(service === 'temporal' ? layout.temporal.port : layout.s3.port);
    return busy
      ? { ...base, state: 'port-conflict', detail: 'port held by a program that is not this dev stack' }
      : { ...base, state: 'stopped' };
  }
  const healthy = service === 'temporal' ? await temporalHealthy(layout) : await s3Healthy(layout);
  return { ...base, pid, state: healthy ? 'running' : 'unhealthy' };
}

export async function stackStatus(layout: DevStackLayout): Promise<ServiceStatus[]> {
  return Promise.all(SERVICES.map((s) => serviceStatus(layout, s)));
}

/** Starts `service` if it is not running, waits until healthy, then applies its setup. */
export async function startService(layout: DevStackLayout, service: ServiceName, opts: StartOptions = {}): Promise<StartResult> {
  const managed = service === 'temporal' ? layout.temporal.managed : layout.s3.managed;
  if (!managed) return { service, action: 'external' };
  if (service === 's3') await ensureLocalCredentials(layout.dataDir);
  let pid = await servicePid(layout, service);
  const action: StartResult['action'] = pid === undefined ? 'started' : 'already-running';
  if (pid === undefined) pid = await spawnService(layout, service);
  await waitHealthy(layout, service, pid, opts.timeoutMs ?? 90_000);
  if (service === 'temporal') await ensureTemporalNamespaceSetup(layout);
  return { service, action, pid };
}

export interface StopOptions {
  /** SIGTERM (default), or SIGKILL to simulate a crash. */
  signal?: NodeJS.Signals;
  /**
   * Grace period before SIGQUIT (goroutine dump) and SIGKILL (default: STOP_GRACE_MS of the service). Fault tests that only
   * need S3 gone should use `signal: 'SIGKILL'` (a crash; data already written survives it).
   */
  timeoutMs?: number;
}

/**
 * Default SIGTERM grace per service. SeaweedFS 4.48's filer waits out a fixed 15 s gRPC
 * graceful-stop timeout: measured 15.2-15.4 s per stop, also at load average 6-7 on the 2-core
 * machine (2026-11-30); a 25 s grace was once exceeded in CI under load, so S3 gets 4x the
 * measured time. Temporal's dev server stops in about a second.
 */
export const STOP_GRACE_MS: Record<ServiceName, number> = { temporal: 25_000, s3: 60_000 };

export interface StopResult {
  service: ServiceName;
  action: 'stopped' | 'killed' | 'not-running' | 'external';
}

export async function stopService(layout: DevStackLayout, service: ServiceName, opts: StopOptions = {}): Promise<StopResult> {
  const managed = service === 'temporal' ? layout.temporal.managed : layout.s3.managed;
  if (!managed) return { service, action: 'external' };
  const pid = await servicePid(layout, service);
  if (pid === undefined) return { service, action: 'not-running' };
  const how = await stopPid(pid, opts.timeoutMs ?? STOP_GRACE_MS[service], opts.signal ?? 'SIGTERM');
  await fs.rm(pidFile(layout, service), { force: true });
  // The kernel releases the listening sockets with the last thread; wait for that.
  const mainPort = service === 'temporal' ? layout.temporal.port : layout.s3.port;
  for (let i = 0; i < 50 && (await portInUse(mainPort)); i++) await sleep(100);
  try {
    const fd = openSync(logFile(layout, service), 'a');
    writeSync(fd, `=== ${new Date().toISOString()} cc2d dev: ${service} ${how} (${opts.signal ?? 'SIGTERM'}${how === 'killed' && opts.signal !== 'SIGKILL' ? ', then SIGQUIT and SIGKILL after the grace period' : ''})\n`);
    closeSync(fd);
  } catch {
    /* log dir gone */
  }
  return { service, action: how === 'stopped' && opts.signal !== 'SIGKILL' ? 'stopped' : 'killed' };
}

/** SIGSTOP / SIGCONT: a frozen server (connections hang instead of being refused). */
export async function pauseService(layout: DevStackLayout, service: ServiceName): Promise<void> {
  const pid = await servicePid(layout, service);
  if (pid === undefined) throw new UserError(`${service} is not running`);
  process.kill(-pid, 'SIGSTOP');
  // kill() returns before every thread has stopped; a request sent in that window is served.
  for (let i = 0; i < 100 && !processStopped(pid); i++) await sleep(20);
  if (!processStopped(pid)) throw new Error(`${service} (pid ${pid}) did not stop after SIGSTOP`);
}

export async function resumeService(layout: DevStackLayout, service: ServiceName): Promise<void> {
  const pid = await servicePid(layout, service);
  if (pid === undefined) throw new UserError(`${service} is not running`);
  process.kill(-pid, 'SIGCONT');
}

export async function startTemporal(layout: DevStackLayout, opts?: StartOptions): Promise<StartResult> {
  return startService(layout, 'temporal', opts);
}
export async function startS3(layout: DevStackLayout, opts?: StartOptions): Promise<StartResult> {
  return startService(layout, 's3', opts);
}
export async function stopS3(layout: DevStackLayout, opts?: StopOptions): Promise<StopResult> {
  return stopService(layout, 's3', opts);
}
export async function stopTemporal(layout: DevStackLayout, opts?: StopOptions): Promise<StopResult> {
  return stopService(layout, 'temporal', opts);
}

/** Stops and starts the Temporal dev server on the same SQLite file (fault test docs/reliability.md#f5). */
export async function restartTemporal(layout: DevStackLayout, opts: StopOptions & StartOptions = {}): Promise<StartResult> {
  await stopService(layout, 'temporal', opts);
  return startService(layout, 'temporal', opts);
}

/** `cc2d dev up`: both services, in parallel. Idempotent. */
export async function devUp(layout: DevStackLayout, opts?: StartOptions): Promise<StartResult[]> {
  const results = await Promise.allSettled(SERVICES.map((s) => startService(layout, s, opts)));
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new UserError(errors.map((e) => e.message).join('\n'));
  return results.map((r) => (r as PromiseFulfilledResult<StartResult>).value);
}

/** `cc2d dev down`: SIGTERM both, SIGKILL after the grace period. Idempotent. */
export async function devDown(layout: DevStackLayout, opts?: StopOptions): Promise<StopResult[]> {
  return Promise.all(SERVICES.map((s) => stopService(layout, s, opts)));
}
