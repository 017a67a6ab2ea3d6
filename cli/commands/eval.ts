/**
 * `cc2d eval <id>`: a completed run's evaluation (final model and SSL stage, both protocols,
 * each test split, pseudo-label quality); `--compute-ssl` computes the SSL stage of a run
 * finished before it was evaluated, in this process (cli/ssl-stage.ts).
 */
import type { Command } from 'commander';
import type { PipelineResult } from '../../contracts/types';
import { loadStackSettings } from '../../infra/config/stack';
import { UserError } from '../../infra/errors';
import { PAPER_REFERENCE } from '../../infra/report/reference';
import { sdrByRadius } from '../../infra/report/stats';
import { createS3Store } from '../../infra/storage/s3-store';
import { withClient } from '../../infra/temporal/connect';
import { initBackend } from '../../infra/tf-backend';
import { backendRefOf } from '../../infra/backend-ref';
import { codeVersion } from '../../workers/activity-deps';
import { formatResult, formatStageMetrics } from '../format';
import { describeRun } from '../pipeline-client';
import { computeRunSslStage, runSslSource, storedSslStages, type StoredSslStage } from '../ssl-stage';

export function register(program: Command): void {
  program
    .command('eval <runId>')
    .description("Show a completed run's evaluation: final model and SSL stage, both protocols, each test split, pseudo-label quality")
    .option('--json', 'the metrics as one JSON line')
    .option('--compute-ssl', "compute the SSL stage (cascade matching only) of a finished run from its stored SSL weights and dataset version; prints it and stores runs/<run>/eval/ssl-metrics-<sha256>.json")
    .action(async (runId: string, opts: { json?: boolean; computeSsl?: boolean }) => {
      if (opts.computeSsl) {
        await computeSslCommand(runId, opts.json ?? false);
        return;
      }
      const settings = loadStackSettings();
      await withClient(settings, async (client) => {
        const desc = await describeRun(client, runId);
        const handle = client.workflow.getHandle(runId);
        if (desc.status.name !== 'COMPLETED') throw new UserError(`run ${runId} is ${desc.status.name}; eval needs a completed run`);
        const r = (await handle.result()) as PipelineResult;
        // Runs finished before the SSL stage was evaluated: show a stored `--compute-ssl` result, if any.
        let stored: { key: string; doc: StoredSslStage } | undefined;
        if (!r.sslMetrics) {
          const store = createS3Store(settings);
          try {
            stored = (await storedSslStages(store, runId)).at(-1);
          } finally {
            store.destroy();
          }
        }
        const sslMetrics = r.sslMetrics ?? stored?.doc.summary;
        if (opts.json) {
          console.log(JSON.stringify({
            runId, mreMm: r.mreMm, headlineSet: r.headlineSet, metrics: r.metrics, sslMetrics: sslMetrics ?? null,
            sslMetricsSource: r.sslMetrics ? 'run' : stored ? stored.key : null,
            pseudoLabelMetrics: r.pseudoLabelMetrics, metricsKey: r.artifacts.metrics.key, reportKey: r.reportKey,
          }));
          return;
        }
        console.log(formatResult({ ...r, ...(sslMetrics ? { sslMetrics } : {}) }));
        if (stored) console.log(`  SSL stage computed after the run: ${stored.key} (${stored.doc.backend.backend}, ${stored.doc.codeVersion})`);
      });
    });
}

/** `cc2d eval <id> --compute-ssl`: the SSL stage of a finished run, in this process (cli/ssl-stage.ts). */
async function computeSslCommand(runId: string, json: boolean): Promise<void> {
  const settings = loadStackSettings();
  const store = createS3Store(settings);
  try {
    const source = await runSslSource(store, runId);
    const info = await initBackend();
    const backend = backendRefOf(info);
    const total = Object.values(source.testSplits).flat().length;
    process.stderr.write(`[cc2d] SSL stage of ${runId}: matching ${total} test images against template ${source.templateId} (profile ${source.profile.name}, ${source.profile.inputSize} px, ${backend.backend}, weights ${source.sslWeights.key})\n`);
    const tty = process.stderr.isTTY === true;
    const { doc, ref } = await computeRunSslStage(store, runId, {
      backend,
      codeVersion: await codeVersion(settings.projectRoot),
      onProgress: (done, n) => {
        if (tty) process.stderr.write(`\r[cc2d] matched ${done}/${n}`);
        else if (done === n || done % 25 === 0) process.stderr.write(`[cc2d] matched ${done}/${n}\n`);
      },
    }, source);
    if (tty) process.stderr.write('\n');
    const headline = doc.summary.A?.[doc.headlineSet];
    if (json) {
      console.log(JSON.stringify({
        runId, stage: 'ssl', headlineSet: doc.headlineSet, mreMm: headline?.mreMm ?? null, sslMetrics: doc.summary,
        key: ref.key, sha256: ref.sha256, datasetVersion: doc.datasetVersion, templateId: doc.templateId, weights: doc.weights,
        backend: doc.backend, codeVersion: doc.codeVersion,
      }));
      return;
    }
    const paper = PAPER_REFERENCE.find((p) => p.stage === 'ssl')!;
    console.log([
      `run ${runId}: SSL stage (cascade matching only, CC2D-SSL); template ${doc.templateId}, dataset ${doc.datasetVersion}`,
      ...formatStageMetrics('SSL stage', doc.summary),
      `  paper       CC2D-SSL, ${paper.testSet}, protocol A: MRE ${paper.mreMm.toFixed(2)} mm  ${sdrByRadius(paper.sdrPercent).map(([r, v]) => `SDR<${r}mm ${v.toFixed(2)}%`).join('  ')}`,
      `  stored      ${ref.key}`,
    ].join('\n'));
  } finally {
    store.destroy();
  }
}
