import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Frame, Locator, Page } from 'playwright-core';
import {
  notifications,
  repoRoot,
  runCommand,
  startWorkbench,
  statusBarItem,
  trainFromPalette,
  Workbench,
} from './support/codeServer';

/** The webview (panel or Markdown preview) whose page holds `selector`. */
async function frameWith(page: Page, selector: string, timeout = 60_000): Promise<Frame> {
  const deadline = Date.now() + timeout;
  for (;;) {
    for (const f of page.frames()) if (await f.$(selector).catch(() => null)) return f;
    if (Date.now() > deadline) throw new Error(`no webview shows ${selector}`);
    await page.waitForTimeout(250);
  }
}

/**
 * A small picture of one part of the window for the README: always in .artifacts/screenshots/sft/, and in media/
 * too when GPT_LAB_UPDATE_MEDIA=1 (then commit them).
 */
async function shot(wb: Workbench, what: Locator, name: string): Promise<void> {
  const dir = path.join(repoRoot, '.artifacts', 'screenshots', 'sft');
  await fs.mkdir(dir, { recursive: true });
  await what.screenshot({ path: path.join(dir, `${name}.png`) });
  if (process.env.GPT_LAB_UPDATE_MEDIA === '1')
    await fs.copyFile(path.join(dir, `${name}.png`), path.join(repoRoot, 'media', `${name}.png`));
}

const COMMENT = '// the answer to everything';
const COMPLETION = 'export const answer = 42;';

describe('Stage 2 from the UI: Add Example, fine-tune, a new version and its before/after table (code-server + Chromium)', function () {
  this.timeout(10 * 60_000);
  let wb: Workbench;

  before(async () => {
    wb = await startWorkbench({
      name: 'sft',
      viewport: { width: 1100, height: 720 },
      settings: {
        'gptLab.trainingMinutes': 0.25,
        'gptLab.finetune.steps': 40,
        'gptLab.finetune.learningRate': 0.01,
      },
    });
    await fs.writeFile(path.join(wb.workspace, 'src', 'answer.ts'), `${COMMENT}\n`);
    const status = statusBarItem(wb.page, 'gptLab.status');
    await status.waitFor({ timeout: 60_000 });
    await trainFromPalette(wb.page);
    try {
      await status.filter({ hasText: 'model ready' }).waitFor({ timeout: 6 * 60_000 });
    } catch (e) {
      await wb.screenshot('training-did-not-finish');
      throw e;
    }
    await notifications(wb.page).filter({ hasText: 'Training finished' }).waitFor({ timeout: 60_000 });
  });
  after(async () => wb?.stop());

  it('turns a selected comment and the completion written for it into an example, fine-tunes sft-1 and shows it', async () => {
    const { page } = wb;
    await page.keyboard.press('Escape');
    // Select the comment in answer.ts.
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget .quick-input-box input').fill('answer.ts:1:1');
    await page.locator('.quick-input-list .monaco-list-row.focused').filter({ hasText: 'answer.ts' }).waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.tab.active[aria-label^="answer.ts"]').waitFor({ timeout: 30_000 });
    await page.locator('.editor-instance .monaco-editor.focused').waitFor({ timeout: 10_000 });
    await page.keyboard.press('Home');
    await page.keyboard.press('Shift+End');

    await runCommand(page, 'GPT Lab: Add Example');
    // A tab opens beside, holding the prompt, the cursor after it: write the ideal completion.
    const draftTab = page.locator('.tab.active[aria-label^="example-"]');
    await draftTab.waitFor({ timeout: 30_000 });
    const draft = page.locator('.editor-instance .monaco-editor.focused');
    await draft.filter({ hasText: 'the answer to everything' }).waitFor({ timeout: 10_000 });
    await page.keyboard.type(COMPLETION, { delay: 20 });
    await page.waitForTimeout(800); // the draft saves itself, so closing it never asks
    await shot(wb, page.locator('.part.editor'), 'sft-add-example');
    await draftTab.locator('.codicon-close').click();
    await draftTab.waitFor({ state: 'detached', timeout: 10_000 });

    // The GPT Lab view counts it.
    await page.locator('.part.activitybar [aria-label^="GPT Lab"]').first().click();
    const examplesRow = page.locator('.monaco-list-row', { hasText: 'Examples' }).filter({ hasText: '1 example ·' });
    await examplesRow.first().waitFor({ timeout: 30_000 });

    await runCommand(page, 'GPT Lab: Fine-Tune on Examples');
    await notifications(page).filter({ hasText: 'fine-tuning base → sft-1' }).waitFor({ timeout: 60_000 });
    // At the end the before/after table opens (Markdown preview) and sft-1 serves completions.
    const table = await frameWith(page, 'table', 4 * 60_000);
    const text = await table.locator('body').innerText();
    assert.match(text, /Before and after fine-tuning: base → sft-1/);
    assert.match(text, /Exact match/);
    assert.ok(text.includes('answer = 42'), 'the example is in the table');
    await notifications(page).filter({ hasText: '"sft-1" is ready' }).waitFor({ timeout: 60_000 });
    await shot(wb, page.locator('.part.editor'), 'sft-before-after');

    const versionRow = page.locator('.monaco-list-row', { hasText: 'sft-1' }).filter({ hasText: 'fine-tuned' });
    await versionRow.first().waitFor({ timeout: 30_000 });
    assert.match(await versionRow.first().innerText(), /from base/);
    await statusBarItem(page, 'gptLab.status').filter({ hasText: 'model ready' }).waitFor();
    await shot(wb, page.locator('.part.sidebar'), 'sft-versions');

    // The training panel shows the stage's curves, token accuracy among them.
    await runCommand(page, 'GPT Lab: Show Training Panel');
    const panel = await frameWith(page, '#accuracy-chart[data-points]:not([data-points="0"])', 60_000);
    assert.equal(await panel.locator('#accuracy').isHidden(), false);
    await wb.screenshot('training-panel-sft');
  });
});
