/**
 * The tokenized corpus as nanoGPT reads it: `train.bin` and `val.bin`, token ids back to back in little-endian
 * uint16 (uint32 once the vocabulary passes 65 536), and `meta.json` saying how to read them.
 */
import * as path from 'node:path';
import { writeFileAtomic } from '../checkpoint';
import type { Dataset } from '../train/data';

export interface CorpusMeta {
  vocab_size: number;
  dtype: 'uint16' | 'uint32';
  /** Documents are joined by this id (GPT Lab's <|endoftext|>). */
  eot_token: number;
  fim_tokens: { prefix: number; middle: number; suffix: number };
  train_tokens: number;
  val_tokens: number;
  train_bytes: number;
  val_bytes: number;
  [key: string]: unknown;
}

export function tokenDtype(vocabSize: number): 'uint16' | 'uint32' {
  return vocabSize <= 65536 ? 'uint16' : 'uint32';
}

/** Little-endian bytes of `ids` as `dtype`. */
export function tokenBytes(ids: Int32Array, dtype: 'uint16' | 'uint32'): Uint8Array {
  const size = dtype === 'uint16' ? 2 : 4;
  const out = new Uint8Array(ids.length * size);
  const view = new DataView(out.buffer);
  for (let i = 0; i < ids.length; i++) {
    if (size === 2) view.setUint16(2 * i, ids[i], true);
    else view.setUint32(4 * i, ids[i], true);
  }
  return out;
}

export async function writeCorpusBins(
  dir: string,
  data: Dataset,
  meta: Pick<CorpusMeta, 'vocab_size' | 'eot_token' | 'fim_tokens'> & Record<string, unknown>,
): Promise<CorpusMeta> {
  const dtype = tokenDtype(meta.vocab_size);
  await writeFileAtomic(path.join(dir, 'train.bin'), tokenBytes(data.train, dtype));
  await writeFileAtomic(path.join(dir, 'val.bin'), tokenBytes(data.val, dtype));
  const full: CorpusMeta = {
    ...meta,
    dtype,
    train_tokens: data.train.length,
    val_tokens: data.val.length,
    train_bytes: data.trainBytes,
    val_bytes: data.valBytes,
  };
  await writeFileAtomic(path.join(dir, 'meta.json'), JSON.stringify(full, null, 2) + '\n');
  return full;
}
