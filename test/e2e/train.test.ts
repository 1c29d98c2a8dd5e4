import { strict as assert } from 'node:assert';
import {
  notifications,
  reloadWindow,
  runCommand,
  startWorkbench,
  statusBarItem,
  webviewFrame,
  Workbench,
} from './support/codeServer';

type Series = { loss: { x: number; y: number }[]; valLoss: { x: number; y: number }[] };

async function lossData(wb: Workbench): Promise<Series> {
  return webviewFrame(wb.page)
    .locator('body')
    .evaluate(() => (globalThis as unknown as { gptLabLoss: Series }).gptLabLoss);
}

describe('Train on Workspace from the command palette (code-server + Chromium)', function () {
  this.timeout(8 * 60_000);
  let wb: Workbench;

  before(async () => {
    wb = await startWorkbench({ name: 'train', settings: { 'gptLab.trainingMinutes': 0.4 } });
  });
  after(async () => wb?.stop());

  it('trains with progress, reaches "model ready", and draws the loss in the panel — also after a reload', async () => {
    const { page } = wb;
    const status = statusBarItem(page, 'gptLab.status');
    await status.waitFor({ timeout: 60_000 });
    assert.match(await status.innerText(), /no model/);
    await wb.screenshot('no-model');

    await runCommand(page, 'GPT Lab: Train on Workspace');
    // The preset quick pick: the configured preset (tiny) is first; its row shows size and time.
    const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row.focused');
    await row.filter({ hasText: 'tiny' }).waitFor({ timeout: 60_000 });
    assert.match(await row.innerText(), /parameters/);
    await wb.screenshot('preset-pick');
    await page.keyboard.press('Enter');

    const toast = notifications(page).filter({ hasText: 'GPT Lab: training tiny' });
    await toast.waitFor({ timeout: 60_000 });
    await status.filter({ hasText: /training \d+%/ }).waitFor({ timeout: 60_000 });
    await wb.screenshot('training-progress');

    await runCommand(page, 'GPT Lab: Show Training Panel');
    const chart = webviewFrame(page).locator('#loss-chart');
    await chart.waitFor({ timeout: 30_000 });
    await status.filter({ hasText: 'model ready' }).waitFor({ timeout: 3 * 60_000 });
    const done = notifications(page).filter({ hasText: 'Training finished' });
    await done.waitFor({ timeout: 60_000 });
    assert.match(await done.innerText(), /validation loss [\d.]+ → [\d.]+/);
    await wb.screenshot('model-ready');

    const data = await lossData(wb);
    assert.ok(data.loss.length >= 3, `train points: ${data.loss.length}`);
    assert.ok(data.valLoss.length >= 2, `validation points: ${data.valLoss.length}`);
    const first = data.valLoss[0].y;
    const last = data.valLoss[data.valLoss.length - 1].y;
    assert.ok(last < first, `validation loss fell: ${first} → ${last}`);
    assert.ok(Number(await chart.getAttribute('data-val-points')) >= 2);
    await wb.screenshot('loss-panel');

    // A window reload: the model is still there and the panel comes back with its history.
    await reloadWindow(page);
    await status.filter({ hasText: 'model ready' }).waitFor({ timeout: 90_000 });
    await webviewFrame(page).locator('#loss-chart[data-val-points]').waitFor({ timeout: 60_000 });
    await page.waitForTimeout(1000);
    const restored = await lossData(wb);
    assert.ok(
      restored.valLoss.length >= data.valLoss.length - 1,
      `restored ${restored.valLoss.length} validation points`,
    );
    assert.equal(restored.valLoss[restored.valLoss.length - 1].y, last);
    await wb.screenshot('after-reload');
  });
});
