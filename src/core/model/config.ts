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
  /**
   * Learned position embeddings (GPT-2), fixed sinusoids ("Attention Is All You Need"), or rotary embeddings
   * (RoFormer: queries and keys rotated by position; no `wpe.weight`).
   */
  positionEncoding: 'learned' | 'sinusoidal' | 'rotary';
  // Recipe options (modded-nanogpt). Each is optional and off when absent, so GPT-2's recipe and model folders
  // saved before they existed load unchanged; validateConfig fills the defaults in.
  /** RMS-normalise queries and keys (per head, no gain) before attention. Default false. */
  qkNorm?: boolean;
  /** The MLP's non-linearity: GPT-2's tanh GELU, or ReLU² (relu(x)²). Default 'gelu'. */
  mlp?: 'gelu' | 'relu2';
  /** A separate output head `lm_head.weight` [nEmbd, vocabSize] instead of reusing wte. Default false. */
  untiedHead?: boolean;
  /** Biases in linear layers and LayerNorms. Default true; false drops every `.bias` parameter. */
  bias?: boolean;
  /** Initialise the residual output projections (attn.c_proj, mlp.c_proj, lm_head) to zero. Default false. */
  zeroInitProj?: boolean;
  /** Logits squashed to cap·tanh(logits/cap); 0 = off (default). */
  logitSoftCap?: number;
  /**
   * Value residual (modded-nanogpt, "ResFormer"): every block after the first mixes the first block's attention
   * values into its own, v ← (1 − λ)·v + λ·v₁, λ learned per block (`h.N.attn.v_mix`, starts at 0.5). Default false.
   */
  valueResidual?: boolean;
  /**
   * Embedding shortcut (modded-nanogpt's x0 lambdas): every block after the first starts from
   * λ₀·x + λ₁·x₀, x₀ the embedded input, λ learned per block (`h.N.x0_mix`, starts at [1, 0]). Default false.
   */
  embedShortcut?: boolean;
}

/** The recipe options filled in: what the model code reads. */
export type ResolvedGPTConfig = Required<GPTConfig>;

/** GPT-2's recipe: every option off. */
export const GPT2_RECIPE = {
  qkNorm: false,
  mlp: 'gelu',
  untiedHead: false,
  bias: true,
  zeroInitProj: false,
  logitSoftCap: 0,
  valueResidual: false,
  embedShortcut: false,
} as const satisfies Partial<GPTConfig>;

/** The modded-nanogpt recipe's architecture (with `positionEncoding: 'rotary'`). */
export const MODERN_RECIPE = {
  positionEncoding: 'rotary',
  qkNorm: true,
  mlp: 'relu2',
  untiedHead: true,
  bias: false,
  zeroInitProj: true,
  logitSoftCap: 30,
} as const satisfies Partial<GPTConfig>;

/** The config with every recipe option given (absent ones at GPT-2's value). */
export function resolveConfig(c: GPTConfig): ResolvedGPTConfig {
  return {
    ...c,
    qkNorm: c.qkNorm ?? GPT2_RECIPE.qkNorm,
    mlp: c.mlp ?? GPT2_RECIPE.mlp,
    untiedHead: c.untiedHead ?? GPT2_RECIPE.untiedHead,
    bias: c.bias ?? GPT2_RECIPE.bias,
    zeroInitProj: c.zeroInitProj ?? GPT2_RECIPE.zeroInitProj,
    logitSoftCap: c.logitSoftCap ?? GPT2_RECIPE.logitSoftCap,
    valueResidual: c.valueResidual ?? GPT2_RECIPE.valueResidual,
    embedShortcut: c.embedShortcut ?? GPT2_RECIPE.embedShortcut,
  };
}

/**
 * The two architectures a model can have. `gpt2` is GPT-2's recipe of 2019 (learned positions, GELU, tied head,
 * biases, AdamW with a cosine schedule): Hugging Face's GPT2LMHeadModel loads its export as is. `modern` is the
 * modded-nanogpt architecture (MODERN_RECIPE) with the optimizer and schedule the measurements chose
 * (docs/experiments.md); its weights keep GPT-2's names where a tensor means the same thing (docs/weights.md).
 */
export type Architecture = 'gpt2' | 'modern';
export const ARCHITECTURES: readonly Architecture[] = ['modern', 'gpt2'];
export const ARCHITECTURE_DESCRIPTIONS: Record<Architecture, string> = {
  modern:
    'rotary positions, QK-norm, ReLU², untied head, no biases, zero-initialised projections, logit soft-cap; ' +
    'Muon optimizer, warm-up/stable/decay schedule — reaches GPT-2’s loss in a quarter of the tokens or fewer',
  gpt2: 'GPT-2’s architecture and recipe (learned positions, GELU, tied head, biases, cosine schedule); its export loads in Hugging Face transformers as GPT2LMHeadModel',
};

