import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/coverage/**', '.demo/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Use named exports (house style).' },
      ],
    },
  },
  {
    // A promise nobody awaits or catches becomes an unhandled rejection, which ends a Node process: the daemon must
    // never die of one (a full state disk once did). Type-aware, so only for TypeScript sources and tests.
    files: [
      'packages/*/{src,test,bench,examples,scripts}/**/*.ts',
      'apps/*/{src,test,bench,demo,scripts}/**/*.ts',
    ],
    languageOptions: {
      parserOptions: {
        project: ['packages/*/tsconfig.test.json', 'apps/*/tsconfig.test.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: { '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: false }] },
  },
  {
    files: ['**/*.config.ts', '**/*.config.js', 'vitest.workspace.ts', 'eslint.config.js'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
