import { strict as assert } from 'node:assert';
import { fork, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { defaultTrainConfig } from '../../src/core/train/config';
import type { WorkerRequests } from '../../src/protocol/worker';
import { codeFiles } from '../unit/helpers/tf';
import { corpusDir, ROOT, runCli, TINY, tmpDir } from './support';

/**
 * "Nothing leaves the machine": a preloaded script makes every way of reaching a network (TCP and Unix sockets,
 * servers, UDP, TLS, HTTP(S), fetch, DNS) throw and write down who tried, and the CLI runs under it.
 */
const PRELOAD = `
const fs = require('node:fs');
const record = (what) => {
  fs.appendFileSync(process.env.GPT_LAB_NET_LOG, what + '\\n' + new Error().stack.split('\\n').slice(2, 8).join('\\n') + '\\n\\n');
  throw new Error('network access is not allowed in this test: ' + what);
};
const net = require('node:net');
net.Socket.prototype.connect = function () { record('net.Socket.connect'); };
net.createServer = () => record('net.createServer');
net.Server.prototype.listen = function () { record('net.Server.listen'); };
require('node:dgram').createSocket = () => record('dgram.createSocket');
require('node:tls').connect = () => record('tls.connect');
for (const mod of ['node:http', 'node:https']) {
  const m = require(mod);
  m.request = () => record(mod + '.request');
  m.get = () => record(mod + '.get');
  m.createServer = () => record(mod + '.createServer');
}
const dns = require('node:dns');
for (const f of ['lookup', 'resolve', 'resolve4', 'resolve6']) {
  dns[f] = () => record('dns.' + f);
  dns.promises[f] = async () => record('dns.promises.' + f);
}
globalThis.fetch = async () => record('fetch');
globalThis.WebSocket = function () { record('WebSocket'); };
`;

describe('security: the training process opens no socket', function () {
  this.timeout(120_000);

  it('train and sample run with every network door closed, and none is knocked on', async () => {
    const dir = await tmpDir();
    const preload = path.join(dir, 'no-network.js');
    const log = path.join(dir, 'network.log');
    await fs.writeFile(preload, PRELOAD);
    const env = { GPT_LAB_NET_LOG: log };
    const nodeArgs = ['--require', preload];

    // The trap works: a plain connect is caught and written down.
    const probe = spawnSync(process.execPath, [...nodeArgs, '-e', "require('net').connect(9, '127.0.0.1')"], {
      env: { ...process.env, ...env },
    });
    assert.notEqual(probe.status, 0);
    assert.match(await fs.readFile(log, 'utf8'), /net\.Socket\.connect/);
    await fs.rm(log);

    const corpus = await corpusDir();
    const model = path.join(dir, 'model');
    const train = await runCli(['train', corpus, '--out', model, '--steps', '3', ...TINY, '--json'], {
      env,
      nodeArgs,
      completions: true, // its generation too
    });
    assert.equal(train.code, 0, train.stderr);
    const sample = await runCli(['sample', '--model', model, '--max-tokens', '5', '--backend', 'wasm', '--json'], {
      env,
      nodeArgs,
    });
    assert.equal(sample.code, 0, sample.stderr);
    const attempts = await fs.readFile(log, 'utf8').catch(() => '');
    assert.equal(attempts, '', `network access attempted:\n${attempts}`);
  });

  it("the extension's worker (dist/worker.js, forked as the host forks it) trains without a socket", async () => {
    const dir = await tmpDir();
    const preload = path.join(dir, 'no-network.js');
    const log = path.join(dir, 'network.log');
    await fs.writeFile(preload, PRELOAD);
    const files = codeFiles(4);
    const params: WorkerRequests['train'][0] = {
      corpus: {
        root: dir,
        files,
        summary: { files: files.length, bytes: 0, languages: [], skipped: {} } as never,
        languageIds: ['typescript'],
      },
      config: defaultTrainConfig('tiny', {
        model: { vocabSize: 300, contextLength: 32, nEmbd: 32, nLayer: 1, nHead: 2, positionEncoding: 'learned' },
        batchSize: 2,
        maxSteps: 3,
        maxMinutes: undefined,
      }),
      modelDir: path.join(dir, 'model'),
      resume: false,
    };
    const worker = fork(path.join(ROOT, 'dist', 'worker.js'), [], {
      serialization: 'advanced',
      execArgv: ['--require', preload],
      env: { ...process.env, GPT_LAB_NET_LOG: log, GPT_LAB_BACKEND: 'wasm' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    worker.stderr!.on('data', (d) => (stderr += d));
    try {
      const response = await new Promise<Record<string, unknown>>((resolve, reject) => {
        worker.on('message', (m: Record<string, unknown>) => {
          if (m.kind === 'response' && m.id === 1) resolve(m);
        });
        worker.on('exit', (code) => reject(new Error(`the worker exited (${code}): ${stderr}`)));
        worker.send({ kind: 'request', id: 1, method: 'train', params });
      });
      assert.equal(response.ok, true, JSON.stringify(response.error));
      assert.equal((response.result as { step: number }).step, 3);
    } finally {
      worker.kill('SIGKILL');
    }
    const attempts = await fs.readFile(log, 'utf8').catch(() => '');
    assert.equal(attempts, '', `network access attempted:\n${attempts}`);
  });
});
