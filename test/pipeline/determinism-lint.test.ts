/**
 * Determinism lint: workflow code imports no Node, tfjs, sharp, AWS or worker/activity code by
 * value (eslint.config.js, no-restricted-imports on workflows/**), and the rule really fires.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('workflow sandbox lint', () => {
  it('workflows/** passes the project lint (no-restricted-imports, no-floating-promises, consistent-type-imports)', async () => {
    const eslint = new ESLint({ cwd: ROOT });
    const results = await eslint.lintFiles(['workflows/**/*.ts']);
    const problems = results.flatMap((r) => r.messages.map((m) => `${path.relative(ROOT, r.filePath)}:${m.line} ${m.ruleId}: ${m.message}`));
    expect(results.length).toBeGreaterThanOrEqual(4);
    expect(problems).toEqual([]);
  }, 120_000);

  it('rejects value imports of Node, tfjs, sharp, AWS, activities and ml in workflow files; allows type imports and names', async () => {
    // Type-aware rules need the file on disk; this probe checks the import rule alone.
    const eslint = new ESLint({
      cwd: ROOT,
      overrideConfig: [
        {
          files: ['workflows/**/*.ts'],
          languageOptions: { parserOptions: { projectService: false, project: null } },
          rules: { '@typescript-eslint/no-floating-promises': 'off', '@typescript-eslint/consistent-type-imports': 'off' },
        },
      ],
    });
    const code = [
      "import fs from 'node:fs';",
      "import * as path from 'path';",
      "import * as tf from '@tensorflow/tfjs';",
      "import sharp from 'sharp';",
      "import { S3Client } from '@aws-sdk/client-s3';",
      "import { createActivities } from '../activities';",
      "import { createSslTrainer } from '../ml/ssl';",
      "import { Context } from '@temporalio/activity';",
      "import type { ActivityDeps } from '../activities/deps';",
      "import { SEARCH_ATTRIBUTES } from '../infra/config/names';",
      "import { NON_RETRYABLE_ERROR_TYPES } from '../infra/errors';",
      "import { proxyActivities } from '@temporalio/workflow';",
      'export const x: unknown = [fs, path, tf, sharp, S3Client, createActivities, createSslTrainer, Context, SEARCH_ATTRIBUTES, NON_RETRYABLE_ERROR_TYPES, proxyActivities];',
      'export type Y = ActivityDeps;',
    ].join('\n');
    const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, 'workflows', 'lint-probe.ts') });
    const flagged = result!.messages.filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports').map((m) => m.line);
    expect(flagged).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(result!.messages.filter((m) => m.ruleId !== '@typescript-eslint/no-restricted-imports')).toEqual([]);
  }, 120_000);
});
