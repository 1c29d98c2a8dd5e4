import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot, startWorkbench, statusBarItem, trainFromPalette, Workbench } from './support/codeServer';

/** The README's images and links, made absolute as `npm run package` makes them (the repository is not on GitHub). */
const README_URLS = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'))
  .scripts.package.match(/--base\w+Url \S+/g)
  .flatMap((o: string) => o.split(' '));

describe('The VSIX, installed as a user installs it (code-server --install-extension)', function () {
  this.timeout(8 * 60_000);
  let wb: Workbench | undefined;
  after(async () => wb?.stop());

  it('packages, installs, activates and trains with the wasm backend it ships', async () => {
    const vsix = path.join(mkdtempSync(path.join(os.tmpdir(), 'gpt-lab-vsix-')), 'gpt-lab.vsix');
    // The bundles of `npm run build`; `npm run package` would also minify them.
    execFileSync('npx', ['vsce', 'package', '--no-dependencies', ...README_URLS, '--out', vsix], {
      cwd: repoRoot,
      stdio: 'pipe',
      timeout: 180_000,
    });
    assert.ok(statSync(vsix).size > 100_000, 'the VSIX holds the bundles and the wasm binaries');

    wb = await startWorkbench({ name: 'vsix', install: { vsix }, settings: { 'gptLab.trainingMinutes': 0.15 } });
    const status = statusBarItem(wb.page, 'gptLab.status');
    await status.filter({ hasText: 'no model' }).waitFor({ timeout: 60_000 });
    await trainFromPalette(wb.page);
    await status.filter({ hasText: 'model ready' }).waitFor({ timeout: 3 * 60_000 });
    await wb.screenshot('vsix-model-ready');
  });
});
