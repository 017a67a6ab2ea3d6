/**
 * SSL step with and without the RFB heads, interleaved in one process (not a test; run by hand):
 *   npx tsx bench/profiling/ab-rfb.ts [profile=cpu] [rounds=8]
 * The PyTorch yardstick's SSL net has no RFB blocks; this shows what they cost here, so the
 * `--vs-torch` ratio can be read net for net. Prints wall and process-CPU medians per side.
 */
import { initBackend } from '../../infra/tf-backend';
import { resolveProfile } from '../../ml/profiles';
import { createSslTrainer } from '../../ml/ssl';
import { syntheticImages } from '../synthetic';

await initBackend();
const name = process.argv[2] ?? 'cpu';
const rounds = Number(process.argv[3] ?? 8);
const base = resolveProfile(name);
const images = syntheticImages(6, base.inputSize, 2022);
const sides = {
  rfb: await createSslTrainer({ profile: resolveProfile(name, { ssl: { useRfb: true } }), images, seed: 2022 }),
  noRfb: await createSslTrainer({ profile: resolveProfile(name, { ssl: { useRfb: false } }), images, seed: 2022 }),
};
const wall: Record<string, number[]> = { rfb: [], noRfb: [] };
const cpu: Record<string, number[]> = { rfb: [], noRfb: [] };
for (let r = 0; r < rounds + 1; r++) {
  const order = r % 2 === 0 ? (['rfb', 'noRfb'] as const) : (['noRfb', 'rfb'] as const);
  for (const side of order) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await sides[side].train(1);
    const c = process.cpuUsage(c0);
    if (r > 0) {
      wall[side]!.push(performance.now() - t0);
      cpu[side]!.push((c.user + c.system) / 1000);
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const os = await import('node:os');
console.log(JSON.stringify({
  profile: name, rounds, cpuModel: os.cpus()[0]?.model, loadavg: os.loadavg().map((v) => v.toFixed(2)).join(' '),
  rfb: { wallMs: Math.round(median(wall.rfb!)), cpuMs: Math.round(median(cpu.rfb!)) },
  noRfb: { wallMs: Math.round(median(wall.noRfb!)), cpuMs: Math.round(median(cpu.noRfb!)) },
}));
for (const t of Object.values(sides)) t.dispose();
