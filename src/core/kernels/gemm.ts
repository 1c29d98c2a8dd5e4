import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import { kernelPath, WasmBackend } from './module';

/** The functions of gptlab-gemm.wasm (gemm.c); pointers are byte offsets into the wasm backend's heap. */
export interface GemmExports {
  gemm_batch(
    a: number,
    b: number,
    c: number,
    batch: number,
    M: number,
    K: number,
    N: number,
    transA: number,
    transB: number,
    strideA: number,
    strideB: number,
    scratch: number,
  ): void;
  gemm_fused(
    a: number,
    b: number,
    c: number,
    M: number,
    K: number,
    N: number,
    transA: number,
    transB: number,
    bias: number,
    colsum: number,
    mul: number,
    scratch: number,
  ): void;
  gemm_scratch(M: number, K: number, N: number): number;
}

/** relaxed: multiply-adds by relaxed SIMD (an FMA on x86 with FMA3); plain: WebAssembly SIMD's mul + add. */
export type GemmVariant = 'relaxed' | 'plain';
export const GEMM_FILES: Record<GemmVariant, string> = {
  relaxed: 'gptlab-gemm-relaxed.wasm',
  plain: 'gptlab-gemm.wasm',
};

// Node's typings here lack the WebAssembly namespace; the little used of it:
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};

type Heap = WasmBackend['wasm'] & { _free(ptr: number): void };

const STACK_BYTES = 1 << 16;
const compiled = new Map<GemmVariant, object | null>();

/**
 * The module compiled at once by V8's optimising compiler (as decodeModule does: one call runs long loops, and
 * the baseline code would be several times slower until tiered up). Relaxed SIMD ships in V8 11.4+; Node 20's
 * V8 11.3 has it behind a flag, turned on here when the module does not compile without it. null: it does not
 * compile on this runtime.
 */
function compile(variant: GemmVariant): object | null {
  if (compiled.has(variant)) return compiled.get(variant)!;
  const bytes = readFileSync(path.join(path.dirname(kernelPath()), GEMM_FILES[variant]));
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const eager = ['--liftoff', '--wasm-lazy-compilation'].filter((f) => !given.some((g) => g.includes(f.slice(2))));
  if (eager.length) v8.setFlagsFromString(eager.map((f) => f.replace('--', '--no-')).join(' '));
  let mod: object | null = null;
  try {
    mod = new WebAssembly.Module(bytes);
  } catch {
    if (variant === 'relaxed') {
      try {
        v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
        mod = new WebAssembly.Module(bytes);
      } catch {
        mod = null;
      }
    }
  } finally {
    if (eager.length) v8.setFlagsFromString(eager.join(' '));
  }
  compiled.set(variant, mod);
  return mod;
}

interface Instance {
  fn: GemmExports;
  scratch: number;
  scratchFloats: number;
  raw: number;
}
const instances = new WeakMap<object, Map<GemmVariant, Instance | null>>();

function instanceFor(backend: WasmBackend, variant: GemmVariant): Instance | null {
  let byVariant = instances.get(backend);
  if (!byVariant) instances.set(backend, (byVariant = new Map()));
  if (byVariant.has(variant)) return byVariant.get(variant)!;
  const mod = compile(variant);
  let inst: Instance | null = null;
  if (mod) {
    const e = new WebAssembly.Instance(mod, { env: { memory: backend.wasm.asm.memory } }).exports as GemmExports & {
      __stack_pointer: { value: number };
    };
    const stack = backend.wasm._malloc(STACK_BYTES);
    e.__stack_pointer.value = (stack + STACK_BYTES) & ~15; // the stack grows down
    inst = { fn: e, scratch: 0, scratchFloats: 0, raw: 0 };
  }
  byVariant.set(variant, inst);
  return inst;
}

/*
 * GPTLAB_GEMM as the process started, read once: gemmVariant runs for every product, and a read of process.env
 * there cost 7–9 µs (36 a step on config A: ~1% of its step). Tests and benches switch it with setGemmVariant.
 */
let asked: string | undefined = process.env.GPTLAB_GEMM;

/** Picks the variant as GPTLAB_GEMM would (off, plain, relaxed; undefined: the default); returns the previous. */
export function setGemmVariant(variant: GemmVariant | 'off' | undefined): GemmVariant | 'off' | undefined {
  const before = asked as GemmVariant | 'off' | undefined;
  asked = variant;
  return before;
}

/** The variant this runtime runs: relaxed where it compiles, else plain, else none (GPTLAB_GEMM picks one). */
export function gemmVariant(): GemmVariant | undefined {
  if (asked === 'off') return undefined;
  if (asked === 'plain' || asked === 'relaxed') return compile(asked) ? asked : undefined;
  if (compile('relaxed')) return 'relaxed';
  return compile('plain') ? 'plain' : undefined;
}

/** The modules compiled so far, the running variant's at least: for replica threads to adopt (precompiled.ts). */
export function compiledGemmModules(): [GemmVariant, object | null][] {
  gemmVariant();
  return [...compiled];
}

/** Takes modules another thread compiled, so that this thread compiles (and flips V8's flags for) none. */
export function adoptGemmModules(modules: [GemmVariant, object | null][]): void {
  for (const [variant, mod] of modules) if (!compiled.has(variant)) compiled.set(variant, mod);
}

/** The variant's instance with scratch for these sizes, or null where the variant does not load. */
function ready(backend: WasmBackend, variant: GemmVariant, M: number, K: number, N: number): Instance | null {
  const inst = instanceFor(backend, variant);
  if (!inst) return null;
  const need = inst.fn.gemm_scratch(M, K, N);
  if (need > inst.scratchFloats) {
    const heap = backend.wasm as Heap;
    if (inst.raw) heap._free(inst.raw);
    inst.raw = heap._malloc(need * 4 + 16);
    inst.scratch = (inst.raw + 15) & ~15;
    inst.scratchFloats = need;
  }
  return inst;
}

/**
 * c [batch, M, N] = op(a) · op(b) on the backend's heap (byte offsets); a is [K, M] per batch item when transA,
 * b [N, K] when transB; stride 0 shares one operand across the batch. false: the variant does not load here.
 */
export function gemm(
  backend: WasmBackend,
  variant: GemmVariant,
  [a, b, c]: [number, number, number],
  [batch, M, K, N]: [number, number, number, number],
  transA: boolean,
  transB: boolean,
  [strideA, strideB]: [number, number],
): boolean {
  const inst = ready(backend, variant, M, K, N);
  if (!inst) return false;
  inst.fn.gemm_batch(a, b, c, batch, M, K, N, +transA, +transB, strideA, strideB, inst.scratch);
  return true;
}

/**
 * One product c [M, N] = op(a) · op(b) (as gemm) with a linear layer's extras, heap offsets or 0 for none: `bias`
 * [N] added to every row, `colsum` [N] written with the column sums of op(b), c multiplied element-wise by `mul`
 * [M, N]. false: the variant does not load.
 */
export function gemmFused(
  backend: WasmBackend,
  variant: GemmVariant,
  [a, b, c]: [number, number, number],
  [M, K, N]: [number, number, number],
  transA: boolean,
  transB: boolean,
  { bias = 0, colsum = 0, mul = 0 }: { bias?: number; colsum?: number; mul?: number },
): boolean {
  const inst = ready(backend, variant, M, K, N);
  if (!inst) return false;
  inst.fn.gemm_fused(a, b, c, M, K, N, +transA, +transB, bias, colsum, mul, inst.scratch);
  return true;
}
