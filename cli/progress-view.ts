/**
 * Live progress of a run on the terminal: a cli-progress bar on stderr (stdout stays clean for
 * --json), fed by the workflow's `progress` query; plain stage lines when stderr is not a TTY.
 */
import cliProgress from 'cli-progress';
import type { PipelineProgress } from '../contracts/types';
import { etaText } from '../infra/dashboard/eta';

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
      etaText(p, Date.now()),
      note ?? '',
    ].filter(Boolean).join(' | ');
    if (this.bar) {
      this.bar.update(Math.round(p.fraction * 1000), { stage: p.stage.padEnd(13), detail });
    } else {
      // A line per stage and per tenth of the run: a line per step would flood a log.
      const key = `${p.stage}|${Math.floor(p.fraction * 10)}|${note ?? ''}`;
      const eta = etaText(p, Date.now());
      if (key !== this.lastLine) process.stderr.write(`[cc2d] ${p.runId}: ${p.stage} ${Math.round(p.fraction * 100)}%${eta ? `, ${eta}` : ''}${note ? ` (${note})` : ''}\n`);
      this.lastLine = key;
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
