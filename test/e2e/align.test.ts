import { strict as assert } from 'node:assert';
import { existsSync, promises as fs, readdirSync } from 'node:fs';
import * as path from 'node:path';
import type { Frame, Page } from 'playwright-core';
import {
  cs,
  notifications,
  reloadWindow,
  repoRoot,
  runCommand,
  startWorkbench,
  statusBarItem,
  trainFromPalette,
  Workbench,
} from './support/codeServer';

/** Enough of the DOM's classList for a check inside the page (the tests compile without the DOM's types). */
interface DOMTokenListLike {
  contains(token: string): boolean;
}

/** The webview panel whose page holds `selector` (several panels may be open side by side). */
async function panelWith(page: Page, selector: string, timeout = 60_000): Promise<Frame> {
  const deadline = Date.now() + timeout;
  for (;;) {
    for (const f of page.frames()) if (await f.$(selector).catch(() => null)) return f;
    if (Date.now() > deadline) throw new Error(`no webview shows ${selector}`);
    await page.waitForTimeout(250);
  }
}

/** <user-data-dir>/User/workspaceStorage/<id>/gpt-lab.gpt-lab/preferences.jsonl, once it exists. */
function preferencesFile(wb: Workbench): string | undefined {
  const root = path.join(wb.userDataDir, 'User', 'workspaceStorage');
  if (!existsSync(root)) return undefined;
  for (const id of readdirSync(root)) {
    const f = path.join(root, id, 'gpt-lab.gpt-lab', 'preferences.jsonl');
    if (existsSync(f)) return f;
  }
  return undefined;
}

/**
 * A small picture of the webview panel for the README: always in .artifacts/screenshots/align/, and in media/ too
 * when GPT_LAB_UPDATE_MEDIA=1 (then commit them).
 */
async function panelShot(page: Page, name: string): Promise<void> {
  const dir = path.join(cs.artifactsDir, 'screenshots', 'align');
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.locator('iframe.webview.ready').last().screenshot({ path: file });
  if (process.env.GPT_LAB_UPDATE_MEDIA === '1') await fs.copyFile(file, path.join(repoRoot, 'media', `${name}.png`));
}

