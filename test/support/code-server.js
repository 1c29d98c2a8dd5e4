// Runs a real VS Code offline: code-server (VS Code's server + web workbench) plus a headless Chromium driven by
// playwright-core. Shared by the integration runner (test/integration/runner/code-server.mjs, plain Node) and
// the UI helpers (test/e2e/support/codeServer.ts); plain JS so neither needs a build to use it.
// Install what it needs with `bash .ci/install-code-server.sh`. Measured recipe: ../shared/facts/e2e-code-server.md.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const CODE_SERVER_VERSION = '4.100.3';
const repoRoot = path.resolve(__dirname, '..', '..');
const artifactsDir = process.env.GPT_LAB_ARTIFACTS || path.join(repoRoot, '.artifacts');
const fixtureWorkspace = path.join(repoRoot, 'test', 'fixtures', 'workspace');
const INSTALL_HINT = 'run `bash .ci/install-code-server.sh` (as root, or with sudo) to install it';

/** The code-server binary: $CODE_SERVER_BIN, else the cache folder .ci/install-code-server.sh installs into. */
function findCodeServer() {
  const cache = process.env.GPT_LAB_CACHE || path.join(os.homedir(), '.cache', 'gpt-lab');
  const bin =
    process.env.CODE_SERVER_BIN ||
    path.join(cache, `code-server-${CODE_SERVER_VERSION}`, 'node_modules', '.bin', 'code-server');
  if (!fs.existsSync(bin)) {
    throw new Error(`code-server ${CODE_SERVER_VERSION} not found at ${bin}: ${INSTALL_HINT}.`);
  }
  return bin;
}

/** The Chromium executable: $CHROMIUM_BIN, else Debian's /usr/bin/chromium (never a Playwright download). */
function findChromium() {
  const candidates = process.env.CHROMIUM_BIN
    ? [process.env.CHROMIUM_BIN]
    : ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) throw new Error(`Chromium not found (looked for ${candidates.join(', ')}): ${INSTALL_HINT}.`);
  return found;
}

/** Throws the install hint when code-server or Chromium is missing; returns both paths otherwise. */
function checkPrerequisites() {
  return { codeServer: findCodeServer(), chromium: findChromium() };
}

/** Settings that keep the workbench quiet and deterministic; `extra` overrides or adds. */
function quietSettings(extra = {}) {
  return {
    'security.workspace.trust.enabled': false,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'editor.quickSuggestions': { other: false, comments: false, strings: false },
    'editor.suggestOnTriggerCharacters': false,
    'editor.inlineSuggest.enabled': true,
    'git.enabled': false,
    'window.commandCenter': false,
    ...extra,
  };
}

/**
 * Copies the fixture workspace (or `from`) to a fresh folder and returns its path. The fixture stores its
 * .gitignore as `gitignore` (git in this repo would otherwise honour it); the copy gets the real name.
 */
function copyFixture(dest, from = fixtureWorkspace) {
  fs.mkdirSync(dest, { recursive: true });
  fs.cpSync(from, dest, { recursive: true });
  const stored = path.join(dest, 'gitignore');
  if (fs.existsSync(stored)) fs.renameSync(stored, path.join(dest, '.gitignore'));
  return dest;
}

/** A port nobody listens on right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function httpOk(url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(2000, () => {
      req.destroy();
      resolve(false);
    });
  });
}

/** The environment without the variables that make code-server talk to an enclosing VS Code instead. */
function cleanEnv(extra) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith('VSCODE_') || k === 'ELECTRON_RUN_AS_NODE') delete env[k];
  }
  return { ...env, ...extra };
}

/**
 * Starts code-server in its own process group on a free port, with a fresh user-data-dir (quiet settings) and
 * extensions dir under `dir`. Environment variables in `env` reach the extension host.
 * @param {{ dir: string, folder: string, settings?: object, env?: object, logFile: string,
 *           beforeStart?: (paths: { userDataDir: string, extensionsDir: string }) => void }} o
 */
