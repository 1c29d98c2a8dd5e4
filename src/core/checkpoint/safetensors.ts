/**
 * The Hugging Face safetensors format, for the two dtypes GPT Lab stores (F32 weights, I32 counters):
 *
 *   [8 bytes: N, u64 little-endian] [N bytes: JSON header, padded with spaces to a multiple of 8] [data]
 *
 * The header maps each tensor name to `{ dtype, shape, data_offsets: [begin, end] }` (offsets relative to the
 * start of the data) plus an optional `"__metadata__": { string: string }`. Data is little-endian and
 * contiguous, with no gaps. Encoding follows the reference implementation (huggingface/safetensors
 * `serialize`): tensors ordered by dtype (F32 before I32) then name as UTF-8 bytes, `__metadata__` first, compact
 * JSON, so the same tensors give byte-identical files.
 */
import { GptLabError } from '../errors';

export type Dtype = 'F32' | 'I32';

export interface TensorData {
  dtype: Dtype;
  /** [] is a scalar (one element). */
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Tensors by name; decoding keeps the order they have in the file. */
export type NamedTensors = Map<string, TensorData>;

export interface DecodedSafetensors {
  tensors: NamedTensors;
  metadata: Record<string, string>;
}

const DTYPE_SIZE: Record<Dtype, number> = { F32: 4, I32: 4 };
/** The reference sorts by its dtype enum, largest first; F32 comes after I32 in that enum. */
const DTYPE_RANK: Record<Dtype, number> = { F32: 1, I32: 0 };
const METADATA_KEY = '__metadata__';
/** Same limit as the reference implementation: a larger header is garbage, not a checkpoint. */
const MAX_HEADER_BYTES = 100_000_000;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function encodeSafetensors(tensors: NamedTensors, metadata?: Record<string, string>): Uint8Array {
  const names = [...tensors.keys()].sort(
    (a, b) =>
      DTYPE_RANK[tensors.get(b)!.dtype] - DTYPE_RANK[tensors.get(a)!.dtype] ||
      Buffer.compare(Buffer.from(a), Buffer.from(b)),
  );
  // Built as text: JSON.stringify of one object would move integer-like names ("0", "12") first, and the
  // header order must stay the data order above.
  const entries: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    const sorted: Record<string, string> = {};
    for (const key of Object.keys(metadata).sort()) sorted[key] = String(metadata[key]);
    entries.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(sorted)}`);
  }
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    checkTensor(name, t);
    const end = offset + t.data.byteLength;
    const info = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] };
    entries.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    offset = end;
  }
  const json = Buffer.from(`{${entries.join(',')}}`, 'utf8');
  const headerLength = Math.ceil(json.length / 8) * 8;

  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const name of names) {
    const { data } = tensors.get(name)!;
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    if (!LITTLE_ENDIAN) swap32(out.subarray(at, at + data.byteLength));
    at += data.byteLength;
  }
  return out;
}

function checkTensor(name: string, t: TensorData): void {
  if (name === METADATA_KEY) throw new Error(`safetensors: "${METADATA_KEY}" is reserved, not a tensor name`);
  const expected = t.dtype === 'F32' ? Float32Array : t.dtype === 'I32' ? Int32Array : undefined;
  if (!expected || !(t.data instanceof expected)) {
    throw new Error(`safetensors: tensor "${name}" has dtype ${String(t.dtype)} but data ${t.data?.constructor?.name}`);
  }
  const count = elementCount(t.shape);
  if (count !== t.data.length) {
    throw new Error(`safetensors: tensor "${name}" has shape [${t.shape.join(', ')}] but ${t.data.length} values`);
  }
}

/** Product of the shape; undefined when a dimension is not a non-negative safe integer. */
function elementCount(shape: unknown): number | undefined {
  if (!Array.isArray(shape)) return undefined;
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return undefined;
    n *= d;
  }
  return Number.isSafeInteger(n) ? n : undefined;
}

export function decodeSafetensors(bytes: Uint8Array, fileName: string): DecodedSafetensors {
  const bad = (problem: string): GptLabError =>
    new GptLabError(`${fileName} is not a valid safetensors file: ${problem}`, 'BAD_CHECKPOINT');

  if (bytes.length < 8) throw bad(`only ${bytes.length} bytes, too short for the header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8))
    throw bad(`header length ${n} runs past the end of the file (${bytes.length} bytes)`);
  const headerLength = Number(n);
  if (headerLength > MAX_HEADER_BYTES) throw bad(`header length ${headerLength} is too large`);

  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
    if (!text.startsWith('{')) throw new Error('the header does not start with "{"');
    header = JSON.parse(text);
  } catch (e) {
    throw bad(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(header)) throw bad('the header is not a JSON object');

  let metadata: Record<string, string> = {};
  const entries: { name: string; dtype: Dtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (value === null) continue;
      if (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
        throw bad(`"${METADATA_KEY}" must map strings to strings`);
      }
      metadata = { ...(value as Record<string, string>) };
      continue;
    }
    if (!isObject(value)) throw bad(`the entry for tensor "${name}" is not an object`);
    const { dtype, shape, data_offsets: offsets } = value;
    if (dtype !== 'F32' && dtype !== 'I32')
      throw bad(`tensor "${name}" has unsupported dtype ${JSON.stringify(dtype)}`);
    const count = elementCount(shape);
    if (count === undefined) throw bad(`tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[1] < offsets[0]
    ) {
      throw bad(`tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (end - begin !== count * DTYPE_SIZE[dtype]) {
      throw bad(
        `tensor "${name}" has ${end - begin} bytes but shape ${JSON.stringify(shape)} of ${dtype} needs ${count * DTYPE_SIZE[dtype]}`,
      );
    }
    entries.push({ name, dtype, shape: [...(shape as number[])], begin, end });
  }

  // The data must be covered exactly: sorted by offset, each tensor starts where the previous one ended.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  let expected = 0;
  for (const e of entries) {
    if (e.begin !== expected) {
      throw bad(`tensor "${e.name}" starts at byte ${e.begin} of the data, expected ${expected} (gap or overlap)`);
    }
    expected = e.end;
  }
  if (expected !== dataLength) {
    throw bad(`the tensors cover ${expected} bytes of data but the file holds ${dataLength} (truncated or padded)`);
  }

  const tensors: NamedTensors = new Map();
  for (const e of entries) {
    // A fresh, aligned copy: the file's buffer may sit at any byte offset (and Buffer#slice does not copy).
    const copy = new Uint8Array(e.end - e.begin);
    copy.set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    if (!LITTLE_ENDIAN) swap32(copy);
    const data = e.dtype === 'F32' ? new Float32Array(copy.buffer) : new Int32Array(copy.buffer);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reverses the bytes of each 4-byte word in place (only on big-endian hosts). */
function swap32(bytes: Uint8Array): void {
  for (let i = 0; i + 3 < bytes.length; i += 4) {
    [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]] = [bytes[i + 3], bytes[i + 2], bytes[i + 1], bytes[i]];
  }
}
