import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { GptLabError } from '../errors';
import { AdapterFacts, adapterKind, AdapterKind, describeAdapter } from './adapterKind';
import { patchWebGpuKernels } from './webgpuKernels';

/*
 * TensorFlow.js's WebGPU backend on Dawn for Node (the `webgpu` package, prebuilt). Both packages are optional
 * dependencies (Dawn's binaries are ~130 MB for all platforms, too much for the VSIX); they are loaded by a
 * computed name so bundlers leave them out, and only when this backend is asked for.
 */

export const WEBGPU_INSTALL = 'npm install webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0';

/** The parts of the WebGPU API this file touches (the full types come with the optional package). */
interface GpuAdapter {
  info: AdapterFacts;
  features: Set<string>;
  limits: Record<string, number>;
  requestDevice(descriptor?: object): Promise<unknown>;
}
interface Gpu {
  requestAdapter(options?: object): Promise<GpuAdapter | null>;
}
interface Dawn {
  create(flags: string[]): Gpu;
  globals: Record<string, unknown>;
}
type WebGPUBackendClass = (new (device: unknown, info?: AdapterFacts) => tf.KernelBackend) & {
  prototype: { readSync(dataId: object): unknown };
};

export interface WebGpuAdapter {
  info: AdapterFacts;
  kind: AdapterKind;
  /** 'core': Dawn's default (Vulkan, Metal, D3D12); 'compatibility': its OpenGL ES backend, the software fallback. */
  mode: 'core' | 'compatibility';
  description: string;
}

export const SYNC_READ_MESSAGE =
  "The webgpu backend cannot read a tensor synchronously in Node (tfjs-webgpu's readSync needs a browser's " +
  'OffscreenCanvas); this part of GPT Lab still reads results synchronously. Use --backend wasm for it.';

/** Whether tfjs-webgpu can serve dataSync() here: only where OffscreenCanvas exists (browsers, not Node 20). */
export function webgpuReadsSynchronously(): boolean {
  return typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined';
}

/**
 * Why 'auto' need not load Dawn at all, or undefined: on Linux a hardware adapter needs a GPU device node (a DRM
 * render node, NVIDIA's devices, WSL2's /dev/dxg). Without one Dawn can only find a software renderer, which auto
 * refuses anyway; loading it costs ~1 s and prints driver warnings (the extension's worker starts with auto).
 * GPT_LAB_WEBGPU_PROBE=1 loads Dawn regardless (tests of the adapter rule on a software adapter).
 */
export function noGpuDeviceNode(
  platform = process.platform,
  exists = (p: string) => existsSync(p),
  list = (dir: string) => readdirSyncOrEmpty(dir),
): string | undefined {
  if (platform !== 'linux' || process.env.GPT_LAB_WEBGPU_PROBE === '1') return undefined;
  const render = list('/dev/dri').some((n) => n.startsWith('renderD'));
  if (render || ['/dev/nvidiactl', '/dev/nvidia0', '/dev/dxg'].some(exists)) return undefined;
  return 'no GPU device node (/dev/dri/renderD*, /dev/nvidia*, /dev/dxg): only a software adapter could be found';
}

function readdirSyncOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

let registered = false;
let adapterPromise: Promise<{ adapter: GpuAdapter; found: WebGpuAdapter }> | undefined;

// By a name given at run time, so bundlers leave the optional packages out (as index.ts does for tfjs-node).
function importOptional(name: string): Promise<unknown> {
  return import(name); // 'webgpu' is an ES module: import(), not require()
}
function requireOptional(name: string): unknown {
  return createRequire(__filename)(name);
}

async function loadDawn(): Promise<Dawn> {
  try {
    return (await importOptional('webgpu')) as Dawn;
  } catch (err) {
    throw new GptLabError(
      `The webgpu backend needs the optional package 'webgpu' (Dawn for Node), which did not load ` +
        `(${(err as Error).message.split('\n')[0]}). Install it with: ${WEBGPU_INSTALL}`,
      'WEBGPU_MISSING',
    );
  }
}

function loadTfjsWebgpu(): WebGPUBackendClass {
  try {
    const mod = requireOptional('@tensorflow/tfjs-backend-webgpu') as {
      WebGPUBackend: WebGPUBackendClass;
    };
    return mod.WebGPUBackend;
  } catch (err) {
    throw new GptLabError(
      `The webgpu backend needs the optional package '@tensorflow/tfjs-backend-webgpu' ` +
        `(${(err as Error).message.split('\n')[0]}). Install it with: ${WEBGPU_INSTALL}`,
      'WEBGPU_MISSING',
    );
  }
}

