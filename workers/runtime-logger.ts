/**
 * The Temporal Runtime logger of cc2d processes: the SDK's DefaultLogger at `level`, minus the
 * two start-up notices every activity-only / workflow-only worker prints ("No activities
 * registered", "No workflows registered"): they are by design here, not a misconfiguration.
 *
 * Every message and its metadata are scrubbed of credentials and signatures: the SDK's own
 * warnings (e.g. "Activity failed" with the error) print error text on the worker host, and a
 * payload codec only protects what reaches the Temporal server, not these logs.
 */
import { DefaultLogger, Runtime, type LogEntry, type LogLevel, type LogMetadata } from '@temporalio/worker';
import { scrubSecrets } from '../infra/storage/s3-store';

const EXPECTED_NOTICES = [/^No activities registered/, /^No workflows registered/];

/** A copy of `value` with every string scrubbed (errors become errors with scrubbed text). */
export function scrubLogValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubSecrets(value);
  if (value === null || typeof value !== 'object' || depth > 5) return value;
  if (value instanceof Error) {
    const copy = new Error(scrubSecrets(value.message));
    copy.name = value.name;
    copy.stack = value.stack === undefined ? undefined : scrubSecrets(value.stack);
    if (value.cause !== undefined) copy.cause = scrubLogValue(value.cause, depth + 1);
    return copy;
  }
  if (Array.isArray(value)) return value.map((v) => scrubLogValue(v, depth + 1));
  if (value.constructor !== Object && value.constructor !== undefined) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubLogValue(v, depth + 1)]));
}

export function runtimeLogger(level: LogLevel, sink?: (entry: LogEntry) => void): DefaultLogger {
  const base = new DefaultLogger(level, sink);
  return new DefaultLogger(level, (entry: LogEntry) => {
    if (EXPECTED_NOTICES.some((re) => re.test(entry.message))) return;
    base.log(entry.level, scrubSecrets(entry.message), entry.meta && (scrubLogValue(entry.meta) as LogMetadata));
  });
}

/** Installs the runtime with that logger once per process (later calls are no-ops). */
export function installRuntime(level: LogLevel): void {
  try {
    Runtime.install({ logger: runtimeLogger(level) });
  } catch {
    // already installed
  }
}
