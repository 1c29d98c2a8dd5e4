// The entry VS Code's extension host loads as extensionTestsPath (for code-server and for test-electron):
// runs every out/test/integration/**/*.test.js with mocha, in the extension host, next to the extension.
// Counts go to $GPT_LAB_TEST_SUMMARY through the summary reporter; a rejection means failure.
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

/** out/test/integration → the repo root. */
const repoRoot = path.resolve(__dirname, '..', '..', '..');

function testFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) return testFiles(p);
      return e.isFile() && e.name.endsWith('.test.js') ? [p] : [];
    })
    .sort();
}

export function run(): Promise<void> {
  const mocha = new Mocha({
    ui: 'bdd',
    timeout: 5 * 60_000,
    color: false,
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    reporter: require(path.join(repoRoot, 'test', 'support', 'summary-reporter.js')),
  });
  if (process.env.GPT_LAB_TEST_GREP) mocha.grep(process.env.GPT_LAB_TEST_GREP);
  for (const f of testFiles(__dirname)) mocha.addFile(f);
  return new Promise((resolve, reject) => {
    try {
      mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} integration test(s) failed`)) : resolve()));
    } catch (e) {
      reject(e);
    }
  });
}
