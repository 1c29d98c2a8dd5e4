import { strict as assert } from 'node:assert';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TrainResult } from '../../src/core/train/trainer';
import type { GptLabApi } from '../../src/host/extension';
import type { WorkerClient } from '../../src/host/workerClient';

async function api(): Promise<GptLabApi> {
  const ext = vscode.extensions.getExtension<GptLabApi>('gpt-lab.gpt-lab');
  assert.ok(ext, 'the extension is installed');
  return ext.activate();
}

/**
 * Every way of reaching a network, wrapped to write down who called it. `who` decides from the call stack whether
 * the caller is ours; `block` makes the call throw (in the worker, all of it is ours) or lets it through (the
 * extension host is shared with VS Code and other extensions, whose sockets are theirs).
 */
const TRAP = `
const fs = require('node:fs');
function trap(log, ours, block) {
  const record = (what) => {
    const stack = new Error().stack.split('\\n').slice(2, 10).join('\\n');
    if (!ours(stack)) return false;
    fs.appendFileSync(log, what + '\\n' + stack + '\\n\\n');
    if (block) throw new Error('network access is not allowed in this test: ' + what);
    return true;
  };
  const undo = [];
  const wrap = (obj, name, what) => {
    const orig = obj[name];
    if (typeof orig !== 'function') return;
    undo.push(() => (obj[name] = orig));
    obj[name] = function (...args) {
      record(what);
      return orig.apply(this, args);
    };
  };
  const net = require('node:net');
  wrap(net.Socket.prototype, 'connect', 'net.Socket.connect');
  wrap(net, 'createServer', 'net.createServer');
  wrap(net.Server.prototype, 'listen', 'net.Server.listen');
  wrap(require('node:dgram'), 'createSocket', 'dgram.createSocket');
  wrap(require('node:tls'), 'connect', 'tls.connect');
  for (const mod of ['node:http', 'node:https']) {
    const m = require(mod);
    for (const f of ['request', 'get', 'createServer']) wrap(m, f, mod + '.' + f);
  }
  const dns = require('node:dns');
  for (const f of ['lookup', 'resolve', 'resolve4', 'resolve6']) {
    wrap(dns, f, 'dns.' + f);
    wrap(dns.promises, f, 'dns.promises.' + f);
  }
  if (typeof globalThis.fetch === 'function') wrap(globalThis, 'fetch', 'fetch');
  if (typeof globalThis.WebSocket === 'function') wrap(globalThis, 'WebSocket', 'WebSocket');
  return () => undo.reverse().forEach((f) => f());
}
module.exports = { trap };
if (process.env.GPT_LAB_NET_LOG && /dist[\\\\/]worker\\.js$/.test(process.argv[1] || '')) {
  trap(process.env.GPT_LAB_NET_LOG, () => true, true);
  fs.appendFileSync(process.env.GPT_LAB_NET_LOG + '.trapped', process.pid + '\\n');
}
`;

/** Ends a worker and waits for its exit, so the next request starts a new one (with the environment of now). */
async function restart(w: WorkerClient): Promise<void> {
  if (!w.running) return;
  const exited = new Promise<void>((resolve) => {
    const s = w.onExit(() => (s.dispose(), resolve()));
  });
  w.stop();
  await exited;
}

describe('Nothing leaves the machine: the extension and its workers open no socket', function () {
  this.timeout(5 * 60_000);

  it('training and completions run with every network call of GPT Lab written down, and there is none', async () => {
    const { lab, completions } = await api();
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gpt-lab-sockets-'));
    const trapFile = path.join(dir, 'trap.js');
    const hostLog = path.join(dir, 'host.log');
    const workerLog = path.join(dir, 'worker.log');
    await fs.writeFile(trapFile, TRAP);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { trap } = require(trapFile) as {
      trap: (log: string, ours: (stack: string) => boolean, block: boolean) => () => void;
    };

    // The extension host: calls whose stack passes through GPT Lab's bundle (or this test, for the probe) are ours.
    const bundle = path.join(lab.context.extensionPath, 'dist', 'extension.js');
    assert.ok(existsSync(bundle), bundle);
    const untrap = trap(hostLog, (stack) => stack.includes(bundle) || stack.includes('sockets.test.js'), false);
    // The workers (they start with the environment of the moment): every call is theirs, and it throws.
    const nodeOptions = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = `${nodeOptions ?? ''} --require ${trapFile}`.trim();
    process.env.GPT_LAB_NET_LOG = workerLog;
    try {
      // The trap works: a connect from a stack that is ours is written down.
      const net = await import('node:net');
      const probe = net.connect({ port: 9, host: '127.0.0.1' });
      probe.on('error', () => undefined);
      probe.destroy();
      assert.match(await fs.readFile(hostLog, 'utf8'), /net\.Socket\.connect/);
      await fs.rm(hostLog);

      await restart(lab.worker);
      await restart(lab.inference);
      if (lab.versions.get('base')) await lab.useVersion('base');
      const resume = lab.info !== null;
      const r = await vscode.commands.executeCommand<TrainResult | undefined>(
        resume ? 'gptLab.resume' : 'gptLab.train',
        {
          preset: 'tiny',
          steps: 3,
        },
      );
      assert.ok(r, 'training ran');
      const folder = vscode.workspace.workspaceFolders![0].uri;
      const uri = vscode.Uri.joinPath(folder, 'src', 'sockets-scratch.ts');
      await vscode.workspace.fs.writeFile(
        uri,
        new TextEncoder().encode('export function f(): void {\n    console.\n}\n'),
      );
      try {
        const doc = await vscode.workspace.openTextDocument(uri);
        await completions.provideInlineCompletionItems(
          doc,
          new vscode.Position(1, 12),
          { triggerKind: vscode.InlineCompletionTriggerKind.Invoke, selectedCompletionInfo: undefined },
          new vscode.CancellationTokenSource().token,
        );
        assert.ok(lab.inference.running, 'the completion reached the inference worker');
        // Both workers that did the work ran under the trap.
        const trapped = (await fs.readFile(workerLog + '.trapped', 'utf8')).split('\n').map(Number);
        assert.ok(
          trapped.includes(lab.worker.pid!),
          `the training worker ${lab.worker.pid} was not trapped: ${trapped}`,
        );
        assert.ok(trapped.includes(lab.inference.pid!), `the inference worker ${lab.inference.pid} was not trapped`);
      } finally {
        await vscode.workspace.fs.delete(uri);
      }
    } finally {
      untrap();
      if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = nodeOptions;
      delete process.env.GPT_LAB_NET_LOG;
      // The suites after this one get workers without the trap.
      await restart(lab.worker);
      await restart(lab.inference);
    }
    const host = await fs.readFile(hostLog, 'utf8').catch(() => '');
    const worker = await fs.readFile(workerLog, 'utf8').catch(() => '');
    assert.equal(host, '', `the extension host side opened a socket:\n${host}`);
    assert.equal(worker, '', `a worker opened a socket:\n${worker}`);
  });
});
