import { readFileSync } from 'node:fs';
import * as path from 'node:path';
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

/** The compiled module, beside gptlab-kernels.wasm (in the bundle and in the source tree alike). */
function decodeModule(): object {
  compiled ??= new WebAssembly.Module(readFileSync(path.join(path.dirname(kernelPath()), DECODE_FILE)));
  return compiled;
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
