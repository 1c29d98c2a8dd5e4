// UI end-to-end helpers: a real VS Code workbench (code-server) in headless Chromium, driven by playwright-core.
// The extension is installed the way a user has it (a folder EXT/gpt-lab.gpt-lab-<version> → this repo, so
// `npm run build` first); each workbench gets a fresh user-data-dir and a fresh copy of the fixture workspace.
// Needs code-server and Chromium: `bash .ci/install-code-server.sh`. Recipe: ../shared/facts/e2e-code-server.md.
//
//   const wb = await startWorkbench({ name: 'train' });
//   await runCommand(wb.page, 'GPT Lab: Show Training Panel');
//   await webviewFrame(wb.page).locator('text=Loss').waitFor();
//   await wb.screenshot('panel');
//   await wb.stop();
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import type * as CodeServerLib from '../../support/code-server';

/** out/test/e2e/support → the repo root. */
export const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');
// Plain JS shared with the integration runner; required by absolute path because out/ holds no copy of it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const cs: typeof CodeServerLib = require(path.join(repoRoot, 'test', 'support', 'code-server.js'));

export const EXTENSION_ID = 'gpt-lab.gpt-lab';

export interface WorkbenchOptions {
  /** Names the artifacts: .artifacts/screenshots/<name>/, .artifacts/code-server-e2e-<name>.log. */
  name?: string;
  /** The folder to copy and open; default test/fixtures/workspace. */
  workspace?: string;
  /** User settings on top of the quiet defaults (e.g. { 'gptLab.trainingMinutes': 0.2 }). */
  settings?: Record<string, unknown>;
  /** Environment variables of code-server, which reach the extension host and the worker it spawns. */
  env?: Record<string, string>;
  /**
   * 'extensionsDir' (default): installed as EXT/gpt-lab.gpt-lab-<version> → repo root, as a user has it.
   * 'development': loaded through the payload's extensionDevelopmentPath (title "[Extension Development Host]").
   * 'none': not loaded at all.
   */
  install?: 'extensionsDir' | 'development' | 'none' | { vsix: string };
  viewport?: { width: number; height: number };
}

export interface Workbench {
  page: Page;
  browser: Browser;
  url: string;
  /** The copy of the workspace that is open (a temp folder: write and read files there freely). */
  workspace: string;
  /** code-server's pid = its process group (the extension host and the worker process live in it). */
  serverPid: number;
  userDataDir: string;
  /** Saves .artifacts/screenshots/<name>/<n>-<shot>.png and returns its path. */
  screenshot(shot: string): Promise<string>;
  /** Closes the browser, kills code-server's process group, removes the temp folder. */
  stop(): Promise<void>;
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'workbench';
}