async function startCodeServer(o) {
  const bin = findCodeServer();
  const userDataDir = path.join(o.dir, 'user-data');
  const extensionsDir = path.join(o.dir, 'extensions');
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify(quietSettings(o.settings), null, 2));
  if (o.beforeStart) o.beforeStart({ userDataDir, extensionsDir });

  // Its own config file, so a developer's ~/.config/code-server/config.yaml neither applies nor gets created.
  const configFile = path.join(o.dir, 'code-server.yaml');
  fs.writeFileSync(configFile, 'auth: none\ncert: false\n');

  const port = await freePort();
  fs.mkdirSync(path.dirname(o.logFile), { recursive: true });
  const log = fs.openSync(o.logFile, 'w');
  const args = [
    '--config',
    configFile,
    '--auth',
    'none',
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--user-data-dir',
    userDataDir,
    '--extensions-dir',
    extensionsDir,
    o.folder,
  ];
  const started = Date.now();
  const proc = spawn(bin, args, { detached: true, stdio: ['ignore', log, log], env: cleanEnv(o.env) });
  fs.closeSync(log);
  let exited = null;
  proc.on('exit', (code, signal) => (exited = { code, signal }));

  // TERM the whole group (server, extension host, the extension's worker...), KILL what is left after 5 s, and
  // return once the group is empty (or after 5 s more).
  const stop = async () => {
    if (!groupAlive(proc.pid)) return;
    killGroup(proc.pid, 'SIGTERM');
    for (let t = 0; t < 50 && !exited; t++) await sleep(100);
    killGroup(proc.pid, 'SIGKILL');
    for (let t = 0; t < 50 && groupAlive(proc.pid); t++) await sleep(100);
  };
  // Never leave a server behind, even when the caller dies first.
  const onExit = () => killGroup(proc.pid, 'SIGKILL');
  process.once('exit', onExit);
  proc.once('exit', () => process.removeListener('exit', onExit));

  const url = `http://127.0.0.1:${port}`;
  while (!(await httpOk(`${url}/healthz`))) {
    if (exited) {
      throw new Error(`code-server exited (${exited.code ?? exited.signal}) before listening; see ${o.logFile}`);
    }
    if (Date.now() - started > 60_000) {
      await stop();
      throw new Error(`code-server did not listen within 60 s; see ${o.logFile}`);
    }
    await sleep(200);
  }
  return { url, port, pid: proc.pid, userDataDir, extensionsDir, process: proc, stop };
}

function groupAlive(pid) {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** The launch options of headless Chromium for playwright-core (offline, no sandbox as root, no GPU). */
function chromiumLaunchOptions() {
  return {
    executablePath: findChromium(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  };
}

/** Launches headless Chromium. */
async function launchChromium() {
  const { chromium } = require('playwright-core');
  return chromium.launch(chromiumLaunchOptions());
}

/** The workbench URL opening `folder`, with an optional payload (e.g. extensionDevelopmentPath). */
function workbenchUrl(server, folder, payload) {
  let u = `${server.url}/?folder=${encodeURIComponent(folder)}`;
  if (payload) u += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  return u;
}

/** A path on the server's disk as the workbench's remote URI. */
function remoteUri(server, absPath) {
  return `vscode-remote://127.0.0.1:${server.port}${absPath}`;
}

/** Every process whose command line contains `needle` (for tests that look for the worker process). */
function processesMatching(needle) {
  const r = spawnSync('ps', ['-eo', 'pid=,ppid=,pgid=,args='], { encoding: 'utf8' });
  return (r.stdout || '')
    .split('\n')
    .map((l) => l.trim().match(/^(\d+)\s+(\d+)\s+(\d+)\s+(.*)$/))
    .filter((m) => m && m[4].includes(needle))
    .map((m) => ({ pid: +m[1], ppid: +m[2], pgid: +m[3], args: m[4] }));
}

module.exports = {
  CODE_SERVER_VERSION,
  INSTALL_HINT,
  repoRoot,
  artifactsDir,
  fixtureWorkspace,
  findCodeServer,
  findChromium,
  checkPrerequisites,
  quietSettings,
  copyFixture,
  freePort,
  startCodeServer,
  chromiumLaunchOptions,
  launchChromium,
  workbenchUrl,
  remoteUri,
  processesMatching,
  sleep,
};
