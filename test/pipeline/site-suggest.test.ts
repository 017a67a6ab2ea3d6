/**
 * `cc2d site suggest-template` through the real CLI on the real Temporal and S3 servers, on a
 * tiny synthetic site that has labelled nothing yet: `site add` without --template records the
 * site, `run --site` refuses it (exit 2, naming suggest-template), and suggest-template trains the
 * smoke profile's SSL stage in its workflow, ranks all images and stores the ranking under the
 * site's keys; once the suggested image is labelled, the site's first run reuses those SSL
 * weights from the stage cache. A site with a template and a published smoke run: the ranking reuses that run's SSL
 * stage from the stage cache, or takes its weights with --run. Skips locally without the stack;
 * fails under CI.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { TemplateRankingSchema } from '../../contracts/documents';
import { readJson } from '../../infra/storage/read-json';
import { cc2dCli } from '../dataset/support/cc2d-cli';
import { requireStack } from '../support/stack';
import { shellArg } from '../../cli/format';

const stack = await requireStack('site-suggest', { s3: true, temporal: true });
const folders: string[] = [];
afterAll(async () => {
  await Promise.all(folders.map((d) => rm(d, { recursive: true, force: true })));
  await stack?.cleanup();
});

const IDS = ['a01', 'a02', 'a03', 'a04', 'a05', 'a06'];
const TIMEOUT_MS = 300_000;
const tag = randomBytes(3).toString('hex');
const QUEUES = ['--gpu-queue', `cc2d-gpu-t-site-suggest-${tag}`, '--cpu-queue', `cc2d-cpu-t-site-suggest-${tag}`];
const cc2d = cc2dCli(stack?.settings.s3.prefix ?? '', TIMEOUT_MS);

function lastJson<T = Record<string, unknown>>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
}

/**
 * images/<id>.png: 80×96 grey, a gradient with a bright disc whose place varies per image (and
 * with `shift`); `landmarks/<template>.csv` when given.
 */
async function makeSite(template?: string, shift = 0): Promise<string> {
  // A space in the folder: the commands the CLI prints must quote it.
  const root = await mkdtemp(path.join(os.tmpdir(), 'cc2d site-suggest-'));
  folders.push(root);
  await mkdir(path.join(root, 'images'), { recursive: true });
  for (const [n, id] of IDS.entries()) {
    const [W, H] = [80, 96];
    const px = Buffer.alloc(W * H);
    const [cx, cy] = [30 + 3 * n + shift, 40 + 2 * n];
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) px[y * W + x] = Math.min(255, Math.round(x + y) + ((x - cx) ** 2 + (y - cy) ** 2 < 100 ? 120 : 0));
    await sharp(px, { raw: { width: W, height: H, channels: 1 } }).png().toFile(path.join(root, 'images', `${id}.png`));
  }
  if (template !== undefined) {
    await mkdir(path.join(root, 'landmarks'));
    await writeFile(path.join(root, 'landmarks', `${template}.csv`), 'name,x,y\nDisc,33,42\nCorner,60,70\n');
  }
  return root;
}

