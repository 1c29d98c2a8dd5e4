import { strict as assert } from 'node:assert';
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Frame, Page } from 'playwright-core';
import {
  notifications,
  reloadWindow,
  runCommand,
  startWorkbench,
  statusBarItem,
  Workbench,
  trainFromPalette,
} from './support/codeServer';

/** The webview panel whose page holds `selector` (several panels may be open side by side). */
async function panelWith(page: Page, selector: string, timeout = 60_000): Promise<Frame> {
  const deadline = Date.now() + timeout;
  for (;;) {
    for (const f of page.frames()) if (await f.$(selector).catch(() => null)) return f;
    if (Date.now() > deadline) throw new Error(`no webview shows ${selector}`);
    await page.waitForTimeout(250);
  }
}

/** The extension's output channel ("GPT Lab"), as VS Code logged it: for failure messages. */
function outputLog(wb: Workbench): string {
  const logs = path.join(wb.userDataDir, 'logs');
  try {
    for (const session of readdirSync(logs)) {
      const host = path.join(logs, session, 'exthost1');
      for (const dir of readdirSync(host).filter((d) => d.startsWith('output_logging'))) {
        for (const f of readdirSync(path.join(host, dir)).filter((n) => n.endsWith('GPT Lab.log'))) {
          return readFileSync(path.join(host, dir, f), 'utf8')
            .split('\n')
            .slice(-15)
            .join('\n');
        }
      }
    }
  } catch {
    // no log yet
  }
  return '(no GPT Lab log)';
}

/** Opens a file of the workspace with Quick Open ("name:line:column" puts the cursor there). */
async function openFile(page: Page, name: string, line = 1, column = 1): Promise<void> {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor();
  await input.fill(`${name}:${line}:${column}`);
  await page
    .locator('.quick-input-list .monaco-list-row.focused')
    .filter({ hasText: name })
    .waitFor({ timeout: 30_000 });
  await page.keyboard.press('Enter');
  await page.locator(`.tab.active[aria-label^="${name}"]`).first().waitFor({ timeout: 30_000 });
  await page.locator('.editor-instance .monaco-editor.focused').waitFor({ timeout: 10_000 });
}

