import { strict as assert } from 'node:assert';
import { runCommand, startWorkbench, statusBarItem, webviewFrame, Workbench } from './support/codeServer';

/** The seed's data parallelism, visible: a run on 2 replicas says so in the training panel while it trains. */
describe('Data-parallel training in the panel (code-server + Chromium)', function () {
  this.timeout(8 * 60_000);
  let wb: Workbench;

  before(async () => {
    wb = await startWorkbench({
      name: 'replicas',
      settings: { 'gptLab.trainingMinutes': 0.4, 'gptLab.training.replicas': 2 },
    });
  });
  after(async () => wb?.stop());

  it('shows "2 replicas · all-reduce X ms/step" while training, and hides it when the run ends', async () => {
    const { page } = wb;
    const status = statusBarItem(page, 'gptLab.status');
    await status.waitFor({ timeout: 60_000 });
    await runCommand(page, 'GPT Lab: Show Training Panel');
    const replicas = webviewFrame(page).locator('#replicas');
    await webviewFrame(page).locator('#loss-chart').waitFor({ timeout: 30_000 });
    assert.equal(await replicas.isVisible(), false, 'no replicas before a run');

    await runCommand(page, 'GPT Lab: Train on Workspace');
    const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row.focused');
    await row.filter({ hasText: 'tiny' }).waitFor({ timeout: 60_000 });
    await page.keyboard.press('Enter');

    await webviewFrame(page).locator('#replicas:not([hidden])').waitFor({ timeout: 120_000 });
    assert.match(await replicas.innerText(), /^2 replicas · all-reduce [\d.]+ ms\/step$/);
    assert.equal(await replicas.getAttribute('data-count'), '2');
    await wb.screenshot('replicas-in-panel');

    await status.filter({ hasText: 'model ready' }).waitFor({ timeout: 3 * 60_000 });
    await webviewFrame(page).locator('#replicas[hidden]').waitFor({ state: 'attached', timeout: 30_000 });
  });
});
