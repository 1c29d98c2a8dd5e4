// Runs the same integration suite (out/test/integration/index.js) in desktop VS Code through
// @vscode/test-electron, for contributors whose machines can download VS Code (it downloads 1.100.3 into
// .vscode-test/ on first use). NOT run in CI here: these machines cannot reach that download, so CI uses
// code-server instead (test/integration/runner/code-server.mjs, `node test/run-all.mjs integration`).
// Builds nothing: `npm run test:electron` builds first. On a Linux machine without a display, run it under
// xvfb-run. Environment: VSCODE_VERSION (default 1.100.3), GPT_LAB_TEST_GREP.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { runTests } from '@vscode/test-electron';

const require = createRequire(import.meta.url);
const cs = require('../../support/code-server.js');

const root = cs.repoRoot;
const artifacts = path.join(root, '.artifacts');
mkdirSync(artifacts, { recursive: true });
const tmp = mkdtempSync(path.join(os.tmpdir(), 'gpt-lab-electron-'));
const workspace = cs.copyFixture(path.join(tmp, 'workspace'));
const userDataDir = path.join(tmp, 'user-data');
mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify(cs.quietSettings(), null, 2));

let code = 1;
try {
  code = await runTests({
    version: process.env.VSCODE_VERSION ?? '1.100.3',
    extensionDevelopmentPath: root,
    extensionTestsPath: path.join(root, 'out', 'test', 'integration', 'index.js'),
    extensionTestsEnv: {
      GPT_LAB_TEST_SUMMARY: path.join(artifacts, 'summary-electron.json'),
      GPT_LAB_ARTIFACTS: artifacts,
      GPT_LAB_FIXTURE_WORKSPACE: workspace,
      GPT_LAB_TEST_GREP: process.env.GPT_LAB_TEST_GREP ?? '',
    },
    launchArgs: [
      workspace,
      '--disable-extensions', // other installed extensions; the one under development still loads
      '--disable-workspace-trust',
      '--skip-welcome',
      '--skip-release-notes',
      `--user-data-dir=${userDataDir}`,
      `--extensions-dir=${path.join(tmp, 'extensions')}`,
    ],
  });
} catch (e) {
  console.error(`electron: ${e?.message ?? e}`);
  code = typeof e === 'number' ? e : 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(code);