/**
 * The adapter Dawn offers: its default first (a GPU through Vulkan, Metal or D3D12); with `allowSoftware`, else its
 * OpenGL ES backend in compatibility mode, which on a machine without a GPU is Mesa's llvmpipe (Dawn refuses
 * Debian 12's lavapipe Vulkan driver: it lacks shaderUniform*ArrayDynamicIndexing).
 */
export async function findWebGpuAdapter(allowSoftware: boolean): Promise<WebGpuAdapter> {
  adapterPromise ??= (async () => {
    const dawn = await loadDawn();
    for (const [k, v] of Object.entries(dawn.globals)) {
      // GPUBufferUsage, GPUMapMode, … are globals in a browser; tfjs-webgpu reads them as such.
      if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    }
    let gpu = dawn.create([]);
    let adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    let mode: WebGpuAdapter['mode'] = 'core';
    if (!adapter) {
      // Headless Mesa finds no EGL display unless told to render without one.
      if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) process.env.EGL_PLATFORM ??= 'surfaceless';
      gpu = dawn.create(['backend=opengles']);
      adapter = await gpu.requestAdapter({ featureLevel: 'compatibility' });
      mode = 'compatibility';
    }
    if (!adapter) {
      adapterPromise = undefined;
      throw new GptLabError(
        'The webgpu backend found no WebGPU adapter (no GPU driver Dawn accepts, and no OpenGL ES). ' +
          "Install your GPU's Vulkan driver (or, to test without a GPU, Mesa: apt-get install libegl1 libgles2 mesa-vulkan-drivers).",
        'WEBGPU_NO_ADAPTER',
      );
    }
    exposeNavigatorGpu(gpu); // tfjs-webgpu's backend refuses to start without navigator.gpu
    const info = copyInfo(adapter.info);
    const found = { info, kind: adapterKind(info), mode, description: describeAdapter(info) };
    return { adapter, found };
  })();
  const { found } = await adapterPromise;
  if (found.kind.kind === 'software' && !allowSoftware) {
    throw new GptLabError(
      `The only WebGPU adapter is ${found.kind.why}: ${found.description}; 'auto' leaves it out.`,
      'WEBGPU_SOFTWARE',
    );
  }
  return found;
}

function exposeNavigatorGpu(gpu: Gpu): void {
  const g = globalThis as { navigator?: { gpu?: Gpu } };
  if (g.navigator === undefined) g.navigator = { gpu };
  else if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
}

function copyInfo(i: AdapterFacts): AdapterFacts {
  const { vendor, architecture, device, description, adapterType, isFallbackAdapter } = i;
  return { vendor, architecture, device, description, adapterType, isFallbackAdapter };
}

/** Registers tfjs's 'webgpu' backend on the adapter found (software allowed: the user asked for webgpu). */
export async function registerWebGpu(): Promise<WebGpuAdapter> {
  const WebGPUBackend = loadTfjsWebgpu();
  const found = await findWebGpuAdapter(true);
  const { adapter } = await adapterPromise!;
  if (!registered) {
    registered = true;
    patchReadSync(WebGPUBackend);
    patchWebGpuKernels();
    // Ours, not tfjs-webgpu's own factory (which needs navigator.gpu), whatever registered first.
    if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
    tf.registerBackend('webgpu', async () => {
      // The limits tfjs-webgpu asks for itself (its own factory needs navigator.gpu, which Node lacks).
      const l = adapter.limits;
      const device = await adapter.requestDevice({
        requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
        requiredLimits: {
          maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
          maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
          maxBufferSize: l.maxBufferSize,
          maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
          maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
          // Not asked by tfjs-webgpu itself: more inputs per shader means fewer chunks in AddN (webgpuKernels.ts).
          maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
        },
      });
      return new WebGPUBackend(device, found.info);
    });
  }
  return found;
}

/** A synchronous read fails with what to do instead of "OffscreenCanvas is not defined". */
function patchReadSync(cls: WebGPUBackendClass): void {
  const original = cls.prototype.readSync;
  cls.prototype.readSync = function (this: unknown, dataId: object) {
    try {
      return original.call(this, dataId);
    } catch (err) {
      if (err instanceof ReferenceError && /OffscreenCanvas/.test(err.message)) {
        throw new GptLabError(SYNC_READ_MESSAGE, 'WEBGPU_SYNC_READ');
      }
      throw err;
    }
  };
}
