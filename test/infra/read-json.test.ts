import { describe, expect, it } from 'vitest';
import { CheckpointManifestSchema, MetricsDocumentSchema, PseudoLabelFileSchema } from '../../contracts/documents';
import { sha256Hex } from '../../infra/storage/hash';
import { NotFoundError } from '../../infra/storage/object-store';
import { InvalidDocumentError, readJson } from '../../infra/storage/read-json';
import { RecordingMemoryStore } from '../dataset/support/memory-store';

const enc = new TextEncoder();

describe('readJson', () => {
  it('returns the validated document, verifying the sha256 of a reference', async () => {
    const store = new RecordingMemoryStore();
    const ref = await store.put('runs/r/pseudo-labels/a.json', enc.encode(JSON.stringify({ inputSize: 64, templateId: '125', labels: { '001': [[1, 2]] } })));
    expect(await readJson(store, ref, PseudoLabelFileSchema)).toEqual({ inputSize: 64, templateId: '125', labels: { '001': [[1, 2]] } });
    await expect(readJson(store, { key: ref.key, sha256: sha256Hex('other') }, PseudoLabelFileSchema)).rejects.toThrow(/sha256|integrity|mismatch/i);
  });

  it('names the key and the field of a document that does not fit, and passes NotFoundError through', async () => {
    const store = new RecordingMemoryStore();
    await store.put('k/bad.json', enc.encode(JSON.stringify({ inputSize: 'x', templateId: '125', labels: {} })));
    await store.put('k/notjson.json', enc.encode('{'));
    await expect(readJson(store, 'k/bad.json', PseudoLabelFileSchema)).rejects.toThrow(InvalidDocumentError);
    await expect(readJson(store, 'k/bad.json', PseudoLabelFileSchema)).rejects.toThrow(/k\/bad\.json: .*inputSize/);
    await expect(readJson(store, 'k/notjson.json', PseudoLabelFileSchema)).rejects.toThrow(/k\/notjson\.json: not valid JSON/);
    await expect(readJson(store, 'k/none.json', PseudoLabelFileSchema)).rejects.toThrow(NotFoundError);
  });
});

describe('stored document schemas', () => {
  it('keep a metrics document byte for byte (the report embeds it), NaN stored as null included', () => {
    const doc = {
      format: 'cc2d-metrics-v1', gridSize: 64, pixelSpacingMm: 0.1, templateId: '125', stage: 'tpl',
      protocols: { A: { test1: { coveredIds: ['151'], missingIds: [], overall: { n: 2, mreMm: 1.5 }, perLandmark: [] } } },
      errors: [{ protocol: 'A', sets: { test1: [{ id: '151', errorsMm: [1, 2] }] } }],
      sslStage: {
        stage: 'ssl', method: 'm', weights: { key: 'w', sha256: 'a'.repeat(64) }, templateId: '125', headlineSet: 'test1',
        summary: { A: { test1: { images: 1, mreMm: null, sdMm: 0, sdr: { '2': 50 } } } }, protocols: { A: {} }, errors: [],
      },
      pseudoLabels: { protocol: 'A', overall: { n: 1 }, perLandmark: [], images: [{ id: '002', errorsMm: [3] }] },
      future: { kept: true },
    };
    const text = JSON.stringify(doc);
    expect(JSON.stringify(MetricsDocumentSchema.parse(JSON.parse(text)))).toBe(text);
  });

  it('read a checkpoint manifest whose loss was not finite', () => {
    const m = CheckpointManifestSchema.parse({
      format: 'cc2d-checkpoint-manifest-v1', kind: 'ssl', runId: 'r', fingerprint: 'f', step: 3, totalSteps: 9, attempt: 1, loss: null,
      blob: { key: 'k', sha256: 'b'.repeat(64), size: 1 }, createdAt: '2024-01-01T00:00:00.000Z',
    });
    expect(m.loss).toBeNaN();
  });
});
