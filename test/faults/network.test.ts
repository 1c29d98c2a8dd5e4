import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { corpusDir, runCli, TINY, tmpDir } from './support';

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
    const train = await runCli(['train', corpus, '--out', model, '--steps', '3', ...TINY, '--json'], { env, nodeArgs });
    assert.equal(train.code, 0, train.stderr);
    const sample = await runCli(['sample', '--model', model, '--max-tokens', '5', '--backend', 'wasm', '--json'], {
      env,
      nodeArgs,
    });
    assert.equal(sample.code, 0, sample.stderr);
    const attempts = await fs.readFile(log, 'utf8').catch(() => '');
    assert.equal(attempts, '', `network access attempted:\n${attempts}`);
  });
});
