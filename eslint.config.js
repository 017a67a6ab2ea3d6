// ESLint flat config. Type-aware rules everywhere, plus import rules that keep the layers apart:
// - ml/** is the pure ML core (tensors in, numbers out): no Temporal, S3, sharp, Node built-ins, nor code
//   from the layers above it, so it runs and tests wherever TF.js does.
// - contracts/** (wire types and zod schemas) imports only zod, other contracts/ modules and, by type, ml/.
// - infra/** sits below activities/, workflows/ and cli/ and never imports them.
// - workflows/** runs in Temporal's deterministic sandbox, so it imports no Node, tfjs, sharp, AWS or
//   worker-side code by value; type-only imports (`import type`) stay allowed.
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

/** A relative import that climbs to the repository root into one of `folders`, from a file at any depth. */
const reaching = (...folders) => `^(\\.\\./)+(${folders.join('|')})(/|$)`;

/** Node's built-ins by bare name (`fs`); the `node:` prefix is matched by a pattern next to it. */
const nodeBuiltinPaths = (message, allowTypeImports) =>
  builtinModules.map((name) => ({ name, message, allowTypeImports }));

const ML_MESSAGE =
  'ml/ is the pure ML core: no Temporal, S3, sharp or Node built-ins, and no code from infra/, activities/, ' +
  'workflows/, cli/ or workers/. Let the caller pass data in.';

const CONTRACTS_MESSAGE =
  'contracts/ holds wire types and zod schemas: it may import only zod, other contracts/ modules, and ml/ and infra/config/run-config by `import type`.';

const INFRA_MESSAGE =
  'infra/ sits below activities/, workflows/ and cli/ and may not import them; move what both need down a layer.';

const WORKFLOW_SANDBOX_MESSAGE =
  'Workflow code runs in the deterministic Temporal sandbox: no Node, tfjs, sharp, AWS, zod or worker/activity code. ' +
  'Use `import type` for types, and call activities through proxyActivities.';

export default tseslint.config(
  {
    // Hidden files are local scratch (e.g. `.scratch-*.ts`), outside the TS project.
    ignores: ['node_modules/**', '.tools/**', '.data/**', 'dist/**', 'coverage/**', 'runs-out/**', '**/*.js', '**/*.mjs', '**/*.cjs', '**/.*'],
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
    },
  },
  {
    files: ['ml/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltinPaths(ML_MESSAGE, false),
          patterns: [
            { group: ['node:*', '@temporalio/*', '@aws-sdk/*', 'sharp'], message: ML_MESSAGE },
            { regex: reaching('infra', 'activities', 'workflows', 'cli', 'workers'), message: ML_MESSAGE },
          ],
        },
      ],
    },
  },
  {
    files: ['contracts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            // Any package but zod; this covers Node built-ins too.
            { regex: '^(?!zod(/|$))[^.]', message: CONTRACTS_MESSAGE },
            { regex: '^(\\.\\./)+infra/(?!config/run-config$)', message: CONTRACTS_MESSAGE },
            { regex: reaching('activities', 'workflows', 'workers', 'cli', 'bench', 'test'), message: CONTRACTS_MESSAGE },
            // The run config's zod schema lives with its loader; its types are part of the wire contract.
            { regex: reaching('ml', 'infra/config/run-config'), message: CONTRACTS_MESSAGE, allowTypeImports: true },
          ],
        },
      ],
    },
  },
  {
    files: ['infra/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ regex: reaching('activities', 'workflows', 'cli'), message: INFRA_MESSAGE }] },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltinPaths(WORKFLOW_SANDBOX_MESSAGE, true),
          patterns: [
            { group: ['node:*'], message: WORKFLOW_SANDBOX_MESSAGE, allowTypeImports: true },
            {
              group: ['@tensorflow/*', 'sharp', '@aws-sdk/*', 'zod', 'yaml', 'commander', 'cli-progress', '@temporalio/activity', '@temporalio/worker', '@temporalio/client', '@temporalio/testing'],
              message: WORKFLOW_SANDBOX_MESSAGE,
              allowTypeImports: true,
            },
            {
              // Only the dependency-free wire-name and error modules may be imported by value from outside workflows/.
              regex: '^\\.\\./(?!infra/config/names$|infra/errors$)',
              message: WORKFLOW_SANDBOX_MESSAGE,
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
