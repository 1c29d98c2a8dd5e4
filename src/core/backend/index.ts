import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { GptLabError } from '../errors';
import { setKernelDirectory } from '../kernels/module';
import {
  findWebGpuAdapter,
  noGpuDeviceNode,
  registerWebGpu,
  SYNC_READ_MESSAGE,
  webgpuReadsSynchronously,
} from './webgpu';

export { adapterKind, describeAdapter } from './adapterKind';
export type { AdapterFacts, AdapterKind } from './adapterKind';

/**
 * Backends in order of preference; each is loaded only if installed and working. 'auto' takes 'webgpu' only on a
 * hardware adapter (never a software renderer, see adapterKind.ts), and in Node only for a caller that reads
 * tensors asynchronously (InitOptions.readsAsync: the CLI's training stages and compare, and the extension's
 * worker, whose jobs all read with `await data()`).
 */
export const BACKEND_NAMES = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendPreference = BackendName | 'auto';

export interface BackendInfo {
  /** What the user asked for / what runs now (tfjs's name: 'tensorflow', 'webgpu', 'wasm' or 'cpu'). */
  requested: BackendPreference;
  name: BackendName;
  tfjsName: string;
  /** webgpu only: the adapter, e.g. "llvmpipe-llvm-15-0-6-256-bits- (OpenGL ES 3.2 Mesa 22.3.6)", and its kind. */
  adapter?: string;
  /** Why better backends were passed over, for the log. */
  skipped: string[];
}

export interface InitOptions {
  /**
   * The caller reads every tensor with `await data()` and generates asynchronously or through onGenerationBackend
   * (gpt-lab train, finetune, reward, dpo, ppo, compare): 'auto' may take a hardware webgpu adapter even where
   * webgpu cannot read synchronously (Node).
   */
  readsAsync?: boolean;
  /**
   * Other requests run while a job awaits (the extension's worker: completions during training), so the backend
   * must not change under them: onGenerationBackend then generates on webgpu itself (asynchronously) instead of
   * switching the process to wasm, where a request in flight would find its webgpu tensors unreadable.
   */
  concurrent?: boolean;
}

let current: BackendInfo | undefined;
let concurrent = false;

/** Where the wasm binaries are when the code is bundled (the extension copies them next to the bundle). */
let wasmDir: string | undefined;
export function setWasmDirectory(dir: string): void {
  wasmDir = dir.endsWith(path.sep) ? dir : dir + path.sep;
  setKernelDirectory(dir); // gptlab-kernels.wasm ships beside tfjs's
}

// Native packages are optional accelerators: require them by a computed name so bundlers leave them out.
function requireOptional(name: string): unknown {
  return createRequire(__filename)(name);
}

async function tryBackend(name: BackendName, auto: boolean, readsAsync: boolean): Promise<string | undefined> {
  let adapter: string | undefined;
  switch (name) {
    case 'tensorflow-gpu':
      requireOptional('@tensorflow/tfjs-node-gpu');
      break;
    case 'tensorflow':
      requireOptional('@tensorflow/tfjs-node');
      break;
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      if (wasmDir) wasm.setWasmPaths(wasmDir);
      break;
    }
    case 'webgpu': {
      if (auto) {
        // Checked before Dawn loads: costs nothing where the answer is no (Node today).
        if (!readsAsync && !webgpuReadsSynchronously()) {
          throw new Error(`not for auto: ${SYNC_READ_MESSAGE.split(';')[0]}`);
        }
        const noDevice = noGpuDeviceNode();
        if (noDevice) throw new Error(`not for auto: ${noDevice}`);
        await findWebGpuAdapter(false); // throws on a software adapter
      }
      const found = await registerWebGpu();
      adapter = `${found.description}, ${found.kind.kind === 'software' ? `software: ${found.kind.why}` : 'hardware'}`;
      break;
    }
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      break;
  }
  const tfjsName = name === 'tensorflow-gpu' ? 'tensorflow' : name;
  if (!(await tf.setBackend(tfjsName))) throw new Error(`tfjs could not initialise '${tfjsName}'`);
  await tf.ready();
  // The cpu backend greets Node users with an advert for tfjs-node on first use; we already chose.
  if (name === 'cpu') (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  // A working backend must run a tiny matmul.
  const probe = tf.tidy(() => tf.sum(tf.matMul(tf.ones([2, 2]), tf.ones([2, 2]))));
  const v = (await probe.data())[0];
  probe.dispose();
  if (v !== 8) throw new Error(`'${tfjsName}' computed a wrong result`);
  return adapter;
}

/**
 * Picks the best backend that is installed and works (or the forced one) and makes it current.
 * Idempotent: a second call with the same preference returns the current backend.
 */
export async function initBackend(
  preference: BackendPreference = 'auto',
  options: InitOptions = {},
): Promise<BackendInfo> {
  if (options.concurrent) concurrent = true;
  if (current && (preference === 'auto' || preference === current.name)) return current;
  const candidates = preference === 'auto' ? [...BACKEND_NAMES] : [preference];
  if (preference !== 'auto' && !BACKEND_NAMES.includes(preference)) {
    throw new GptLabError(
      `Unknown backend '${preference}'. Choose one of: auto, ${BACKEND_NAMES.join(', ')}.`,
      'BAD_BACKEND',
    );
  }
  const skipped: string[] = [];
  for (const name of candidates) {
    try {
      const adapter = await tryBackend(name, preference === 'auto', options.readsAsync ?? false);
      current = { requested: preference, name, tfjsName: tf.getBackend(), skipped, ...(adapter && { adapter }) };
      return current;
    } catch (err) {
      if (preference !== 'auto' && err instanceof GptLabError) throw err; // it says what to install or change
      skipped.push(`${name}: ${firstLine(err)}`);
    }
  }
  throw new GptLabError(
    `No TensorFlow.js backend works here (${skipped.join('; ')}). Reinstall with 'npm ci', or choose another backend.`,
    'NO_BACKEND',
  );
}

export function currentBackend(): BackendInfo | undefined {
  return current;
}

/**
 * Runs `f` where generation is fastest: batch-1 generation on a CPU backend runs the WebAssembly decode module
 * (a call a token) where webgpu pays a forward's kernels and an async read. So on webgpu `f` runs on the wasm backend
 * (a model it loads from its folder lands there), and webgpu is current again after; elsewhere, and in a process
 * that serves concurrent requests (InitOptions.concurrent), `f` just runs (generateAsync works on webgpu).
 */
export async function onGenerationBackend<T>(f: () => Promise<T>): Promise<T> {
  const before = current;
  if (tf.getBackend() !== 'webgpu' || webgpuReadsSynchronously() || concurrent) return f();
  await initBackend('wasm');
  try {
    return await f();
  } finally {
    await tf.setBackend('webgpu');
    current = before;
  }
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0].slice(0, 160);
}
