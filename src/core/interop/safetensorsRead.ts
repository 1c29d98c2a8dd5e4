/**
 * Reading weights written by other tools: any safetensors file of floating-point tensors (F32, F16, BF16, F64),
 * each converted to F32. GPT Lab's own reader (checkpoint/safetensors.ts) accepts only what GPT Lab writes;
 * checkpoints from the Python ecosystem often come in half precision.
 */
import { badImport } from './errors';

export interface FloatTensor {
  shape: number[];
  data: Float32Array;
}

const SIZES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** The tensors of a safetensors file in file order, as F32; throws BAD_IMPORT naming the file and the problem. */
export function readFloatSafetensors(bytes: Uint8Array, fileName: string): Map<string, FloatTensor> {
  const bad = (problem: string) => badImport(`${fileName} is not a usable safetensors file: ${problem}.`);
  if (bytes.length < 8) throw bad(`it holds only ${bytes.length} bytes (truncated?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) {
    throw bad(`its header says ${n} bytes but the file holds ${bytes.length} in all (truncated?)`);
  }
  const headerLength = Number(n);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new Error('not an object');
  } catch (e) {
    throw bad(`the header is not a JSON object (${(e as Error).message})`);
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const out = new Map<string, FloatTensor>();
  const entries = Object.entries(header).filter(([name]) => name !== '__metadata__');
  let covered = 0;
  for (const [name, info] of entries) {
    const { dtype, shape, data_offsets: offsets } = (info ?? {}) as Record<string, unknown>;
    const size = SIZES[String(dtype)];
    if (size === undefined)
      throw bad(`tensor '${name}' has dtype ${JSON.stringify(dtype)} (F32, F16, BF16 or F64 expected)`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw bad(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    }
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw bad(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (end - begin !== count * size) {
      throw bad(
        `tensor '${name}' has ${end - begin} bytes but ${String(dtype)}[${shape.join(', ')}] needs ${count * size}`,
      );
    }
    if (end > dataLength) {
      throw bad(`tensor '${name}' ends at byte ${end} of the data but the file holds only ${dataLength} (truncated)`);
    }
    covered += end - begin;
    out.set(name, { shape: [...(shape as number[])], data: toF32(bytes, dataStart + begin, count, String(dtype)) });
  }
  if (covered !== dataLength) {
    throw bad(`the tensors cover ${covered} bytes of data but the file holds ${dataLength} (truncated or padded)`);
  }
  return out;
}

function toF32(bytes: Uint8Array, at: number, count: number, dtype: string): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, count * SIZES[dtype]);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    if (dtype === 'F32') out[i] = view.getFloat32(4 * i, true);
    else if (dtype === 'F64') out[i] = view.getFloat64(8 * i, true);
    else if (dtype === 'BF16') out[i] = bf16(view.getUint16(2 * i, true));
    else out[i] = f16(view.getUint16(2 * i, true));
  }
  return out;
}

const scratch = new DataView(new ArrayBuffer(4));
function bf16(h: number): number {
  scratch.setUint32(0, h << 16);
  return scratch.getFloat32(0);
}

function f16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
