// ESLint flat config. Type-aware rules everywhere; workflows/** additionally may not import
// Node, tfjs, sharp, AWS or worker-side code by value (the Temporal sandbox must stay
// deterministic; style.md §5.1). Type-only imports stay allowed (`import type`).
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = [
  'assert', 'buffer', 'child_process', 'cluster', 'crypto', 'dgram', 'dns', 'events', 'fs', 'fs/promises', 'http', 'http2',
  'https', 'module', 'net', 'os', 'path', 'perf_hooks', 'process', 'readline', 'stream', 'timers', 'tls', 'url', 'util',
  'v8', 'vm', 'worker_threads', 'zlib',
];

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
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: NODE_BUILTINS.map((name) => ({ name, message: WORKFLOW_SANDBOX_MESSAGE, allowTypeImports: true })),
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
