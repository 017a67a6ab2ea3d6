/**
 * `npm run bench [-- --quick] [-- --json] [-- --profiles cpu,paper] [-- --ssl-batch 2 --tpl-batch-pseudo 1] [-- --steps 20] [-- --vs-torch]`
 * Speed and memory of the ML core on the active backend, at each profile's shapes:
 * median SSL and TPL training-step time and achieved GFLOP/s, cascade matching time for 150
 * images, TPL inference per image, peak RSS. Not a test: numbers are measured, never asserted.
 * --quick: cpu profile only, few steps, matching on 16 images (extrapolated to 150); < 1 min.
 * --ssl-batch / --tpl-batch-pseudo override the batch of the `paper` profile only: at its batch
 * of 8 the SSL step needs more than 24 GiB (OOM-killed on the project machine), so paper shapes
 * are measured at a smaller batch there; the table and JSON say which batch was used.
 * --steps: timed SSL and TPL steps per profile (default 8, paper 2, quick 3); bench/gpu-check.sh uses 20.
 * The JSON records the devices TensorFlow computed on (infra/tf-backend.ts).
 * --vs-torch: afterwards runs the PyTorch yardstick (torch_ref's bench.py, see ./vs-torch.ts) on
 * the same nets and batches and prints the ratio per stage; skipped with a message without torch.
 * It also times the SSL step without the RFB blocks (torch_ref's net has none) for a net-for-net row.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { Command } from 'commander';
import { initBackend } from '../infra/tf-backend';
import { Prng } from '../ml/core/prng';
import { resolveProfile, type Profile } from '../ml/profiles';
import { createSslTrainer, matchTemplate } from '../ml/ssl';
import { createTplPredictor, createTplTrainer } from '../ml/tpl';
import { countFlops } from './flops';
import { compareWithTorch } from './vs-torch';
import { randomLandmarks, syntheticImages } from './synthetic';

const LANDMARKS = 19;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** The CPU features TensorFlow looks for to switch its oneDNN kernels on by itself. */
const ONEDNN_DEFAULT_FLAGS = ['avx512_vnni', 'avx512_bf16', 'avx_vnni', 'amx_tile', 'amx_bf16', 'amx_int8'];

/**
 * `lscpu`'s family and model, the widest x86 vector ISA and the flags above (Linux; empty
 * elsewhere): "AMD EPYC" alone names machines up to 3× apart.
 */
function cpuIdentity(): { cpuFamily?: number; cpuModelNumber?: number; vectorIsa?: string; oneDnnDefaultFlags?: string[] } {
  let text: string;
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return {};
  }
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim();
  const flagLine = field('flags');
  const flags = new Set((flagLine ?? '').split(/\s+/));
  const x86 = flagLine === undefined ? {} : {
    vectorIsa: flags.has('avx512f') ? 'avx512' : flags.has('avx2') ? 'avx2' : flags.has('avx') ? 'avx' : 'sse',
    oneDnnDefaultFlags: ONEDNN_DEFAULT_FLAGS.filter((f) => flags.has(f)),
  };
  const family = Number(field('cpu family'));
  const model = Number(field('model'));
  return { ...(Number.isFinite(family) ? { cpuFamily: family } : {}), ...(Number.isFinite(model) ? { cpuModelNumber: model } : {}), ...x86 };
}

let peakRss = 0;
// The kernel's high-water mark (ru_maxrss, KiB) sees peaks inside native ops too. It never
// goes down, so profiles run smallest first and each reports the mark after it finished.
const sampleRss = () => { peakRss = Math.max(peakRss, process.resourceUsage().maxRSS * 1024); };

interface StepStats { medianStepS: number; gflopPerStep: number; gflopPerS: number; steps: number }

async function timeSteps(train: () => Promise<unknown>, steps: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await train();
    times.push((performance.now() - t0) / 1000);
    sampleRss();
  }
  return times;
}

/** One training loop's step: a burn-in step (lazy allocations, kernel selection), FLOPs of one step, then `steps` timed. */
async function measureSteps(train: () => Promise<unknown>, steps: number): Promise<StepStats> {
  await train();
  const flops = await countFlops(train);
  const medianStepS = median(await timeSteps(train, steps));
  return { medianStepS, gflopPerStep: flops.flops / 1e9, gflopPerS: flops.flops / 1e9 / medianStepS, steps };
}

