// typescript-eslint's recommended rules, plus the design's import direction (../shared/DESIGN.md, "Architecture"):
//   core ← worker ← (protocol) → host → (protocol) → webview;  cli and bench build on core;  only src/host imports
// vscode. Each layer lists the layers it may not import (a relative path climbing into that folder).
import tseslint from 'typescript-eslint';

/** An import that climbs (`../`…) into one of `folders` (names under src/, or top-level: webview, bench). */
const into = (folders, message, extra = {}) => ({
  regex: `^(\\.\\./)+(src/)?(${folders.join('|')})(/|$)`,
  message,
  ...extra,
});
const vscode = { name: 'vscode', message: 'Only src/host may import vscode.' };

/** One rule per layer: what it may not import, and why. */
const boundaries = [
  {
    files: ['src/core/**/*.ts'],
    paths: [vscode],
    patterns: [
      into(
        ['worker', 'host', 'cli', 'protocol', 'webview', 'bench'],
        'src/core is the pure engine: it imports only tfjs and Node built-ins, never a layer built on it.',
      ),
    ],
  },
  {
    files: ['src/worker/**/*.ts'],
    paths: [vscode],
    patterns: [
      into(
        ['host', 'cli', 'webview', 'bench'],
        'src/worker runs the engine for the host and talks to it only through src/protocol messages.',
      ),
    ],
  },
  {
    files: ['src/protocol/**/*.ts'],
    paths: [vscode],
    patterns: [
      into(
        ['worker', 'host', 'cli', 'webview', 'bench'],
        'src/protocol is the messages between the layers: it depends on none of them.',
      ),
      // The engine's result types may travel in messages; its code may not.
      into(['core'], 'src/protocol may take only types from src/core (import type).', { allowTypeImports: true }),
    ],
  },
  {
    files: ['src/host/**/*.ts'],
    paths: [],
    patterns: [
      into(
        ['worker', 'cli', 'webview', 'bench'],
        'src/host starts the worker as a process and posts to webviews: it reaches both only through src/protocol.',
      ),
    ],
  },
  {
    files: ['src/cli/**/*.ts'],
    paths: [vscode],
    patterns: [
      into(
        ['worker', 'host', 'webview', 'bench'],
        'src/cli is a front door to src/core (`gpt-lab bench` is src/cli/bench.ts; bench/ builds on it, not the reverse).',
      ),
    ],
  },
  {
    files: ['webview/**/*.ts'],
    paths: [vscode],
    patterns: [
      into(['src/worker', 'src/host', 'src/cli', 'bench'], 'webview code talks to the host only through src/protocol.'),
      // The stepper shows exactly the distribution sampling uses: that one pure module is shared, no other engine code.
      {
        regex: '^(\\.\\./)+src/core/(?!sample/distribution$)',
        message: 'webview code may use only src/core/sample/distribution (pure) of the engine.',
      },
    ],
  },
];

export default tseslint.config(
  { ignores: ['out/', 'dist/', 'node_modules/', '.gpt-lab/', '.artifacts/', 'media/', 'test/fixtures/'] },
  ...tseslint.configs.recommended,
  ...boundaries.map(({ files, paths, patterns }) => ({
    files,
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { paths, patterns }],
      // The same for `import('…')` and `require('…')`, which no-restricted-imports does not see.
      'no-restricted-syntax': [
        'error',
        ...patterns
          .filter((p) => !p.allowTypeImports)
          .flatMap((p) => {
            const re = `/${p.regex.replaceAll('/', '\\/')}/`;
            return [
              { selector: `ImportExpression[source.value=${re}]`, message: p.message },
              { selector: `CallExpression[callee.name='require'] > Literal[value=${re}]`, message: p.message },
            ];
          }),
      ],
    },
  })),
  { files: ['**/*.js', '**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  {
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
);
