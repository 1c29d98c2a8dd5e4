// Times "GPT Lab: Inspect Attention" from command to drawn panel in a real VS Code (code-server + Chromium):
// runs the benchmark "test" of test/integration/inspectBench.test.ts and prints .artifacts/bench-inspector.json.
// Needs `npm run build` and `bash .ci/install-code-server.sh`.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const r = spawnSync('node', ['test/integration/runner/code-server.mjs'], {
  cwd: root,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: {
    ...process.env,
    GPT_LAB_BENCH: '1',
    GPT_LAB_TEST_GREP: 'benchmark',
    GPT_LAB_TEST_SUMMARY: path.join(root, '.artifacts', 'summary-bench.json'),
  },
});
if (r.status !== 0) process.exit(r.status ?? 1);
process.stdout.write(readFileSync(path.join(root, '.artifacts', 'bench-inspector.json'), 'utf8'));