/**
 * The training side of the modern recipe: Muon for the blocks' matrices (AdamW, at MUON_ADAM_LR_SCALE × the rate,
 * for embeddings, head and gains) with a warm-up/stable/decay schedule. Measured at `tiny` size, 150k tokens, two
 * codebases, 2 seeds: GPT-2's final loss in 0.24× (JavaScript) and 0.18× (Python) of its tokens, against 0.50× and
 * 0.40× with AdamW alone; a Muon step costs ~1.1× an AdamW step since Newton–Schulz runs on the Gram matrix
 * (docs/experiments.md).
 */
export const MODERN_TRAINING = { optimizer: 'muon', schedule: 'wsd' } as const;

/** What an architecture touches in a training config (a structural type, so train/config.ts need not be imported). */
export interface ArchitectureFields {
  model: GPTConfig;
  optimizer?: 'adamw' | 'muon';
  schedule?: 'cosine' | 'wsd';
}

/** The model options an architecture sets (sizes and position encoding aside). */
const RECIPE_KEYS = [
  'qkNorm',
  'mlp',
  'untiedHead',
  'bias',
  'zeroInitProj',
  'logitSoftCap',
  'valueResidual',
  'embedShortcut',
] as const;

/** `cfg` with `arch`'s model options, optimizer and schedule (sizes, rates and budget unchanged). */
export function withArchitecture<T extends ArchitectureFields>(cfg: T, arch: Architecture): T {
  const model: GPTConfig = { ...cfg.model };
  for (const k of RECIPE_KEYS) delete model[k];
  if (arch === 'gpt2')
    return { ...cfg, model: { ...model, positionEncoding: 'learned' }, optimizer: 'adamw', schedule: 'cosine' };
  if (arch === 'modern') return { ...cfg, model: { ...model, ...MODERN_RECIPE }, ...MODERN_TRAINING };
  throw new GptLabError(
    `Unknown architecture '${String(arch)}'. Choose one of: ${ARCHITECTURES.join(', ')}.`,
    'BAD_CONFIG',
  );
}

/** The architecture a model config has: `modern` when it has any of the newer options, else `gpt2`. */
export function architectureOf(c: GPTConfig): Architecture {
  const r = resolveConfig(c);
  const gpt2 =
    c.positionEncoding !== 'rotary' &&
    r.qkNorm === GPT2_RECIPE.qkNorm &&
    r.mlp === GPT2_RECIPE.mlp &&
    r.untiedHead === GPT2_RECIPE.untiedHead &&
    r.bias === GPT2_RECIPE.bias &&
    r.zeroInitProj === GPT2_RECIPE.zeroInitProj &&
    r.logitSoftCap === GPT2_RECIPE.logitSoftCap &&
    r.valueResidual === GPT2_RECIPE.valueResidual &&
    r.embedShortcut === GPT2_RECIPE.embedShortcut;
  return gpt2 ? 'gpt2' : 'modern';
}

/** A setting's value as an architecture; anything else is the default (`modern`). */
export function parseArchitecture(value: unknown): Architecture {
  return ARCHITECTURES.includes(value as Architecture) ? (value as Architecture) : 'modern';
}

export interface Preset {
  name: string;
  description: string;
  /** Its shape; the architecture's options are added by defaultTrainConfig. */
  model: GPTConfig;
  /** Sequences per optimizer step. */
  batchSize: number;
  /** Peak learning rate. */
  learningRate: number;
  /** Share of training documents rearranged for fill-in-the-middle. */
  fimRate: number;
  /** The recipe (docs/experiments.md: it won on two codebases). */
  architecture: Architecture;
  /** A cap in passes over the training tokens (TrainConfig.maxPasses): `auto` sets it, the fixed sizes do not. */
  maxPasses?: number;
}

const TINY_MODEL: GPTConfig = {
  // 2,048 rather than 1,024 tokens: at equal CPU minutes no worse on two codebases, better on one (docs/experiments.md §5).
  vocabSize: 2048,
  contextLength: 64,
  nEmbd: 64,
  nLayer: 2,
  nHead: 4,
  positionEncoding: 'learned',
};

