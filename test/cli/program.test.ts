/** The `cc2d` program: one module per command under cli/commands/, all wired by cli/main.ts. */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../cli/main';
import { activityRole, GPU_ACTIVITIES } from '../../infra/config/names';
import { PROJECT_ROOT } from '../../infra/config/stack';

const COMMANDS = ['dev', 'doctor', 'ingest', 'site', 'run', 'status', 'cancel', 'rerun', 'resume', 'eval', 'compare', 'predict', 'report', 'runs', 'models', 'schedule', 'dashboard', 'worker'];

describe('cc2d program', () => {
  it('registers every command, in the help order', async () => {
    const program = await buildProgram();
    expect(program.commands.map((c) => c.name())).toEqual(COMMANDS);
  });

  it('has one module per top-level command, each exporting register', async () => {
    const dir = path.join(PROJECT_ROOT, 'cli', 'commands');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));
    expect(files.sort()).toEqual([...COMMANDS].sort());
    for (const f of files) {
      const mod = (await import(path.join(dir, `${f}.ts`))) as { register?: unknown };
      expect(typeof mod.register, f).toBe('function');
    }
  });
});

describe('cc2d --json on failure', () => {
  it('ends stdout with one JSON error object (type, message, exit code), as a success ends with its result', async () => {
    const cli = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'cc2d.mjs'), ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'ignore'] });
        let stdout = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.on('close', (code) => resolve({ code, stdout }));
      });
    // A config error (exit 2), found before any server is contacted.
    const bad = await cli(['run', '--site', 'no-such-site-x', '--profile', 'smoke', '--json']);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout.trim().split('\n').at(-1)!)).toEqual({
      error: { type: 'InvalidConfig', message: expect.stringMatching(/site "no-such-site-x" is not registered/), exitCode: 2 },
    });
    // A usage error (commander's exit code) gives one too; without --json stdout stays empty.
    const usage = await cli(['run', '--no-such-flag', '--json']);
    expect(JSON.parse(usage.stdout.trim().split('\n').at(-1)!).error).toMatchObject({ type: 'commander.unknownOption', exitCode: 1 });
    expect((await cli(['run', '--site', 'no-such-site-x', '--profile', 'smoke'])).stdout).toBe('');
  }, 60_000);

  it('doctor --json that fails still ends with its report, not an error line', async () => {
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'cc2d.mjs'), 'doctor', '--json', '--timeout', '2'], {
      cwd: PROJECT_ROOT, env: { ...process.env, CC2D_TEMPORAL_ADDRESS: '127.0.0.1:1' }, stdio: ['ignore', 'pipe', 'ignore'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(1);
    const last = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(last).not.toHaveProperty('error');
    expect(last).toMatchObject({ ok: false, temporal: expect.stringMatching(/^fail/) });
  }, 60_000);
});

describe('activity roles', () => {
  it('routes the GPU activities to the GPU queue and everything else to the CPU queue', () => {
    for (const name of GPU_ACTIVITIES) expect(activityRole(name)).toBe('gpu');
    for (const name of ['ingestDataset', 'planRun', 'evaluateModel', 'writeReport', 'cleanupRun', 'publishPredictions', '?']) expect(activityRole(name)).toBe('cpu');
  });
});

describe('cc2d as the first command of a pipe', () => {
  it('exits 0 without a stack trace when the reader has closed its end (EPIPE)', async () => {
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'cc2d.mjs'), '--help'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    // Closed before the CLI has started (tsx takes far longer than this), so its help text is
    // written into a pipe nobody reads: the write fails with EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(0);
  }, 30_000);
});
