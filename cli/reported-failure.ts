/**
 * A failure whose command has already printed its result (e.g. `doctor --json`: the report, then
 * exit 1): cli/main.ts exits with the code and adds no `--json` error line after that result.
 */
import { CommanderError } from 'commander';

export const REPORTED_FAILURE = 'cc2d.reported-failure';

export function reportedFailure(exitCode: number, message: string): CommanderError {
  return new CommanderError(exitCode, REPORTED_FAILURE, message);
}
