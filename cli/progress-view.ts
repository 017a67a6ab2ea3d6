/**
 * Live progress of a run on the terminal: a cli-progress bar on stderr (stdout stays clean for
 * --json), fed by the workflow's `progress` query; plain stage lines when stderr is not a TTY.
 */
import cliProgress from 'cli-progress';
import type { PipelineProgress } from '../contracts/types';

export class ProgressView {
  private bar?: cliProgress.SingleBar;
  private lastLine = '';

  constructor(private readonly enabled: boolean) {
    if (enabled && process.stderr.isTTY) {
      this.bar = new cliProgress.SingleBar(
        {
          format: ' {stage} |{bar}| {percentage}% | {detail}',
          hideCursor: true,
          clearOnComplete: false,
          stream: process.stderr,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(1000, 0, { stage: 'queued'.padEnd(13), detail: '' });
    }
  }

  update(p: PipelineProgress, note?: string): void {
    if (!this.enabled) return;
    const detail = [
      p.totalSteps > 0 ? `step ${p.step}/${p.totalSteps}` : '',
      p.loss !== undefined && p.loss !== null ? `loss ${p.loss.toFixed(4)}` : '',
      p.shardCount !== undefined && p.stage === 'pseudo-labels' ? `shards ${p.shardsDone ?? 0}/${p.shardCount}` : '',
      note ?? '',
    ].filter(Boolean).join(' | ');
    if (this.bar) {
      this.bar.update(Math.round(p.fraction * 1000), { stage: p.stage.padEnd(13), detail });
    } else {
      const line = `[cc2d] ${p.runId}: ${p.stage}${note ? ` (${note})` : ''}`;
      if (line !== this.lastLine) process.stderr.write(`${line}\n`);
      this.lastLine = line;
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