describe('Stage 3 in the UI: rank by keyboard (and after a reload), train DPO, see the win rate (code-server + Chromium)', function () {
  this.timeout(10 * 60_000);
  let wb: Workbench;

  before(async () => {
    wb = await startWorkbench({
      name: 'align',
      settings: { 'gptLab.trainingMinutes': 0.6, 'gptLab.align.steps': 10, 'gptLab.rank.count': 4 },
      viewport: { width: 1400, height: 800 },
    });
    await fs.writeFile(
      path.join(wb.workspace, 'src', 'rankme.ts'),
      'export function area(r: number): number {\n  return ',
    );
    const status = statusBarItem(wb.page, 'gptLab.status');
    await status.waitFor({ timeout: 60_000 });
    await trainFromPalette(wb.page);
    await status.filter({ hasText: 'model ready' }).waitFor({ timeout: 4 * 60_000 });
    await wb.page.keyboard.press('Escape');
  });

  after(async () => {
    await wb?.stop();
  });

  it('ranks 4 completions with the keyboard alone; the preferences file gains 6 lines', async () => {
    const { page } = wb;
    await page.keyboard.press('Control+P');
    const input = page.locator('.quick-input-widget .quick-input-box input');
    await input.fill('rankme.ts:2:10');
    await page.locator('.quick-input-list .monaco-list-row.focused').filter({ hasText: 'rankme.ts' }).waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.editor-instance .monaco-editor.focused').waitFor({ timeout: 10_000 });
    await runCommand(page, 'GPT Lab: Rank Completions');
    const board = await panelWith(page, '#board .card');
    // Locators, not waitForFunction: a string predicate is eval'd in the page, which the webview's CSP forbids.
    await board.locator('#board .card').nth(3).waitFor({ timeout: 60_000 });
    assert.equal(await board.locator('#board .card').count(), 4);
    const texts = () => board.$$eval('#board .card pre', (ps) => ps.map((p) => p.textContent ?? ''));
    const before = await texts();
    // The board takes the focus with its first card: no click needed.
    const focused = () =>
      board.evaluate(() => {
        const doc = (globalThis as unknown as { document: { activeElement: { classList: DOMTokenListLike } | null } })
          .document;
        return doc.activeElement?.classList.contains('card') ?? false;
      });
    for (let i = 0; i < 100 && !(await focused()); i++) await page.waitForTimeout(100);
    assert.ok(await focused(), 'a card has the focus');
    await page.keyboard.press('4'); // the first card goes last
    await page.keyboard.press('Alt+ArrowUp'); // …then one place up (3rd)
    await page.keyboard.press('ArrowUp'); // focus the card above (2nd)
    await page.keyboard.press('ArrowUp'); // …and the first
    await page.keyboard.press('Alt+ArrowDown'); // the first and second swap
    const after = await texts();
    assert.deepEqual(after, [before[2], before[1], before[0], before[3]]);
    await panelShot(page, 'rank-board');

    // A window reload brings the board back as it was left.
    const status = statusBarItem(page, 'gptLab.status');
    await reloadWindow(page);
    await status.waitFor({ state: 'detached', timeout: 30_000 }).catch(() => undefined); // the old window is gone
    await status.filter({ hasText: 'model ready' }).waitFor({ timeout: 120_000 });
    const revived = await panelWith(page, '#board .card', 120_000).catch(async (e) => {
      await wb.screenshot('rank-not-revived');
      throw e;
    });
    await revived.locator('#board .card').nth(3).waitFor({ timeout: 60_000 });
    assert.deepEqual(await revived.$$eval('#board .card pre', (ps) => ps.map((p) => p.textContent ?? '')), after);
    // Focus comes back to the board with a click (the ranking itself was done by keyboard above).
    await revived.locator('#board .card').first().click();
    await page.keyboard.press('Control+Enter');
    await revived.locator('#status', { hasText: 'Saved 6 pairs' }).waitFor({ timeout: 30_000 });
    const file = preferencesFile(wb);
    assert.ok(file, 'preferences.jsonl was written');
    const lines = (await fs.readFile(file, 'utf8')).split('\n').filter((l) => l.trim());
    assert.equal(lines.length, 6);
    const first = JSON.parse(lines[0]);
    assert.equal(first.prompt, 'export function area(r: number): number {\n  return ');
    const best = before[2];
    assert.equal(lines.map((l) => JSON.parse(l)).filter((p) => p.chosen.trim() === best.trim()).length, 3);
  });

  it('trains a reward model and DPO from the palette; the alignment panel shows before/after with a win rate', async () => {
    const { page } = wb;
    await runCommand(page, 'GPT Lab: Train Reward Model');
    await notifications(page)
      .filter({ hasText: 'Reward model "reward-1" is ready' })
      .waitFor({ timeout: 4 * 60_000 });
    await runCommand(page, 'GPT Lab: Align with DPO');
    await notifications(page)
      .filter({ hasText: '"dpo-1" is ready' })
      .waitFor({ timeout: 4 * 60_000 });
    const panel = await panelWith(page, '#run');
    await panel.locator('#win-rate .big', { hasText: 'Win rate' }).waitFor({ timeout: 2 * 60_000 });
    const rows = await panel.locator('#compare-table tbody tr').count();
    assert.ok(rows > 0, 'the table has held-out prompts');
    const text = await panel.locator('#win-rate').innerText();
    assert.match(text, /Win rate \d+%/);
    assert.match(text, /dpo-1 beats base/);
    assert.equal(await panel.locator('#run').inputValue(), 'dpo-1');
    await page.keyboard.press('Escape');
    await panelShot(page, 'alignment-panel');

    // Blind A/B: the same completions, order hidden, judged with the keys 1 (A), 2 (B), 0 (tie).
    await panel.locator('#blind').click();
    const judging = panel.locator('#judge .ab .card').first();
    const nothing = panel.locator('#error', { hasText: 'nothing to judge' });
    await Promise.race([judging.waitFor({ timeout: 30_000 }), nothing.waitFor({ timeout: 30_000 })]);
    if (await nothing.isVisible()) return; // both versions wrote the same greedy text for every held-out prompt
    for (let i = 0; i < 6 && !(await panel.locator('#human-win-rate').isVisible()); i++) {
      await page.keyboard.press('1');
      await page.waitForTimeout(200);
    }
    await panel.locator('#human-win-rate', { hasText: /Human win rate \d+%/ }).waitFor({ timeout: 10_000 });
    await panelShot(page, 'alignment-blind');
  });
});
