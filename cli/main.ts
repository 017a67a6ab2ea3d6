/**
 * The `cc2d` command line. Each command lives in cli/commands/<name>.ts and exports
 * `register(program)`; this file only wires them and turns errors into exit codes (and, with
 * `--json`, into a last stdout line `{"error":{"type","message","exitCode"}}`).
 */
import { Command, CommanderError } from 'commander';
import { UserError } from '../infra/errors';
import { REPORTED_FAILURE } from './reported-failure';

type Registrar = (program: Command) => void;

const COMMAND_MODULES = [
  './commands/dev',
  './commands/doctor',
  './commands/ingest',
  './commands/site',
  './commands/run',
  './commands/status',
  './commands/cancel',
  './commands/rerun',
  './commands/resume',
  './commands/eval',
  './commands/compare',
  './commands/predict',
  './commands/report',
  './commands/runs',
  './commands/models',
  './commands/schedule',
  './commands/dashboard',
  './commands/worker',
];

export async function buildProgram(): Promise<Command> {
  const program = new Command('cc2d')
    .description('One-shot medical landmark detection (CC2D) as a durable Temporal pipeline')
    .showHelpAfterError()
    .exitOverride();
  for (const spec of COMMAND_MODULES) {
    let mod: { register?: Registrar };
    try {
      mod = (await import(spec)) as { register?: Registrar };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(spec.slice(2))) continue;
      throw err;
    }
    mod.register?.(program);
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram();
  // With --json a script reads the last stdout line: a failure is one JSON object there too.
  const json = argv.includes('--json');
  const fail = (exitCode: number, type: string, message: string): number => {
    if (json) process.stdout.write(`${JSON.stringify({ error: { type, message, exitCode } })}\n`);
    return exitCode;
  };
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 || err.code === REPORTED_FAILURE ? err.exitCode : fail(err.exitCode, err.code, err.message);
    if (err instanceof UserError) {
      console.error(`cc2d: ${err.message}`);
      return fail(2, err.type, err.message);
    }
    console.error(`cc2d: ${(err as Error).stack ?? String(err)}`);
    return fail(1, (err as Error).name ?? 'Error', (err as Error).message ?? String(err));
  }
}
