// typescript-eslint's recommended rules, plus the design's rule: only src/host may import 'vscode'.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['out/', 'dist/', 'node_modules/', '.gpt-lab/', '.artifacts/', 'media/', 'test/fixtures/'] },
  ...tseslint.configs.recommended,
  {
    files: ['src/core/**/*.ts', 'src/worker/**/*.ts', 'src/protocol/**/*.ts', 'webview/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'Only src/host may import vscode.' }] }],
    },
  },
  { files: ['**/*.js', '**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  {
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
);
