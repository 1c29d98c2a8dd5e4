import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { compileKernelModules, KernelModules } from '../../../../src/core/kernels/precompiled';

// Node's typings here lack the WebAssembly namespace.
declare const WebAssembly: { Module: new (bytes: Uint8Array) => object };

const PRECOMPILED = path.join(__dirname, '../../../../src/core/kernels/precompiled.js');

/**
 * A worker thread that counts its wasm compiles and V8 flag changes while it (optionally) adopts `modules` and
 * then asks for every module, as a replica's first steps would.
 */
const PROBE = `
const { workerData, parentPort } = require('node:worker_threads');
const v8 = require('node:v8');
let compiles = 0;
let flips = 0;
const Real = WebAssembly.Module;
// Counts GPT Lab's own compiles: tfjs-core compiles a probe of a few dozen bytes of its own as it loads.
WebAssembly.Module = new Proxy(Real, {
  construct: (target, args) => ((compiles += args[0].byteLength > 1024 ? 1 : 0), new target(...args)),
});
const setFlags = v8.setFlagsFromString;
v8.setFlagsFromString = (flags) => (flips++, setFlags(flags));
const p = require(workerData.precompiled);
if (workerData.modules) p.adoptKernelModules(workerData.modules);
const m = p.compileKernelModules();
parentPort.postMessage({ compiles, flips, kernels: m.kernels instanceof Real, gemm: m.gemm.filter(([, x]) => x instanceof Real).length });
`;

function probe(modules?: KernelModules): Promise<{ compiles: number; flips: number; kernels: boolean; gemm: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(PROBE, { eval: true, workerData: { precompiled: PRECOMPILED, modules } });
    w.once('message', (m) => void w.terminate().then(() => resolve(m)));
    w.once('error', reject);
  });
}

describe('precompiled kernel modules (replica threads compile no wasm and flip no V8 flag)', function () {
  this.timeout(60_000);

  it('compiles every module on this thread', () => {
    const m = compileKernelModules();
    assert.ok(m.kernels instanceof WebAssembly.Module, 'kernels.c');
    assert.ok(
      m.gemm.some(([, x]) => x instanceof WebAssembly.Module),
      'gemm.c',
    );
    assert.ok(m.decode instanceof WebAssembly.Module, 'decode.c');
    assert.ok(m.gelu instanceof WebAssembly.Module, 'gelu.c');
  });

  it('a worker thread given them compiles none and leaves the flags alone; one not given them does both', async () => {
    const adopted = await probe(compileKernelModules());
    assert.deepEqual(adopted, { compiles: 0, flips: 0, kernels: true, gemm: adopted.gemm });
    assert.ok(adopted.gemm >= 1);
    const own = await probe();
    assert.ok(own.compiles >= 3, `compiled ${own.compiles}`);
    assert.ok(own.flips >= 2, `flipped flags ${own.flips} times`);
  });
});
