import { compiledDecodeModule, adoptDecodeModule } from './decodeModule';
import { compiledGeluModule, adoptGeluModule } from './gelu';
import { adoptGemmModules, compiledGemmModules, GemmVariant } from './gemm';
import { adoptKernelsModule, compiledKernelsModule } from './module';

/**
 * GPT Lab's compiled wasm modules, to hand to another thread. V8's flags are one set for the whole process, and
 * the GEMM and decoder modules are compiled by turning two of them off for one compile (--liftoff,
 * --wasm-lazy-compilation: gemm.ts, decodeModule.ts). A thread that compiles wasm while another flips them can
 * see a valid module fail to compile, which V8 treats as fatal ("Check failed: validation_error.has_error()":
 * 2–3 in 30 two-replica bench runs). So the loop's thread compiles every module before it starts a replica, and
 * the replicas adopt them — a WebAssembly.Module crosses to a worker thread in workerData without recompiling —
 * and flip no flag.
 */
export interface KernelModules {
  kernels?: object;
  gemm: [GemmVariant, object | null][];
  decode?: object;
  gelu?: object | null;
}

/** Every module compiled on this thread (now, where not yet); a module that does not load is left out. */
export function compileKernelModules(): KernelModules {
  const attempt = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch {
      return undefined;
    }
  };
  return {
    kernels: attempt(compiledKernelsModule),
    gemm: attempt(compiledGemmModules) ?? [],
    decode: compiledDecodeModule(),
    gelu: attempt(compiledGeluModule),
  };
}

/** Takes another thread's modules, before anything on this thread compiles its own. */
export function adoptKernelModules(m: KernelModules): void {
  if (m.kernels) adoptKernelsModule(m.kernels);
  adoptGemmModules(m.gemm);
  if (m.decode) adoptDecodeModule(m.decode);
  if (m.gelu !== undefined) adoptGeluModule(m.gelu);
}