/**
 * The SSL step of `profile` with its RFB blocks left out: torch_ref's SSL net has none, so
 * `--vs-torch` compares this step with PyTorch's net for net.
 */
async function sslStepWithoutRfb(profile: Profile, images: Parameters<typeof createSslTrainer>[0]['images'], steps: number): Promise<StepStats> {
  const ssl = await createSslTrainer({ profile: { ...profile, ssl: { ...profile.ssl, useRfb: false } }, images, seed: 1 });
  try {
    return await measureSteps(() => ssl.train(1), steps);
  } finally {
    ssl.dispose();
  }
}

async function benchProfile(profile: Profile, quick: boolean, timedSteps?: number, netForNet = false) {
  const prng = Prng.fromSeed(2022);
  const S = profile.inputSize;
  const nImages = 8;
  const images = syntheticImages(nImages, S, prng);
  const template = images[0]!;
  const templateLandmarks = randomLandmarks(LANDMARKS, S, prng);
  const steps = timedSteps ?? (quick ? 3 : profile.name === 'paper' ? 2 : 8); // paper steps take about a minute each on a 2-core CPU

  // SSL
  const ssl = await createSslTrainer({ profile, images, seed: 1 });
  const sslStats = await measureSteps(() => ssl.train(1), steps);
  const weights = await ssl.exportWeights();
  ssl.dispose();
  const withoutRfb = netForNet && profile.ssl.useRfb ? await sslStepWithoutRfb(profile, images, steps) : undefined;

  // Matching: measured on a subset and scaled to 150 images. As in pseudo-labelling, the images
  // are also the prototypes' pool (profile.ssl.prototypeRounds passes over it come first), so
  // the time grows linearly with the images and scales.
  const matchN = quick ? 8 : profile.name === 'paper' ? 8 : 32;
  const queries = Array.from({ length: matchN }, (_, i) => images[i % nImages]!);
  await matchTemplate({ profile, weights, template, templateLandmarks, images: queries.slice(0, 2), pool: queries.slice(0, 2) });
  const m0 = performance.now();
  await matchTemplate({ profile, weights, template, templateLandmarks, images: queries, pool: queries });
  const matchPerImageS = (performance.now() - m0) / 1000 / matchN;
  sampleRss();

  // TPL
  const pseudo = images.map(() => randomLandmarks(LANDMARKS, S, prng));
  const tpl = await createTplTrainer({ profile, images, pseudoLabels: pseudo, template, templateLandmarks, seed: 1 });
  const tplStats = await measureSteps(() => tpl.train(1), steps);
  const tplWeights = await tpl.exportWeights();
  tpl.dispose();

  // The network is built from the weights once per predictor (evaluation predicts all images
  // with one): timed apart, so the per-image time is the forward, top-K and voting only.
  const l0 = performance.now();
  const predictor = createTplPredictor({ profile, weights: tplWeights, landmarkCount: LANDMARKS });
  const inferLoadS = (performance.now() - l0) / 1000;
  let inferPerImageS: number;
  try {
    await predictor.predict(images.slice(0, 1));
    const p0 = performance.now();
    await predictor.predict(images);
    inferPerImageS = (performance.now() - p0) / 1000 / images.length;
  } finally {
    predictor.dispose();
  }
  sampleRss();

  return {
    profile: profile.name,
    inputSize: S,
    ssl: { ...sslStats, width: profile.ssl.width, batch: profile.ssl.batchSize, matchPerImageS, match150S: matchPerImageS * 150, ...(withoutRfb ? { withoutRfb } : {}) },
    tpl: { ...tplStats, width: profile.tpl.width, batch: profile.tpl.batchPseudo + 1, inferPerImageS, inferLoadS },
    peakRssMiB: Math.round(peakRss / 2 ** 20),
    estimatedFullRunS: sslStats.medianStepS * profile.ssl.steps + matchPerImageS * 150 + tplStats.medianStepS * profile.tpl.steps + inferLoadS + inferPerImageS * 150,
  };
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`bench: expected a positive integer, got "${v}"`);
  return n;
}

