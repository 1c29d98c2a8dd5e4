/**
 * How much memory training a config takes, estimated before anything is allocated: a model that cannot fit
 * otherwise runs for minutes and dies with a bare "Aborted()" (wasm) or "Invalid typed array length".
 *
 * Measured with tf.profile's peakBytes for one training step on the wasm backend (14 shapes, fit within 0.3%):
 * per element, in float32s, the tape keeps ~182 per layer per token per channel (every op's inputs and
 * outputs until the backward pass), ~10 per layer per attention score (B·H·T·T), ~9.6 per logit (B·T·V),
 * ~25 per token per channel outside the blocks, and parameters, gradients and Adam's moments take ~7 per
 * parameter. The coefficients below are rounded up, so the estimate errs on the side of refusing.
 */
import * as os from 'node:os';
import { GptLabError } from '../errors';
import { GPTConfig, parameterCount } from './config';

/** A wasm memory cannot grow past 4 GiB; leave room for the heap's own overhead and fragmentation. */
export const WASM_HEAP_BYTES = 4 * 1024 ** 3;
export const USABLE_HEAP_FRACTION = 0.9;

/** What a backend can give one training run, and what to call that in a message. */
export function memoryLimit(backend: string): { bytes: number; where: string } {
  if (backend === 'wasm') return { bytes: WASM_HEAP_BYTES * USABLE_HEAP_FRACTION, where: 'the wasm heap' };
  // Native backends and cpu use the machine's memory (a GPU has its own, usually less: this is a ceiling).
  return { bytes: os.totalmem() * 0.8, where: "this machine's memory" };
}

export interface MemoryEstimate {
  /** Parameters, gradients and the two Adam moments. */
  weightsBytes: number;
  /** What one step's forward and backward pass hold at their peak. */
  activationBytes: number;
  totalBytes: number;
}

export function estimateTrainingMemory(c: GPTConfig, batchSize: number): MemoryEstimate {
  const B = batchSize;
  const T = c.contextLength;
  const tokens = B * T;
  const perLayer = 184 * tokens * c.nEmbd + 11 * B * c.nHead * T * T;
  const floats = c.nLayer * perLayer + 10 * tokens * c.vocabSize + 26 * tokens * c.nEmbd;
  const weightsBytes = 4 * 7 * parameterCount(c);
  const activationBytes = 4 * floats;
  return { weightsBytes, activationBytes, totalBytes: weightsBytes + activationBytes };
}

type SizeKey = 'nLayer' | 'nEmbd' | 'contextLength' | 'vocabSize' | 'batchSize';
/** In the order a user would try them: the batch costs nothing in quality per token, the vocabulary little. */
const FLAGS: Record<SizeKey, string> = {
  batchSize: '--batch',
  contextLength: '--context',
  nEmbd: '--embd',
  nLayer: '--layers',
  vocabSize: '--vocab',
};

/**
 * Throws TOO_BIG when training `c` with batches of `batchSize` would need more than `limitBytes`, naming the
 * options to lower and the largest value of each that fits with the others unchanged.
 */
export function checkTrainingFits(c: GPTConfig, batchSize: number, limitBytes: number, where = 'memory'): void {
  const need = estimateTrainingMemory(c, batchSize).totalBytes;
  if (need <= limitBytes) return;
  const fits = (k: SizeKey, v: number) =>
    k === 'batchSize'
      ? estimateTrainingMemory(c, v).totalBytes <= limitBytes
      : estimateTrainingMemory({ ...c, [k]: v }, batchSize).totalBytes <= limitBytes;
  const current = (k: SizeKey) => (k === 'batchSize' ? batchSize : c[k]);
  const keys = (Object.keys(FLAGS) as SizeKey[])
    .map((k) => ({ k, largest: largestFitting(current(k), (v) => fits(k, v)) }))
    .filter((x) => x.largest > 0);
  const hints = keys.map(({ k, largest }) => `${FLAGS[k]} ${current(k)} → at most ${largest}`);
  throw new GptLabError(
    `Training this model needs about ${formatBytes(need)} (${c.nLayer} layers × ${c.nEmbd}, context ${c.contextLength}, ` +
      `vocabulary ${c.vocabSize}, batches of ${batchSize}), more than the ${formatBytes(limitBytes)} ${where} can hold. ` +
      (hints.length
        ? `Lower one of the options, each with the others unchanged: ${hints.join('; ')}.`
        : 'Choose a smaller preset.'),
    'TOO_BIG',
  );
}

/** The largest v in [1, current) with fits(v) (fits grows false as v grows), or 0 when even 1 does not fit. */
function largestFitting(current: number, fits: (v: number) => boolean): number {
  if (!fits(1)) return 0;
  let lo = 1;
  let hi = current;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(0)} MB`;
  return `${Math.ceil(n / 1024)} KB`;
}
