import { GptLabError } from '../errors';

/** The shape of a GPT. Field names follow nanoGPT's GPTConfig. */
export interface GPTConfig {
  /** Tokens in the vocabulary (bytes + specials + BPE merges). */
  vocabSize: number;
  /** The longest sequence the model sees (block_size). */
  contextLength: number;
  /** Width of the residual stream (d_model). */
  nEmbd: number;
  /** Transformer blocks. */
  nLayer: number;
  /** Attention heads per block; nEmbd must be divisible by it. */
  nHead: number;
  /** Learned position embeddings (GPT-2) or fixed sinusoids ("Attention Is All You Need"). */
  positionEncoding: 'learned' | 'sinusoidal';
}

export interface Preset {
  name: string;
  description: string;
  model: GPTConfig;
  /** Sequences per optimizer step. */
  batchSize: number;
  /** Peak learning rate. */
  learningRate: number;
  /** Share of training documents rearranged for fill-in-the-middle. */
  fimRate: number;
}

export const PRESETS: Record<string, Preset> = {
  tiny: {
    name: 'tiny',
    description: 'trains in a couple of minutes on 2 CPU cores',
    model: { vocabSize: 1024, contextLength: 64, nEmbd: 64, nLayer: 2, nHead: 4, positionEncoding: 'learned' },
    batchSize: 16,
    learningRate: 3e-3,
    // FIM costs a 2-minute model plain next-token skill (val loss after 300 steps on this repository: 4.76 with
    // none, 4.94 with 25%, 5.17 with 50%), and tiny models complete better from the prefix anyway: a little.
    fimRate: 0.2,
  },
  small: {
    name: 'small',
    description: 'about 1.1M parameters and a 256-token context; useful completions after ~15 minutes',
    model: { vocabSize: 2048, contextLength: 256, nEmbd: 128, nLayer: 4, nHead: 4, positionEncoding: 'learned' },
    // 8 × 256 tokens a step keeps a step near 3 s, so Stop and progress stay prompt.
    batchSize: 8,
    learningRate: 1.5e-3,
    fimRate: 0.5,
  },
  base: {
    name: 'base',
    description: "nanoGPT's 6 layers × 384; hours on a CPU, minutes on a GPU",
    model: { vocabSize: 4096, contextLength: 256, nEmbd: 384, nLayer: 6, nHead: 6, positionEncoding: 'learned' },
    // A step of 8 × 256 tokens needs more than the 4 GB a wasm heap can hold; 4 fits.
    batchSize: 4,
    learningRate: 6e-4,
    fimRate: 0.5,
  },
};

export function getPreset(name: string): Preset {
  const p = PRESETS[name];
  if (!p) {
    throw new GptLabError(
      `Unknown preset '${name}'. Choose one of: ${Object.keys(PRESETS).join(', ')} (or give a custom size).`,
      'UNKNOWN_PRESET',
    );
  }
  return p;
}

/** Parameter count, as GPT-2 counts it (tied head counted once). */
export function parameterCount(c: GPTConfig): number {
  const C = c.nEmbd;
  const block = 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + 2 * C + (C * 4 * C + 4 * C) + (4 * C * C + C);
  const pos = c.positionEncoding === 'learned' ? c.contextLength * C : 0;
  return c.vocabSize * C + pos + c.nLayer * block + 2 * C;
}

export function validateConfig(c: GPTConfig): GPTConfig {
  const ints: (keyof GPTConfig)[] = ['vocabSize', 'contextLength', 'nEmbd', 'nLayer', 'nHead'];
  for (const k of ints) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new GptLabError(`Model config: ${k} must be a positive integer (got ${String(v)}).`, 'BAD_CONFIG');
    }
  }
  if (c.nEmbd % c.nHead !== 0) {
    throw new GptLabError(`Model config: nEmbd (${c.nEmbd}) must be divisible by nHead (${c.nHead}).`, 'BAD_CONFIG');
  }
  if (c.positionEncoding !== 'learned' && c.positionEncoding !== 'sinusoidal') {
    throw new GptLabError(`Model config: positionEncoding must be 'learned' or 'sinusoidal'.`, 'BAD_CONFIG');
  }
  return c;
}

/** "1.07M" style. */
export function formatCount(n: number): string {
  if (n >= 1e9) return (n / 1e9).toFixed(2) + 'B';
  if (n >= 1e6) return (n / 1e6).toFixed(2) + 'M';
  if (n >= 1e3) return (n / 1e3).toFixed(1) + 'k';
  return String(n);
}
