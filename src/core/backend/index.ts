import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { GptLabError } from '../errors';
import { setKernelDirectory } from '../kernels/module';

/** Backends in order of preference; each is loaded only if installed and working. */
export const BACKEND_NAMES = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendPreference = BackendName | 'auto';

export interface BackendInfo {
  /** What the user asked for / what runs now (tfjs's name: 'tensorflow', 'wasm' or 'cpu'). */
  requested: BackendPreference;
  name: BackendName;
  tfjsName: string;
  /** Why better backends were passed over, for the log. */
  skipped: string[];
}

let current: BackendInfo | undefined;

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

async function tryBackend(name: BackendName): Promise<void> {
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
}

/**
 * Picks the best backend that is installed and works (or the forced one) and makes it current.
 * Idempotent: a second call with the same preference returns the current backend.
 */
export async function initBackend(preference: BackendPreference = 'auto'): Promise<BackendInfo> {
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
      await tryBackend(name);
      current = { requested: preference, name, tfjsName: tf.getBackend(), skipped };
      return current;
    } catch (err) {
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

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0].slice(0, 160);
}
