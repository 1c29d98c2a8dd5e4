// Runs the integration tests (out/test/integration/**/*.test.js) with mocha INSIDE a real VS Code extension
// host, offline: code-server serves VS Code 1.100.3, headless Chromium plays the window, and the workbench's
// `payload` URL parameter carries extensionDevelopmentPath (this repo) and extensionTestsPath
// (out/test/integration/index.js), as VS Code's own browser integration tests do.
// Builds nothing: run `npm run build` (tsc to out/, esbuild to dist/) first. Needs code-server and Chromium:
// `bash .ci/install-code-server.sh`. Usage:
//   node test/integration/runner/code-server.mjs [--timeout-min=15] [--grep=pattern]
// Environment: GPT_LAB_INTEGRATION_TIMEOUT_MIN (default 15), CODE_SERVER_BIN, CHROMIUM_BIN, GPT_LAB_KEEP_TMP=1
// (keep the temp folder). The extension host gets GPT_LAB_TEST_SUMMARY (mocha's counts), GPT_LAB_ARTIFACTS,
// GPT_LAB_FIXTURE_WORKSPACE (the copy it opened) and GPT_LAB_TEST_GREP.
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, rmSync, writeFileSync, appendFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import util from 'node:util';

const require = createRequire(import.meta.url);
const cs = require('../../support/code-server.js');

const root = cs.repoRoot;
const artifacts = path.join(root, '.artifacts');
const summary = path.join(artifacts, 'summary-integration.json');
const serverLog = path.join(artifacts, 'code-server-integration.log');
const browserLog = path.join(artifacts, 'browser-integration.log');
const testsEntry = path.join(root, 'out', 'test', 'integration', 'index.js');

const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const timeoutMin = Number(arg('timeout-min') ?? process.env.GPT_LAB_INTEGRATION_TIMEOUT_MIN ?? 15);
const grep = arg('grep') ?? process.env.GPT_LAB_TEST_GREP ?? '';

const WORKBENCH_NOISE =
  /^(Resolving connection token|Resolved connection token|Creating a socket|Updating additional builtin|\[Service Worker\]|ChatSessionStore|getaddrinfo ENOTFOUND|Started initializing default profile|Completed initializing default profile)/;

function fail(message) {
  console.error(`integration: ${message}`);
  process.exit(1);
}

try {
  cs.checkPrerequisites();
} catch (e) {
  fail(e.message);
}
for (const [file, what] of [
  [testsEntry, 'the compiled test entry'],
  [path.join(root, 'dist', 'extension.js'), 'the bundled extension'],
]) {
  if (!existsSync(file)) fail(`${what} ${path.relative(root, file)} is missing: run \`npm run build\` first.`);
}

mkdirSync(artifacts, { recursive: true });
rmSync(summary, { force: true });
writeFileSync(browserLog, '');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'gpt-lab-integration-'));
const folder = cs.copyFixture(path.join(tmp, 'workspace'));

let server;
let browser;
let exitCode = 1;
let timer;
const started = Date.now();
const cleanup = async () => {
  clearTimeout(timer);
  await browser?.close().catch(() => {});
  await server?.stop();
  if (!process.env.GPT_LAB_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
};
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    console.error(`integration: ${sig}, stopping code-server`);
    cleanup().finally(() => process.exit(130));
  });
}

try {
  server = await cs.startCodeServer({
    dir: tmp,
    folder,
    logFile: serverLog,
    env: {
      GPT_LAB_TEST_SUMMARY: summary,
      GPT_LAB_ARTIFACTS: artifacts,
      GPT_LAB_FIXTURE_WORKSPACE: folder,
      GPT_LAB_TEST_GREP: grep,
    },
  });
  console.log(`integration: code-server listening on ${server.url} after ${Date.now() - started} ms`);

  browser = await cs.launchChromium();
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('console', (m) => appendFileSync(browserLog, `[${m.type()}] ${m.text()}\n`));
  page.on('pageerror', (e) => appendFileSync(browserLog, `[pageerror] ${e.stack ?? e}\n`));

  let resolveExit, rejectExit;
  const exited = new Promise((res, rej) => ((resolveExit = res), (rejectExit = rej)));
  exited.catch(() => {}); // handled by the race below, even when it rejects before the race starts
  // The extension host's console (mocha's reporter, printf-style), forwarded by the workbench.
  // The workbench's own log lines arrive the same way; the known offline noise goes to the browser log only.
  await page.exposeFunction('codeAutomationLog', (type, args) => {
    const line = util.format(...(Array.isArray(args) ? args : [args]));
    if (WORKBENCH_NOISE.test(line)) appendFileSync(browserLog, `[${type}] ${line}\n`);
    else (type === 'error' ? console.error : console.log)(line);
  });
  // Called once with the exit code when run() settles (0: resolved, 1: rejected).
  await page.exposeFunction('codeAutomationExit', (code) => resolveExit(code));
  page.on('crash', () => rejectExit(new Error('the workbench page crashed')));
  server.process.once('exit', (code, signal) =>
    rejectExit(new Error(`code-server exited (${code ?? signal}) during the tests`)),
  );

  const payload = [
    ['extensionDevelopmentPath', cs.remoteUri(server, root)],
    ['extensionTestsPath', cs.remoteUri(server, testsEntry)],
    ['skipWelcome', 'true'],
  ];
  await page.goto(cs.workbenchUrl(server, folder, payload));

  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no result after ${timeoutMin} min`)), timeoutMin * 60_000);
  });
  exitCode = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  console.log(`integration: tests exited with ${exitCode} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (e) {
  console.error(`integration: ${e.message ?? e}`);
  console.error(`integration: code-server's log: ${path.relative(root, serverLog)}`);
  exitCode = 1;
}
await cleanup();
process.exit(typeof exitCode === 'number' ? exitCode : 1);
