import { Session } from 'node:inspector';

/*
 * Where a training step's CPU time goes, by V8's sampling profiler: self time in each WebAssembly module (gemm.c,
 * kernels.c, tfjs's own wasm) against JavaScript (tfjs's engine and GPT Lab's code) and the garbage collector. tf.profile
 * times kernels from JS, dispatch included; this tells compute from per-op overhead.
 */

interface CallFrame {
  functionName: string;
  url: string;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface CpuSplit {
  /** CPU time (user + system) per step while profiled. */
  cpuMsPerStep: number;
  /** Per category, its share of the samples times cpuMsPerStep. */
  msPerStep: Record<string, number>;
  /** The WebAssembly functions with most self time, milliseconds per step. */
  topWasm: { fn: string; ms: number }[];
}

const post = <T>(s: Session, method: string, params?: object) =>
  new Promise<T>((resolve, reject) =>
    s.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as T))),
  );

/** Names a wasm module by a function it exports: gemm.c's gemm_batch, kernels.c's kernels, decode.c's decode_step. */
function wasmModuleOf(functionName: string): string | undefined {
  if (/^gemm/.test(functionName)) return 'wasm gemm.c';
  if (
    /^(gelu|attention|cross_entropy|layernorm|adamw|column_sum|embedding|softcap|relu2|sum_squares|qk_prep)/.test(
      functionName,
    )
  )
    return 'wasm kernels.c';
  if (/^decode/.test(functionName)) return 'wasm decode.c';
  return undefined;
}

/** Each sample's category; a wasm module's unnamed functions go with the module whose exports share its url. */
function categorizer(frames: CallFrame[]): (f: CallFrame) => string {
  const modules = new Map<string, string>();
  for (const f of frames) {
    const m = f.url.startsWith('wasm://') && wasmModuleOf(f.functionName);
    if (m) modules.set(f.url, m);
  }
  return (f) => {
    if (f.url.startsWith('wasm://')) return modules.get(f.url) ?? 'wasm tfjs';
    if (f.functionName === '(garbage collector)') return 'gc';
    if (f.functionName === '(idle)' || f.functionName === '(program)' || f.functionName === '(root)') return 'other';
    if (f.url.includes('@tensorflow')) return 'js tfjs';
    if (f.url.includes('/out/src/')) return 'js gpt-lab';
    return 'js other';
  };
}

/**
 * Runs `steps` calls of `step` under the sampling profiler (100 µs) and splits their CPU time (process.cpuUsage)
 * by the samples' shares: on a loaded machine a sample's wall-clock delta also holds time the process waited.
 */
export async function cpuSplit(step: () => void, steps: number): Promise<CpuSplit> {
  const s = new Session();
  s.connect();
  try {
    await post(s, 'Profiler.enable');
    await post(s, 'Profiler.setSamplingInterval', { interval: 100 });
    await post(s, 'Profiler.start');
    const u0 = process.cpuUsage();
    for (let i = 0; i < steps; i++) step();
    const u = process.cpuUsage(u0);
    const { profile } = await post<{ profile: CpuProfile }>(s, 'Profiler.stop');
    const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
    const category = categorizer(profile.nodes.map((n) => n.callFrame));
    const cat = new Map<string, number>();
    const wasm = new Map<string, number>();
    let total = 0;
    profile.samples.forEach((id, i) => {
      const f = byId.get(id)!;
      const c = category(f);
      if (c === 'other') return;
      const dt = profile.timeDeltas[i];
      total += dt;
      cat.set(c, (cat.get(c) ?? 0) + dt);
      if (f.url.startsWith('wasm://')) wasm.set(f.functionName, (wasm.get(f.functionName) ?? 0) + dt);
    });
    const cpuMs = (u.user + u.system) / 1000 / steps;
    const ms = (dt: number) => +((dt / Math.max(total, 1)) * cpuMs).toFixed(2);
    return {
      cpuMsPerStep: +cpuMs.toFixed(2),
      msPerStep: Object.fromEntries([...cat].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, ms(v)])),
      topWasm: [...wasm]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 12)
        .map(([fn, dt]) => ({ fn, ms: ms(dt) })),
    };
  } finally {
    s.disconnect();
  }
}
