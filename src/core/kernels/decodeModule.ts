import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import { kernelPath } from './module';
import { fastKernelsEnabled } from './switch';

/** The functions of gptlab-decode.wasm (decode.c); pointers are byte offsets into the instance's own memory. */
export interface DecodeExports {
  decode_step(
    model: number,
    kc: number,
    vc: number,
    rows: number,
    ids: number,
    rowOf: number,
    posOf: number,
    N: number,
    lastOf: number,
    nLast: number,
    logits: number,
    scratch: number,
  ): void;
}

// Node's typings here lack the WebAssembly namespace; the little used of it:
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};
interface WasmMemory {
  buffer: ArrayBuffer;
  grow(pages: number): number;
}

export const DECODE_FILE = 'gptlab-decode.wasm';
const PAGE = 65536;

let compiled: object | undefined;
let failed: string | undefined;

/**
 * The compiled module, beside gptlab-kernels.wasm (in the bundle and in the source tree alike), compiled at once
 * by V8's optimising compiler. By default V8 runs a module's baseline (Liftoff) code first and optimises a
 * function only after it has used a budget of calls and loops — for decode_step, one call a token, that takes
 * many completions, at about half the speed (measured: a 64-token prompt 7–25 ms of CPU against 3, a step
 * 0.4–0.6 ms against 0.2, for the first several generations on config B). The flags are set for this one
 * compile (a few milliseconds) and set back, unless the process was started with them.
 */
function decodeModule(): object {
  if (compiled) return compiled;
  const bytes = readFileSync(path.join(path.dirname(kernelPath()), DECODE_FILE));
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const eager = ['--liftoff', '--wasm-lazy-compilation'].filter((f) => !given.some((g) => g.includes(f.slice(2))));
  if (eager.length) v8.setFlagsFromString(eager.map((f) => f.replace('--', '--no-')).join(' '));
  try {
    compiled = new WebAssembly.Module(bytes);
  } finally {
    if (eager.length) v8.setFlagsFromString(eager.join(' '));
  }
  return compiled;
}

/** The decoder's module compiled now, or undefined where it does not compile (precompiled.ts). */
export function compiledDecodeModule(): object | undefined {
  try {
    return decodeModule();
  } catch {
    return undefined;
  }
}

export function adoptDecodeModule(mod: object): void {
  compiled ??= mod;
}

/**
 * Whether generation should take the wasm decoder: fast kernels on (not GPTLAB_KERNELS=reference), the wasm
 * backend (elsewhere the JS decoder or tfjs's own cache stays), and the module loads.
 */
export function wasmDecodeAvailable(backendName: string): boolean {
  if (!fastKernelsEnabled() || backendName !== 'wasm' || failed) return false;
  try {
    decodeModule();
    return true;
  } catch (err) {
    failed = (err as Error).message;
    process.emitWarning(`GPT Lab's wasm decoder is off: ${failed}`);
    return false;
  }
}

/**
 * One instance of the decoder with its own memory, and a first-fit allocator over it (blocks are few and
 * long-lived: the weights, a cache per decoder, scratch). The memory grows as blocks need it, never shrinks;
 * it goes with the instance.
 */
export class DecodeInstance {
  readonly fn: DecodeExports;
  private readonly memory: WasmMemory;
  private readonly base: number;
  /** Live blocks [start, end), by start. */
  private blocks: [number, number][] = [];

  constructor() {
    const inst = new WebAssembly.Instance(decodeModule(), {});
    const e = inst.exports as DecodeExports & { memory: WasmMemory; __heap_base: { value: number } };
    this.fn = e;
    this.memory = e.memory;
    this.base = align(e.__heap_base.value);
  }

  /** A block of `bytes` (16-byte aligned, contents undefined). */
  alloc(bytes: number): number {
    bytes = align(Math.max(bytes, 16));
    let at = this.base;
    let i = 0;
    for (; i < this.blocks.length; i++) {
      if (this.blocks[i][0] - at >= bytes) break;
      at = this.blocks[i][1];
    }
    const end = at + bytes;
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
    this.blocks.splice(i, 0, [at, end]);
    return at;
  }

  free(ptr: number): void {
    const i = this.blocks.findIndex((b) => b[0] === ptr);
    if (i >= 0) this.blocks.splice(i, 1);
  }

  /** Views of the memory (made anew each time: growing detaches the old buffer). */
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }
  i32(ptr: number, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, n);
  }
}

function align(n: number): number {
  return (n + 15) & ~15;
}
