// The import rules in eslint.config.js, each shown firing on a forbidden import and staying quiet on an
// allowed one. Sources are linted as virtual files, so only the layering rule runs and without type
// information (the project service knows only files on disk).
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RULE = '@typescript-eslint/no-restricted-imports';

const eslint = new ESLint({
  cwd: ROOT,
  overrideConfig: { files: ['**/*.ts'], languageOptions: { parserOptions: { projectService: false } } },
  ruleFilter: ({ ruleId }) => ruleId === RULE,
});

/** The layering messages `code` gets as file `filePath` (relative to the repository root). */
async function layeringMessages(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  expect(result?.messages.filter((m) => m.ruleId !== RULE)).toEqual([]);
  return (result?.messages ?? []).map((m) => m.message);
}

interface LayerCase {
  layer: string;
  file: string;
  /** A phrase of the rule's message. */
  message: string;
  forbidden: string[];
  allowed: string[];
}

const CASES: LayerCase[] = [
  {
    layer: 'ml/',
    file: 'ml/ssl/x.ts',
    message: 'ml/ is the pure ML core',
    forbidden: [
      "import { Client } from '@temporalio/client';",
      "import { S3Client } from '@aws-sdk/client-s3';",
      "import { readFile } from 'node:fs/promises';",
      "import { join } from 'path';",
      "import sharp from 'sharp';",
      "import type { ObjectStore } from '../../infra/storage/object-store';",
      "import { trainSelfSupervised } from '../../activities/train-self-supervised';",
      "import { cc2dPipeline } from '../../workflows';",
      "import { main } from '../../cli/main';",
      "import { runWorker } from '../../workers/cpu-worker';",
    ],
    allowed: [
      "import * as tf from '@tensorflow/tfjs';",
      "import { z } from 'zod';",
      "import { mulberry32 } from '../core/prng';",
      "import type { Landmarks } from '../types';",
    ],
  },
  {
    layer: 'contracts/',
    file: 'contracts/x.ts',
    message: 'contracts/ holds wire types and zod schemas',
    forbidden: [
      "import { readFile } from 'node:fs';",
      "import { Client } from '@temporalio/client';",
      "import * as tf from '@tensorflow/tfjs';",
      "import { PROFILES } from '../ml/profiles';",
      "import type { ObjectStore } from '../infra/storage/object-store';",
      "import type { PipelineResult } from '../activities/types';",
      "import { RunConfigSchema } from '../infra/config/run-config';",
    ],
    allowed: [
      "import type { RunConfig } from '../infra/config/run-config';",
      "import { z } from 'zod';",
      "import { z } from 'zod/v4';",
      "import { runConfigSchema } from './run-config';",
      "import type { Landmarks } from '../ml/types';",
    ],
  },
  {
    layer: 'contracts/ (nested)',
    file: 'contracts/wire/x.ts',
    message: 'contracts/ holds wire types and zod schemas',
    forbidden: ["import type { RunKeys } from '../../activities/run-keys';"],
    allowed: ["import { runConfigSchema } from '../run-config';", "import type { Landmarks } from '../../ml/types';"],
  },
  {
    layer: 'infra/',
    file: 'infra/dashboard/x.ts',
    message: 'infra/ sits below activities/, workflows/ and cli/',
    forbidden: [
      "import type { PipelineResult } from '../../activities/types';",
      "import { progressQuery } from '../../workflows/definitions';",
      "import { main } from '../../cli/main';",
    ],
    allowed: [
      "import { Client } from '@temporalio/client';",
      "import { readFile } from 'node:fs/promises';",
      "import { runKey } from '../storage/keys';",
      "import type { Landmarks } from '../../ml/types';",
    ],
  },
  {
    layer: 'workflows/',
    file: 'workflows/x.ts',
    message: 'Workflow code runs in the deterministic Temporal sandbox',
    forbidden: [
      "import { readFile } from 'node:fs';",
      "import { randomUUID } from 'crypto';",
      "import * as tf from '@tensorflow/tfjs';",
      "import { Context } from '@temporalio/activity';",
      "import { z } from 'zod';",
      "import { keys } from '../activities/run-keys';",
      "import { runConfigSchema } from '../contracts/run-config';",
    ],
    allowed: [
      "import { proxyActivities } from '@temporalio/workflow';",
      "import { CPU_TASK_QUEUE } from '../infra/config/names';",
      "import { NON_RETRYABLE_ERROR_TYPES } from '../infra/errors';",
      "import type { PipelineResult } from '../activities/types';",
      "import type { RunConfig } from '../contracts/run-config';",
      "import type { Readable } from 'node:stream';",
    ],
  },
];

describe('layering lint rules', () => {
  for (const { layer, file, message, forbidden, allowed } of CASES) {
    it.each(forbidden)(`${layer} reports %s`, async (code) => {
      const messages = await layeringMessages(file, code);
      expect(messages).toHaveLength(1);
      expect(messages[0]).toContain(message);
    });

    it.each(allowed)(`${layer} allows %s`, async (code) => {
      expect(await layeringMessages(file, code)).toEqual([]);
    });
  }
});
