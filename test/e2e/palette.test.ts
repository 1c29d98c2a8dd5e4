// Smoke test of the UI harness: the workbench opens the fixture workspace with GPT Lab installed, and the
// palette lists and runs GPT Lab's commands.
import * as assert from 'node:assert/strict';
import { paletteRows, runCommand, startWorkbench, webviewFrame, type Workbench } from './support/codeServer';

describe('command palette', () => {
  let wb: Workbench;
  before(async () => {
    wb = await startWorkbench({ name: 'palette' });
  });
  after(async () => {
    await wb?.stop();
  });

  it('lists GPT Lab: Train on Workspace', async () => {
    await wb.screenshot('workbench');
    const rows = await paletteRows(wb.page, 'GPT Lab:');
    await wb.screenshot('palette');
    assert.ok(rows.length >= 10, `GPT Lab's commands are listed: ${JSON.stringify(rows)}`);
    // The list shows only the rows that fit (alphabetical): narrow it to find one further down.
    const train = await paletteRows(wb.page, 'GPT Lab: Train on');
    assert.ok(
      train.some((r) => r.includes('GPT Lab: Train on Workspace')),
      `palette rows: ${JSON.stringify(train)}`,
    );
    await wb.page.keyboard.press('Escape');
  });

  it('opens the training panel with GPT Lab: Show Training Panel', async () => {
    await runCommand(wb.page, 'GPT Lab: Show Training Panel');
    // The panel is a webview: wait until its content document has a body with something in it.
    await webviewFrame(wb.page).locator('body *').first().waitFor({ timeout: 60_000 });
    await wb.screenshot('training-panel');
  });
});
