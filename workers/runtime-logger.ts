/**
 * The Temporal Runtime logger of cc2d processes: the SDK's DefaultLogger at `level`, minus the
 * two start-up notices every activity-only / workflow-only worker prints ("No activities
 * registered", "No workflows registered"): they are by design here, not a misconfiguration.
 */
import { DefaultLogger, Runtime, type LogEntry, type LogLevel } from '@temporalio/worker';

const EXPECTED_NOTICES = [/^No activities registered/, /^No workflows registered/];

export function runtimeLogger(level: LogLevel): DefaultLogger {
  const base = new DefaultLogger(level);
  return new DefaultLogger(level, (entry: LogEntry) => {
    if (EXPECTED_NOTICES.some((re) => re.test(entry.message))) return;
    base.log(entry.level, entry.message, entry.meta);
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
