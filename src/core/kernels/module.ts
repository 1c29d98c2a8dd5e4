import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';

/** The functions of gptlab-kernels.wasm (kernels.c); pointers are byte offsets into the wasm backend's heap. */
export interface KernelExports {
  attention_forward(
    qkv: number,
    y: number,
    p: number,
    B: number,
    T: number,
    H: number,
    hs: number,
    scale: number,
  ): void;
  attention_backward(
    qkv: number,
    p: number,
    dy: number,
    dqkv: number,
    B: number,
    T: number,
    H: number,
    hs: number,
    scale: number,
  ): void;
  attention_cached(
    qkv: number,
    kpast: number,
    vpast: number,
    k: number,
    v: number,
    y: number,
    T: number,
    Tc: number,
    H: number,
    hs: number,
    scale: number,
  ): void;
  gelu_forward(x: number, y: number, n: number): void;
  gelu_backward(x: number, dy: number, dx: number, n: number): void;
  layernorm_forward(
    x: number,
    gamma: number,
    beta: number,
    y: number,
    mean: number,
    rstd: number,
    N: number,
    C: number,
    eps: number,
  ): void;
  layernorm_backward(
    x: number,
    gamma: number,
    mean: number,
    rstd: number,
    dy: number,
    dx: number,
    dgamma: number,
    dbeta: number,
    N: number,
    C: number,
  ): void;
  cross_entropy(logits: number, targets: number, loss: number, grad: number, N: number, V: number): void;
  column_sum(x: number, out: number, N: number, C: number): void;
  embedding_forward(table: number, ids: number, out: number, N: number, V: number, C: number): void;
  embedding_backward(ids: number, dy: number, dtable: number, N: number, V: number, C: number): void;
  embedding_pos_forward(
    table: number,
    ids: number,
    pos: number,
    out: number,
    N: number,
    V: number,
    C: number,
    T: number,
  ): void;
  embedding_pos_backward(
    ids: number,
    dy: number,
    dtable: number,
    dpos: number,
    N: number,
    V: number,
    C: number,
    T: number,
    P: number,
    pos0: number,
  ): void;
  qk_prep_forward(
    qkv: number,
    out: number,
    cos: number,
    sin: number,
    B: number,
    T: number,
    H: number,
    hs: number,
    norm: number,
    eps: number,
  ): void;
  qk_prep_backward(
    qkv: number,
    dout: number,
    dqkv: number,
    cos: number,
    sin: number,
    B: number,
    T: number,
    H: number,
    hs: number,
    norm: number,
    eps: number,
  ): void;
  softcap_forward(x: number, y: number, n: number, cap: number): void;
  softcap_backward(y: number, dy: number, dx: number, n: number, cap: number): void;
  transpose(src: number, dst: number, batch: number, R: number, C: number): void;
  relu2_forward(x: number, y: number, n: number): void;
  relu2_backward(x: number, dy: number, dx: number, n: number): void;
  sum_squares(x: number, n: number): number;
  softcap_cross_entropy(
    x: number,
    targets: number,
    loss: number,
    grad: number,
    N: number,
    V: number,
    cap: number,
  ): void;
  adamw(
    p: number,
    g: number,
    m: number,
    v: number,
    scale: number,
    p1: number,
    m1: number,
    v1: number,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    bc1: number,
    bc2: number,
    eps: number,
    decay: number,
  ): void;
  /** `table`: `count` entries of seven words {p, g, m, v, p1, n, decay (float)}; m and v are updated in place. */
  adamw_many(
    table: number,
    count: number,
    scale: number,
    lr: number,
    beta1: number,
    beta2: number,
    bc1: number,
    bc2: number,
    eps: number,
  ): void;
}

// Node's typings here lack the WebAssembly namespace; the little used of it:
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};
type WasmMemory = { buffer: ArrayBuffer };

/** What the kernels use of tfjs's wasm backend (BackendWasm, whose typings are not exported usefully). */
export interface WasmBackend {
  wasm: { asm: { memory: WasmMemory }; _malloc(bytes: number): number };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  /** How many tensors share this data (a reshape or clone shares it): in-place writes need 1. */
  refCount(dataId: object): number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

export const KERNELS_FILE = 'gptlab-kernels.wasm';
const STACK_BYTES = 1 << 20;

let kernelDir: string | undefined;
/** Where the bundle keeps gptlab-kernels.wasm (next to tfjs's own .wasm files). */
export function setKernelDirectory(dir: string): void {
  kernelDir = dir;
}

/** The committed binary: beside a bundle, or in the source tree when run from tsc's out/. */
export function kernelPath(): string {
  const candidates = [
    ...(kernelDir ? [path.join(kernelDir, KERNELS_FILE)] : []),
    path.join(__dirname, KERNELS_FILE),
    path.resolve(__dirname, '../../../../src/core/kernels', KERNELS_FILE),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`${KERNELS_FILE} not found (looked in ${candidates.join(', ')})`);
  return found;
}

let compiled: object | undefined;
const instances = new WeakMap<object, KernelExports>();

/** kernels.c's module, compiled on first use (or adopted from the thread that compiled it: precompiled.ts). */
export function compiledKernelsModule(): object {
  compiled ??= new WebAssembly.Module(readFileSync(kernelPath()));
  return compiled;
}

export function adoptKernelsModule(mod: object): void {
  compiled ??= mod;
}

/**
 * The kernels, instantiated on this backend's own memory (one instance per backend). Their stack is a block
 * malloc'd from tfjs's heap, so the module owns no memory of its own.
 */
export function kernelsFor(backend: WasmBackend): KernelExports {
  let k = instances.get(backend);
  if (k) return k;
  const instance = new WebAssembly.Instance(compiledKernelsModule(), { env: { memory: backend.wasm.asm.memory } });
  const exports = instance.exports as unknown as KernelExports & { __stack_pointer: { value: number } };
  const stack = backend.wasm._malloc(STACK_BYTES);
  exports.__stack_pointer.value = (stack + STACK_BYTES) & ~15; // the stack grows down
  k = exports;
  instances.set(backend, k);
  return k;
}

/** The heap offset of a tensor's data. */
export function ptr(backend: WasmBackend, t: tf.TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('tensor is not on the wasm backend');
  return d.memoryOffset;
}
