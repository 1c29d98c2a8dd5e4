/**
 * Whether a WebGPU adapter is a real GPU or software rendering on the CPU. 'auto' must never train on software
 * (Mesa's llvmpipe through Vulkan (lavapipe) or OpenGL, SwiftShader, Windows' WARP, Dawn's null backend): it is
 * slower than the wasm backend. Forcing `--backend webgpu` still uses one, which is how the path is tested on
 * machines without a GPU.
 */

/** The fields of GPUAdapterInfo (and Dawn's extra adapterType) that tell the two apart. */
export interface AdapterFacts {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  /** Dawn's own field ('discrete GPU', 'integrated GPU', 'CPU', 'unknown'); absent from node-webgpu 0.6. */
  adapterType?: string;
  /** The spec's flag for an adapter with big performance caveats (Chrome's SwiftShader sets it). */
  isFallbackAdapter?: boolean;
}

export type AdapterKind = { kind: 'hardware' } | { kind: 'software'; why: string };

/** Names software renderers report in vendor, device or description (case-insensitive). */
const SOFTWARE_NAMES =
  /llvmpipe|lavapipe|softpipe|swiftshader|swrast|software rasterizer|microsoft basic render|\bwarp\b|null-backend/i;

/**
 * Software when the adapter says so (isFallbackAdapter, adapterType 'CPU') or its names are a known software
 * renderer's. Anything else counts as hardware: a GPU's driver may leave every name empty.
 */
export function adapterKind(info: AdapterFacts): AdapterKind {
  if (info.isFallbackAdapter) return { kind: 'software', why: 'a fallback adapter' };
  if (info.adapterType && /^cpu$/i.test(info.adapterType)) return { kind: 'software', why: "adapter type 'CPU'" };
  const names = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
  const m = SOFTWARE_NAMES.exec(names);
  if (m) return { kind: 'software', why: `a software renderer (${m[0]})` };
  return { kind: 'hardware' };
}

/** The adapter in one line for logs and errors, e.g. "llvmpipe-llvm-15-0-6-256-bits- (OpenGL ES 3.2 Mesa 22.3.6)". */
export function describeAdapter(info: AdapterFacts): string {
  const name = [info.vendor, info.device || info.architecture].filter(Boolean).join(' ') || 'unnamed adapter';
  return info.description ? `${name} (${info.description})` : name;
}
