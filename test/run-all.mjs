// Runs every test suite in turn and ends with one line: "N passed, N failed".
// A suite that crashes before reporting counts as one failure, so a broken harness never looks green.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const artifacts = path.join(root, '.artifacts');
mkdirSync(artifacts, { recursive: true });

/** name → command; each writes its counts to $GPT_LAB_TEST_SUMMARY. */
const suites = [
  // plain Node (.mocharc.json: out/test/unit only)
  { name: 'unit', cmd: ['npx', 'mocha', '--reporter', './test/support/summary-reporter.js'] },
  // fault injection against the real CLI: SIGKILL, SIGSTOP, full and read-only disks, locks, other formats
  {
    name: 'faults',
    cmd: ['npx', 'mocha', '--config', '.mocharc.faults.json', '--reporter', './test/support/summary-reporter.js'],
  },
  // GPT Lab ⇄ PyTorch: logits parity, torchrun DDP (2 gloo ranks), import back, GPT-2 checkpoints (python3-torch)
  {
    name: 'interop',
    cmd: ['npx', 'mocha', '--config', '.mocharc.interop.json', '--reporter', './test/support/summary-reporter.js'],
  },
  // mocha inside a real VS Code extension host (code-server + headless Chromium; .ci/install-code-server.sh)
  { name: 'integration', cmd: ['node', 'test/integration/runner/code-server.mjs'] },
  // Playwright driving the VS Code UI (same prerequisites)
  {
    name: 'e2e',
    cmd: ['npx', 'mocha', '--config', '.mocharc.e2e.json', '--reporter', './test/support/summary-reporter.js'],
  },
];
const only = process.argv.slice(2);

let passed = 0;
let failed = 0;
for (const s of suites.filter((s) => only.length === 0 || only.includes(s.name))) {
  const summary = path.join(artifacts, `summary-${s.name}.json`);
  rmSync(summary, { force: true });
  console.log(`\n=== ${s.name} tests ===`);
  const r = spawnSync(s.cmd[0], s.cmd.slice(1), {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, GPT_LAB_TEST_SUMMARY: summary },
  });
  if (existsSync(summary)) {
    const c = JSON.parse(readFileSync(summary, 'utf8'));
    passed += c.passes;
    failed += c.failures;
    if (r.status !== 0 && c.failures === 0) failed += 1; // exited badly after reporting
  } else {
    console.log(`${s.name}: the suite did not report (exit ${r.status}${r.signal ? ', ' + r.signal : ''})`);
    failed += 1;
  }
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