export const PRESETS: Record<string, Preset> = {
  tiny: {
    name: 'tiny',
    description: 'trains in a couple of minutes on 2 CPU cores',
    model: TINY_MODEL,
    batchSize: 16,
    learningRate: 3e-3,
    // FIM costs a 2-minute model plain next-token skill (val loss after 300 steps on this repository: 4.76 with
    // none, 4.94 with 25%, 5.17 with 50%), and tiny models complete better from the prefix anyway: a little.
    fimRate: 0.2,
    architecture: 'modern',
  },
  small: {
    name: 'small',
    description:
      'about 1.3M parameters and a 256-token context; for runs of about 45 minutes or more (before that, tiny or 3 × 96 learn more per minute)',
    model: { vocabSize: 2048, contextLength: 256, nEmbd: 128, nLayer: 4, nHead: 4, positionEncoding: 'learned' },
    // 8 × 256 tokens a step keeps a step near 3 s, so Stop and progress stay prompt.
    batchSize: 8,
    learningRate: 1.5e-3,
    fimRate: 0.5,
    architecture: 'modern',
  },
  base: {
    name: 'base',
    description: "nanoGPT's 6 layers × 384; hours on a CPU, minutes on a GPU",
    model: { vocabSize: 4096, contextLength: 256, nEmbd: 384, nLayer: 6, nHead: 6, positionEncoding: 'learned' },
    // A step of 8 × 256 tokens needs more than the 4 GB a wasm heap can hold; 4 fits.
    batchSize: 4,
    learningRate: 6e-4,
    fimRate: 0.5,
    architecture: 'modern',
  },
};

export function getPreset(name: string): Preset {
  // 'auto' without a corpus and budget: the size autoPreset picks for the extension's default 2 minutes.
  if (name === AUTO_PRESET) return autoPreset({});
  const p = PRESETS[name];
  if (!p) {
    throw new GptLabError(
      `Unknown preset '${name}'. Choose one of: ${[...Object.keys(PRESETS), AUTO_PRESET].join(', ')} (or give a custom size).`,
      'UNKNOWN_PRESET',
    );
  }
  return p;
}

/** The preset name that picks a size from the corpus and the minutes (autoPreset). */
export const AUTO_PRESET = 'auto';

/**
 * The sizes `auto` chooses from, smallest first, with the speed that turns minutes into tokens: training tokens
 * per second of one thread on an idle core (= per CPU-second), evaluation included, wasm with GPT Lab's GEMM and
 * fused kernels: medians of `gpt-lab experiment --cpu-minutes` runs of 0.5–10 CPU-minutes on the shared 2-core VM
 * at load 5–14 (docs/experiments.md §7), where a CPU-second does a little less than an idle one, so `auto` errs small.
 */
export const AUTO_LADDER: { preset: Preset; tokensPerSecond: number }[] = [
  { preset: PRESETS.tiny, tokensPerSecond: 11300 },
  {
    preset: {
      name: 'mid',
      // The shape measured against tiny at equal CPU minutes: tiny's context, vocabulary, batch and rate.
      description: '3 layers × 96, a 64-token context',
      model: { vocabSize: 2048, contextLength: 64, nEmbd: 96, nLayer: 3, nHead: 4, positionEncoding: 'learned' },
      batchSize: 16,
      learningRate: 3e-3,
      fimRate: 0.2,
      architecture: 'modern',
    },
    tokensPerSecond: 5700,
  },
  { preset: PRESETS.small, tokensPerSecond: 2400 },
];

/**
 * Training tokens per parameter a size needs before a larger one pays. Chinchilla's compute-optimal ratio is ~20;
 * fewer is the usual choice when compute, not data, is short. Measured at equal CPU minutes (docs/experiments.md
 * §5): 3 × 96 lost to tiny at 1.3 (2 min) and 1.8 tokens per parameter (5 min), so the bar is above that; where
 * between 1.8 and 20 it lies is not measured, and 5 keeps tiny to ~10.6 minutes.
 */
export const AUTO_TOKENS_PER_PARAM = 5;

/**
 * Passes over the training tokens `auto` trains at most: a small corpus is memorised long before the minutes end.
 * Tiny on asyncio (425 kB, ~8–11 passes in 2 CPU-minutes) reached 1.18 held-out bits per byte, but 1.49 after
 * ~37 passes in 10. Provisional: 4, 8 and 16 passes are being measured on asyncio.
 */
export const AUTO_MAX_PASSES = 8;

/** Bytes per token of code at a 2,048-token vocabulary, to plan passes before the tokenizer has run (eslint/lib's held-out files 3.2, asyncio's 4.1). */
export const AUTO_BYTES_PER_TOKEN = 3.5;

/**
 * The vocabulary a corpus supports: BPE merges learnt from a very small corpus are rare in held-out code. (At
 * 420 kB a 2,048-token vocabulary still beat 1,024 per token: docs/experiments.md, so only tiny corpora shrink.)
 */
export function autoVocabSize(corpusBytes: number, largest: number): number {
  return corpusBytes < SMALL_CORPUS_BYTES ? Math.min(largest, 512) : largest;
}
const SMALL_CORPUS_BYTES = 64 * 1024;