describe('Completions, attention and generation in the editor (code-server + Chromium)', function () {
  this.timeout(10 * 60_000);
  let wb: Workbench;

  before(async () => {
    wb = await startWorkbench({
      name: 'inside',
      settings: { 'gptLab.trainingMinutes': 0.8 },
      env: { GPT_LAB_TRACE: '1' },
    });
    await fs.writeFile(
      path.join(wb.workspace, 'src', 'scratch.ts'),
      'export function hello(): void {\n    console.\n}\n',
    );
    const status = statusBarItem(wb.page, 'gptLab.status');
    await status.waitFor({ timeout: 60_000 });
    await trainFromPalette(wb.page);
    await status.filter({ hasText: 'model ready' }).waitFor({ timeout: 4 * 60_000 });
    await notifications(wb.page).filter({ hasText: 'Training finished' }).waitFor({ timeout: 60_000 });
    await wb.page.keyboard.press('Escape');
  });
  after(async () => wb?.stop());

  it('shows ghost text from the workspace model as you type; Tab accepts it into the saved file', async () => {
    const { page } = wb;
    await openFile(page, 'scratch.ts', 2, 13);
    await page.waitForTimeout(1000); // let the editor settle, as a person would before typing
    // Type like a person: one character, and another if the first brought no suggestion.
    const ghost = page.locator('.editor-instance .monaco-editor .ghost-text-decoration');
    let typed = '';
    for (const ch of 'lo') {
      await page.keyboard.type(ch);
      typed += ch;
      if (
        await ghost
          .first()
          .waitFor({ timeout: 15_000 })
          .then(
            () => true,
            () => false,
          )
      )
        break;
    }
    if (!(await ghost.count())) {
      await wb.screenshot('no-ghost-text');
      assert.fail(`no ghost text after typing ${JSON.stringify(typed)}\nGPT Lab log:\n${outputLog(wb)}`);
    }
    const shown = (await ghost.allInnerTexts()).join('').replace(/\u00a0/g, ' ');
    await wb.screenshot('ghost-text');
    assert.ok(shown.trim().length > 0, 'the ghost text is not empty');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Control+S');
    await page.waitForTimeout(1000);
    const saved = await fs.readFile(path.join(wb.workspace, 'src', 'scratch.ts'), 'utf8');
    const line = saved.split('\n')[1];
    assert.equal(line, `    console.${typed}${shown}`.trimEnd(), `saved line: ${line}\nGPT Lab log:\n${outputLog(wb)}`);
    console.log(`      accepted: ${JSON.stringify(line)}`);
    await wb.screenshot('accepted');
  });

  it('inspects attention on a selection: the token strip matches, hovering a token changes what is highlighted', async () => {
    const { page } = wb;
    await openFile(page, 'index.ts', 8, 1);
    await page.keyboard.press('Shift+ArrowDown');
    await page.keyboard.press('Shift+ArrowDown');
    await page.keyboard.press('Shift+End');
    await runCommand(page, 'GPT Lab: Inspect Attention');
    const view = await panelWith(page, '#app[data-state="ready"] #tokens');
    const chips = view.locator('#tokens .tok');
    const tokens = await chips.allInnerTexts();
    const joined = tokens.join('').replace(/·/g, ' ').replace(/↵/g, '\n');
    assert.ok(joined.startsWith('export function allShapes'), joined.slice(0, 60));
    const read = () =>
      view
        .locator('body')
        .evaluate(
          () =>
            (globalThis as unknown as { gptLabInspector: { hovered: number; highlighted: number[] } }).gptLabInspector,
        );
    await chips.nth(6).hover();
    await view.locator('#app[data-hovered="6"]').waitFor();
    const a = await read();
    await wb.screenshot('inspector-hover-6');
    await chips.nth(12).hover();
    await view.locator('#app[data-hovered="12"]').waitFor();
    const b = await read();
    assert.notDeepEqual(a.highlighted, b.highlighted, 'hovering another token highlights other tokens');
    assert.ok(
      b.highlighted.every((i) => i <= 12),
      'a token attends only to itself and earlier tokens',
    );
    await wb.screenshot('inspector-hover-12');

    // After a window reload the panel comes back with the same tokens (recomputed from the saved source range).
    await reloadWindow(page);
    await statusBarItem(page, 'gptLab.status').filter({ hasText: 'model ready' }).waitFor({ timeout: 90_000 });
    const revived = await panelWith(page, '#app[data-state="ready"] #tokens .tok').catch(async (e) => {
      await wb.screenshot('inspector-not-revived');
      throw new Error(`${(e as Error).message}\nGPT Lab log:\n${outputLog(wb)}`);
    });
    assert.deepEqual(await revived.locator('#tokens .tok').allInnerTexts(), tokens);
    await wb.screenshot('inspector-after-reload');
  });

  it('steps through a generation: probability bars, and taking the top token appends it to the prompt', async () => {
    const { page } = wb;
    await runCommand(page, 'View: Close All Editors');
    // A short prompt (one selected line), so appending a token grows it rather than sliding the context window.
    await openFile(page, 'index.ts', 8, 1);
    await page.keyboard.press('Shift+End');
    await runCommand(page, 'GPT Lab: Step Through Generation');
    const view = await panelWith(page, '#bars .bar-row').catch(async (e) => {
      await wb.screenshot('no-stepper');
      throw new Error(`${(e as Error).message}\nGPT Lab log:\n${outputLog(wb)}`);
    });
    const bars = view.locator('#bars .bar-row');
    await bars.first().waitFor({ timeout: 60_000 });
    const read = () =>
      view.locator('body').evaluate(
        () =>
          (
            globalThis as unknown as {
              gptLabStepper: { prompt: string[]; bars: { display: string; prob: number }[] };
            }
          ).gptLabStepper,
      );
    const before = await read();
    assert.ok(before.bars.length > 1);
    assert.ok(before.bars[0].prob >= before.bars[1].prob);
    await wb.screenshot('stepper');
    await view.locator('#take').click();
    await view.locator('#app:not([data-busy="true"])').waitFor();
    for (let i = 0; i < 50; i++) {
      if ((await read()).prompt.length === before.prompt.length + 1) break;
      await page.waitForTimeout(100);
    }
    const after = await read();
    assert.equal(after.prompt.length, before.prompt.length + 1);
    assert.equal(after.prompt[after.prompt.length - 1], before.bars[0].display);
    await wb.screenshot('stepper-after-take');

    // After a window reload the stepper comes back with the prompt and the appended token.
    await reloadWindow(page);
    await statusBarItem(page, 'gptLab.status').filter({ hasText: 'model ready' }).waitFor({ timeout: 90_000 });
    const revived = await panelWith(page, '#bars .bar-row');
    const restored = await revived
      .locator('body')
      .evaluate(() => (globalThis as unknown as { gptLabStepper: { prompt: string[] } }).gptLabStepper.prompt);
    assert.deepEqual(restored, after.prompt);
    await wb.screenshot('stepper-after-reload');
  });
});