async function main() {
  const program = new Command('bench')
    .option('--quick', 'cpu profile only, a few steps (< 1 min)')
    .option('--json', 'print one JSON object as the last line')
    .option('--profiles <names>', 'comma-separated profiles (paper: its SSL step at batch 8 exhausted 24 GiB here and was OOM-killed)', 'cpu')
    .option('--ssl-batch <n>', 'SSL batch of the paper profile (default: the profile\'s 8)', positiveInt)
    .option('--vs-torch', 'also run the PyTorch reference bench (CC2D_TORCH_REF or ../shared/tools/torch_ref) and print the ratios')
    .option('--tpl-batch-pseudo <n>', 'pseudo-labelled images per TPL batch of the paper profile (default: the profile\'s 3; + the template)', positiveInt)
    .option('--steps <n>', 'timed SSL and TPL steps per profile (default: 8; paper 2; --quick 3)', positiveInt)
    .parse(process.argv);
  const opts = program.opts<{ quick?: boolean; json?: boolean; vsTorch?: boolean; profiles: string; sslBatch?: number; tplBatchPseudo?: number; steps?: number }>();
  const backend = await initBackend();
  const names = opts.quick ? ['cpu'] : opts.profiles.split(',');
  const results = [];
  for (const name of names) {
    const overrides = name === 'paper'
      ? { ssl: { ...(opts.sslBatch ? { batchSize: opts.sslBatch } : {}) }, tpl: { ...(opts.tplBatchPseudo ? { batchPseudo: opts.tplBatchPseudo } : {}) } }
      : {};
    results.push(await benchProfile(resolveProfile(name, overrides), !!opts.quick, opts.steps, !!opts.vsTorch));
  }
  sampleRss();
  const machine = {
    cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', ...cpuIdentity(), memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version,
    // Other processes share the cores: every number is only as good as the load it was taken at.
    loadavg: os.loadavg().map((v) => Number(v.toFixed(2))),
  };
  const rows = results.map((r) => ({
    profile: r.profile,
    'input': r.inputSize,
    'SSL batch': r.ssl.batch,
    'SSL s/step': r.ssl.medianStepS.toFixed(3),
    'SSL GFLOP/step': r.ssl.gflopPerStep.toFixed(1),
    'SSL GFLOP/s': r.ssl.gflopPerS.toFixed(1),
    'match 150 img s': r.ssl.match150S.toFixed(1),
    'TPL batch': `${r.tpl.batch - 1}+1`,
    'TPL s/step': r.tpl.medianStepS.toFixed(3),
    'TPL GFLOP/step': r.tpl.gflopPerStep.toFixed(1),
    'TPL GFLOP/s': r.tpl.gflopPerS.toFixed(1),
    'TPL infer ms/img': (r.tpl.inferPerImageS * 1000).toFixed(1),
    'TPL net load ms': (r.tpl.inferLoadS * 1000).toFixed(0),
    'peak RSS MiB': r.peakRssMiB,
    'est. full run h': (r.estimatedFullRunS / 3600).toFixed(2),
  }));
  console.log(`backend ${backend.backend} (TF ${backend.tfVersion}${backend.oneDnnOpts !== undefined ? `, TF_ENABLE_ONEDNN_OPTS=${backend.oneDnnOpts}` : ''}) on ${backend.devices.join(', ')}; ${machine.cpus}× ${machine.cpuModel} (family ${machine.cpuFamily ?? '?'} model ${machine.cpuModelNumber ?? '?'}, ${machine.vectorIsa ?? '?'}), ${machine.memGiB} GiB, Node ${machine.node}, load ${machine.loadavg.join(' ')}`);
  console.table(rows);
  const vsTorch = opts.vsTorch ? compareWithTorch(results) : undefined;
  const json = {
    backend: backend.backend, tfVersion: backend.tfVersion, devices: backend.devices, machine,
    ...(backend.oneDnnOpts !== undefined ? { oneDnnOpts: backend.oneDnnOpts } : {}),
    peakRssMiB: Object.fromEntries(results.map((r) => [r.profile, r.peakRssMiB])),
    ssl: Object.fromEntries(results.map((r) => [r.profile, r.ssl])),
    tpl: Object.fromEntries(results.map((r) => [r.profile, r.tpl])),
    estimatedFullRunS: Object.fromEntries(results.map((r) => [r.profile, r.estimatedFullRunS])),
    ...(vsTorch ? { vsTorch } : {}),
  };
  if (opts.json) console.log(JSON.stringify(json));
}

await main();
