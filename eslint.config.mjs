// Lint: typescript-eslint's type-aware recommended rules; formatting is Prettier's job.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Workflow code runs in Temporal's deterministic sandbox and is replayed from history: no Node
// APIs, and no activity code (activities are called through proxyActivities, typed by
// `import type`). The bundler would fail at worker start; this fails at lint time, with a reason.
const workflowSandbox = {
  files: ['src/workflows/**/*.ts'],
  rules: {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        paths: builtinModules
          .filter((name) => !name.startsWith('_'))
          .map((name) => ({
            name,
            message: 'workflow code must stay free of Node APIs (deterministic, replayed): use an activity',
          })),
        patterns: [
          {
            regex: '^node:',
            message: 'workflow code must stay free of Node APIs (deterministic, replayed): use an activity',
          },
          {
            regex: '(^|/)activities(/|$)',
            allowTypeImports: true,
            message:
              'workflow code calls activities through proxyActivities; import their types only (import type)',
          },
          {
            regex: '^@temporalio/(activity|client|worker|testing)$',
            allowTypeImports: true,
            message:
              'workflow code may use @temporalio/workflow and @temporalio/common only (types are fine)',
          },
        ],
      },
    ],
  },
};

export default tseslint.config(
  { ignores: ['dist/', 'src/gen/', 'node_modules/', '.tools/', '.data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test'] },
          ],
        },
      ],
      '@typescript-eslint/require-await': 'off',
    },
  },
  workflowSandbox,
  { files: ['**/*.mjs'], ...tseslint.configs.disableTypeChecked },
);