/**
 * The preset for a budget: the largest size of AUTO_LADDER whose planned tokens (its measured speed × the minutes)
 * reach AUTO_TOKENS_PER_PARAM per parameter, or that can train all of its AUTO_MAX_PASSES passes over the corpus in
 * the minutes (a small corpus: the data, not the compute, is short, and at equal passes a larger model learns more
 * from it — asyncio, 8 passes: tiny 1.117, 3 × 96 1.079 held-out bits per byte); the smallest otherwise. The
 * vocabulary shrinks for a small corpus (autoVocabSize), and the run stops after AUTO_MAX_PASSES passes. Pure: the
 * same corpus size and minutes always give the same preset.
 */
export function autoPreset(o: { corpusBytes?: number; minutes?: number }): Preset & { tokensPerSecond: number } {
  const minutes = o.minutes !== undefined && o.minutes > 0 ? o.minutes : 2;
  const corpusBytes = o.corpusBytes !== undefined && o.corpusBytes >= 0 ? o.corpusBytes : 1 << 20;
  let chosen = AUTO_LADDER[0];
  for (const rung of AUTO_LADDER) {
    const m = withArchitecture({ model: rung.preset.model }, rung.preset.architecture).model;
    const planned = rung.tokensPerSecond * 60 * minutes;
    const corpusTokens = corpusBytes / AUTO_BYTES_PER_TOKEN;
    // Below 64 kB (the vocabulary shrinks there too) a larger size's context may not fit the corpus: tiny.
    const dataLimited = corpusBytes >= SMALL_CORPUS_BYTES && planned >= AUTO_MAX_PASSES * corpusTokens;
    if (planned >= AUTO_TOKENS_PER_PARAM * parameterCount(m) || dataLimited) chosen = rung;
  }
  const vocabSize = autoVocabSize(corpusBytes, chosen.preset.model.vocabSize);
  return {
    ...chosen.preset,
    name: AUTO_PRESET,
    description: `the ${chosen.preset.name} size for ${minutes} min, vocabulary ${vocabSize}`,
    model: { ...chosen.preset.model, vocabSize },
    maxPasses: AUTO_MAX_PASSES,
    tokensPerSecond: chosen.tokensPerSecond,
  };
}

/** A preset by name; `auto` is chosen for the corpus size and minutes. */
export function resolvePreset(name: string, o: { corpusBytes?: number; minutes?: number } = {}): Preset {
  return name === AUTO_PRESET ? autoPreset(o) : getPreset(name);
}

/** Parameter count, as GPT-2 counts it (tied head counted once). */
export function parameterCount(c: GPTConfig): number {
  const r = resolveConfig(c);
  const C = c.nEmbd;
  const b = r.bias ? 1 : 0;
  const block =
    (1 + b) * C +
    (C * 3 * C + b * 3 * C) +
    (C * C + b * C) +
    (1 + b) * C +
    (C * 4 * C + b * 4 * C) +
    (4 * C * C + b * C);
  const pos = c.positionEncoding === 'learned' ? c.contextLength * C : 0;
  const head = r.untiedHead ? C * c.vocabSize : 0;
  const mixes = Math.max(0, c.nLayer - 1) * ((r.valueResidual ? 1 : 0) + (r.embedShortcut ? 2 : 0));
  return c.vocabSize * C + pos + c.nLayer * block + (1 + b) * C + head + mixes;
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
  if (!['learned', 'sinusoidal', 'rotary'].includes(c.positionEncoding)) {
    throw new GptLabError(`Model config: positionEncoding must be 'learned', 'sinusoidal' or 'rotary'.`, 'BAD_CONFIG');
  }
  if (c.positionEncoding === 'rotary' && (c.nEmbd / c.nHead) % 2 !== 0) {
    throw new GptLabError(`Model config: rotary embeddings need an even head size (nEmbd / nHead).`, 'BAD_CONFIG');
  }
  for (const k of ['qkNorm', 'untiedHead', 'bias', 'zeroInitProj', 'valueResidual', 'embedShortcut'] as const) {
    if (c[k] !== undefined && typeof c[k] !== 'boolean') {
      throw new GptLabError(`Model config: ${k} must be true or false (got ${String(c[k])}).`, 'BAD_CONFIG');
    }
  }
  if (c.mlp !== undefined && c.mlp !== 'gelu' && c.mlp !== 'relu2') {
    throw new GptLabError(`Model config: mlp must be 'gelu' or 'relu2' (got ${String(c.mlp)}).`, 'BAD_CONFIG');
  }
  if (c.logitSoftCap !== undefined && !(typeof c.logitSoftCap === 'number' && c.logitSoftCap >= 0)) {
    throw new GptLabError(
      `Model config: logitSoftCap must be a number ≥ 0 (got ${String(c.logitSoftCap)}).`,
      'BAD_CONFIG',
    );
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