/** Starts code-server on a copy of the workspace, opens it in Chromium and waits until the workbench is ready. */
export async function startWorkbench(options: WorkbenchOptions = {}): Promise<Workbench> {
  cs.checkPrerequisites(); // throws "run bash .ci/install-code-server.sh" when something is missing
  const name = slug(options.name ?? 'workbench');
  const install = options.install ?? 'extensionsDir';
  if (install !== 'none' && !fs.existsSync(path.join(repoRoot, 'dist', 'extension.js'))) {
    throw new Error('dist/extension.js is missing: run `npm run build` first.');
  }
  const artifacts = cs.artifactsDir;
  const shotsDir = path.join(artifacts, 'screenshots', name);
  fs.rmSync(shotsDir, { recursive: true, force: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `gpt-lab-e2e-${name}-`));
  const workspace = cs.copyFixture(path.join(tmp, 'workspace'), options.workspace);

  const server = await cs.startCodeServer({
    dir: tmp,
    folder: workspace,
    settings: options.settings,
    env: { GPT_LAB_ARTIFACTS: artifacts, ...options.env },
    logFile: path.join(artifacts, `code-server-e2e-${name}.log`),
    beforeStart: ({ extensionsDir, userDataDir }) => {
      if (typeof install === 'object') {
        // As a user installs it: `code-server --install-extension gpt-lab.vsix`.
        const config = path.join(tmp, 'install.yaml');
        fs.writeFileSync(config, 'auth: none\n');
        execFileSync(
          cs.findCodeServer(),
          [
            '--config',
            config,
            '--user-data-dir',
            userDataDir,
            '--extensions-dir',
            extensionsDir,
            '--install-extension',
            install.vsix,
          ],
          { stdio: 'pipe', timeout: 120_000 },
        );
        return;
      }
      if (install !== 'extensionsDir') return;
      const { version } = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
      fs.symlinkSync(repoRoot, path.join(extensionsDir, `${EXTENSION_ID}-${version}`), 'dir');
    },
  });
  let browser: Browser | undefined;
  const stop = async () => {
    await browser?.close().catch(() => undefined);
    await server.stop();
    if (!process.env.GPT_LAB_KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
  };
  try {
    browser = await cs.launchChromium();
    const page = await browser.newPage({ viewport: options.viewport ?? { width: 1280, height: 800 } });
    const payload: [string, string][] = [['skipWelcome', 'true']];
    if (install === 'development') payload.push(['extensionDevelopmentPath', cs.remoteUri(server, repoRoot)]);
    const url = cs.workbenchUrl(server, workspace, payload);
    await page.goto(url);
    await waitForWorkbench(page, install !== 'none');
    let n = 0;
    const screenshot = async (shot: string) => {
      fs.mkdirSync(shotsDir, { recursive: true });
      const file = path.join(shotsDir, `${String(++n).padStart(2, '0')}-${slug(shot)}.png`);
      await page.screenshot({ path: file });
      return file;
    };
    return { page, browser, url, workspace, serverPid: server.pid, userDataDir: server.userDataDir, screenshot, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * Waits until the workbench is drawn and the explorer shows the workspace; with `withExtension`, also until
 * the GPT Lab activity bar entry appears (the extension host has scanned the extension; it may not be active).
 */
export async function waitForWorkbench(page: Page, withExtension = true, timeout = 60_000): Promise<void> {
  await page.locator('.monaco-workbench').waitFor({ timeout });
  await page.locator('.part.statusbar').waitFor({ timeout });
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout });
  if (withExtension) {
    await page.locator('.part.activitybar [aria-label^="GPT Lab"]').first().waitFor({ timeout });
  }
}

const PALETTE_INPUT = '.quick-input-widget .quick-input-box input';
const FOCUSED_ROW = '.quick-input-widget .quick-input-list .monaco-list-row.focused';

/**
 * Runs a command from the palette by its label ("GPT Lab: Train on Workspace"). The workbench draws before the
 * extension host registers the extension's commands, so the filter is typed again every second until the
 * focused row is that command.
 */
export async function runCommand(page: Page, label: string, timeout = 60_000): Promise<void> {
  await openPalette(page, label, timeout);
  await page.keyboard.press('Enter');
}

/** Opens the palette filtered to `label` and waits until the focused row is that command (Enter not pressed). */
export async function openPalette(page: Page, label: string, timeout = 60_000): Promise<void> {
  const input = page.locator(PALETTE_INPUT);
  const deadline = Date.now() + timeout;
  for (;;) {
    if (!(await input.isVisible())) {
      await page.keyboard.press('F1');
      await input.waitFor({ timeout: 5_000 }).catch(() => page.keyboard.press('Control+Shift+P'));
    }
    await input.fill('>' + label);
    try {
      await page.locator(FOCUSED_ROW).filter({ hasText: label }).waitFor({ timeout: 1_000 });
      return;
    } catch {
      if (Date.now() > deadline) {
        const seen = await page.locator('.quick-input-list .monaco-list-row').allInnerTexts();
        throw new Error(`"${label}" did not appear in the command palette within ${timeout} ms; rows: ${seen}`);
      }
      await input.fill(''); // let the palette recompute from scratch on the next attempt
    }
  }
}

/** The labels the palette lists for a filter (the palette is left open). */
export async function paletteRows(page: Page, filter: string): Promise<string[]> {
  const input = page.locator(PALETTE_INPUT);
  if (!(await input.isVisible())) await page.keyboard.press('F1');
  await input.fill('>' + filter);
  await page.waitForTimeout(300);
  return page.locator('.quick-input-widget .quick-input-list .monaco-list-row').allInnerTexts();
}

/** The content of the active webview panel (two nested iframes; the inner one by locator, not by name). */
export function webviewFrame(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
}

/** The status bar item an extension contributes with createStatusBarItem(id). */
export function statusBarItem(page: Page, itemId: string) {
  return page.locator(`[id="${EXTENSION_ID}.${itemId}"]`);
}

/** Notification toasts currently shown. */
export function notifications(page: Page) {
  return page.locator('.notification-toast');
}

/** "Developer: Reload Window": VS Code saves its layout (open panels and their state) before it reloads. */
export async function reloadWindow(page: Page): Promise<void> {
  // Wait for the navigation itself: the old page is still "loaded" for a moment after the command runs, and a
  // frame found then is detached under the test.
  const navigated = page.waitForEvent('framenavigated', {
    predicate: (f) => f === page.mainFrame(),
    timeout: 60_000,
  });
  await runCommand(page, 'Developer: Reload Window');
  await navigated;
  await page.waitForLoadState('load');
}

/** "GPT Lab: Train on Workspace" from the palette, then `preset` in the quick pick; resolves once training starts. */
export async function trainFromPalette(page: Page, preset = 'tiny'): Promise<void> {
  await runCommand(page, 'GPT Lab: Train on Workspace');
  await page
    .locator('.quick-input-widget .quick-input-list .monaco-list-row.focused')
    .filter({ hasText: preset })
    .waitFor({ timeout: 60_000 });
  await page.keyboard.press('Enter');
}