describe.skipIf(!stack)('cc2d site suggest-template through the CLI', () => {
  it('nothing labelled: site add without --template, run refused, ranking from SSL trained in the workflow, stored, reused by the first run after labelling', async () => {
    const site = `suggest-${tag}`;
    const dir = await makeSite();
    const add = await cc2d(['site', 'add', site, '--dir', dir, '--size', '64', '--json']);
    expect(add.code, add.stderr).toBe(0);
    expect(lastJson(add.stdout)).toMatchObject({ site, images: 6, labelled: 0, landmarks: 0, templateId: null });
    const shown = await cc2d(['site', 'show', site]);
    expect(shown.stdout).toContain(`no template yet: cc2d site suggest-template ${site}`);
    expect(shown.stdout).toContain('landmarks: none yet');

    const run = await cc2d(['run', '--site', site, '--profile', 'smoke', '--workers', 'none']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`cc2d site suggest-template ${site}`);
    expect(run.stderr).toContain(`cc2d site add ${site} --dir ${shellArg(dir)} --template ID`);

    const suggest = await cc2d(['site', 'suggest-template', site, '--profile', 'smoke', '--top', '3', '--workers', 'local', '--json', ...QUEUES]);
    expect(suggest.code, suggest.stderr).toBe(0);
    const out = lastJson<{ suggested: string; top: Array<{ id: string; rank: number }>; rankingKey: string; sslFrom: string; images: number; scoreName: string }>(suggest.stdout);
    expect(out).toMatchObject({ images: 6, sslFrom: 'trained', scoreName: 'cycle' });
    expect(IDS).toContain(out.suggested);
    expect(out.top.map((e) => e.rank)).toEqual([1, 2, 3]);
    expect(out.top[0]!.id).toBe(out.suggested);
    // The next command, ready to paste: the site's own folder, not a placeholder.
    expect(suggest.stdout).toContain(`cc2d site add ${site} --dir ${shellArg(dir)} --template ${out.suggested}`);

    const doc = await readJson(stack!.store, out.rankingKey, TemplateRankingSchema);
    expect(out.rankingKey).toMatch(new RegExp(`^sites/${site}/template-ranking/[0-9a-f]{64}\\.json$`));
    expect(doc.entries.map((e) => e.id).sort()).toEqual(IDS);
    expect(doc.entries.map((e) => e.rank)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const e of doc.entries) expect(Object.keys(e.scores).sort()).toEqual(['cycle', 'medoid']);
    // Ranked best first: non-decreasing round-trip distance.
    for (let i = 1; i < doc.entries.length; i++) expect(doc.entries[i]!.score).toBeGreaterThanOrEqual(doc.entries[i - 1]!.score);

    // A run that does not exist is a user error before anything starts.
    const bad = await cc2d(['site', 'suggest-template', site, '--run', `no-such-run-${tag}`, '--workers', 'none']);
    expect(bad.code).toBe(2);

    // Labelling the suggested image makes a new dataset version with the same images: the first
    // run reuses the suggestion's SSL weights (the SSL key reads images, not labels).
    const suggestion = lastJson<{ sslSource: string; sslWeights: string }>(suggest.stdout);
    await mkdir(path.join(dir, 'landmarks'));
    await writeFile(path.join(dir, 'landmarks', `${out.suggested}.csv`), 'name,x,y\nDisc,33,42\nCorner,60,70\n');
    const labelled = await cc2d(['site', 'add', site, '--dir', dir, '--template', out.suggested, '--size', '64', '--json']);
    expect(labelled.code, labelled.stderr).toBe(0);
    const first = await cc2d(['run', '--site', site, '--profile', 'smoke', '--workers', 'local', '--json',
      '--set', `taskQueues.gpu=cc2d-gpu-t-site-suggest-${tag}`, '--set', `taskQueues.cpu=cc2d-cpu-t-site-suggest-${tag}`]);
    expect(first.code, first.stderr).toBe(0);
    const result = lastJson<{ reusedFrom?: Record<string, string>; artifacts: { sslWeights: { key: string } } }>(first.stdout);
    expect(result.reusedFrom).toEqual({ ssl: suggestion.sslSource });
    expect(result.artifacts.sslWeights.key).toBe(suggestion.sslWeights);
  }, 2 * TIMEOUT_MS);

  it('a site with a template and a published run: SSL reused from the stage cache, or the run\'s weights with --run', async () => {
    const site = `suggest-run-${tag}`;
    // Other images than the first test's: the SSL key reads images only, so its suggestion's SSL would be the hit.
    const dir = await makeSite('a01', 1);
    const add = await cc2d(['site', 'add', site, '--dir', dir, '--template', 'a01', '--size', '64', '--json']);
    expect(add.code, add.stderr).toBe(0);
    const runId = `cc2d-${site}`;
    const run = await cc2d(['run', '--site', site, '--profile', 'smoke', '--run-id', runId, '--workers', 'local', '--json',
      '--set', `taskQueues.gpu=cc2d-gpu-t-site-suggest-${tag}`, '--set', `taskQueues.cpu=cc2d-cpu-t-site-suggest-${tag}`]);
    expect(run.code, run.stderr).toBe(0);

    const cached = await cc2d(['site', 'suggest-template', site, '--profile', 'smoke', '--workers', 'local', '--json', ...QUEUES]);
    expect(cached.code, cached.stderr).toBe(0);
    const fromCache = lastJson<{ sslFrom: string; sslSource: string; sslWeights: string; suggested: string }>(cached.stdout);
    expect(fromCache).toMatchObject({ sslFrom: 'cache', sslSource: runId });
    expect(fromCache.sslWeights).toMatch(new RegExp(`^runs/${runId}/ssl/weights-`));

    const given = await cc2d(['site', 'suggest-template', site, '--run', runId, '--workers', 'local', '--json', ...QUEUES]);
    expect(given.code, given.stderr).toBe(0);
    // The same weights and images give the same ranking.
    expect(lastJson(given.stdout)).toMatchObject({ sslFrom: 'run', sslSource: runId, sslWeights: fromCache.sslWeights, suggested: fromCache.suggested });
  }, 2 * TIMEOUT_MS);
});
