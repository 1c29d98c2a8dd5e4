import { GptLabError } from '../errors';
import { ArchitectureFields, GPTConfig, getPreset, Preset, validateConfig, withArchitecture } from '../model/config';

/** How a run trains. Defaults follow nanoGPT, scaled down for CPUs. */
export interface TrainConfig {
  preset?: string;
  model: GPTConfig;
  batchSize: number;
  /** Peak learning rate, reached after warm-up. */
  learningRate: number;
  /** Where the cosine decay ends. */
  minLearningRate: number;
  warmupSteps: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  /** Global gradient-norm clip (0 = off). */
  gradClip: number;
  /** Budget: stop after this many optimizer steps… */
  maxSteps?: number;
  /** …or after this many minutes of training, whichever comes first. */
  maxMinutes?: number;
  /**
   * …or after this many minutes of the process's CPU time (user + system) in training: a proxy for an idle
   * machine's minutes on a shared one (one thread trains, so a CPU minute ≈ an idle core's minute). Counts every
   * thread of the process, so it fits single-replica runs only.
   */
  maxCpuMinutes?: number;
  /**
   * …or after this many passes over the training tokens (tokens seen ≥ maxPasses × the training set's tokens): a
   * cap, not a budget of its own, that keeps a small corpus from being memorised. Pre-training counts it; the
   * later stages (fine-tuning, alignment) ignore it.
   */
  maxPasses?: number;
  /** Steps between validation passes (and history lines with val loss). */
  evalInterval: number;
  /** Validation batches per pass. */
  evalBatches: number;
  /** Steps between checkpoints (also saved at the end and on cancel). */
  checkpointInterval: number;
  /** Steps between training-loss history lines. */
  logInterval: number;
  seed: number;
  /** Seed of the split into training and held-out files (default: `seed`); the experiment runner fixes it. */
  splitSeed?: number;
  /** Share of training documents turned into fill-in-the-middle examples. */
  fimRate: number;
  /** Share of files held out for validation. */
  valFraction: number;
  /** At most this many bytes of the corpus train the tokenizer (it converges long before). */
  tokenizerSampleBytes: number;
  // Recipe options (optional; absent = GPT-2's recipe, so saved configs resume unchanged).
  /**
   * After warm-up: cosine decay over the rest of the budget (default), or warm-up/stable/decay — the peak
   * rate until the last `decayFraction` of the budget, then a linear decay to the minimum.
   */
  schedule?: 'cosine' | 'wsd';
  /** WSD: share of the budget after warm-up spent decaying (default 0.3). */
  decayFraction?: number;
  /** AdamW for every parameter (default), or Muon for the blocks' matrices and AdamW for the rest. */
  optimizer?: 'adamw' | 'muon';
  /** Muon's peak learning rate (default 0.02); it follows the same schedule as AdamW's. */
  muonLearningRate?: number;
  /** Muon's momentum (default 0.95). */
  muonMomentum?: number;
  /**
   * Muon's decoupled weight decay (default 0): its matrices shrink by (1 − lr·muonWeightDecay) before each update,
   * lr being Muon's rate of the step. AdamW's `weightDecay` does not reach them.
   */
  muonWeightDecay?: number;
  /**
   * Pre-training's dropout (default 0): the share of the embeddings' and of each block's attention and MLP
   * outputs zeroed in a training step, never in evaluation or generation.
   */
  dropout?: number;
}

export function defaultTrainConfig(
  presetName: string | Preset = 'tiny',
  overrides: Partial<TrainConfig> = {},
): TrainConfig {
  const preset = typeof presetName === 'string' ? getPreset(presetName) : presetName;
  const recipe = withArchitecture<ArchitectureFields>({ model: { ...preset.model } }, preset.architecture);
  const cfg: TrainConfig = {
    preset: preset.name,
    model: recipe.model,
    optimizer: recipe.optimizer,
    schedule: recipe.schedule,
    batchSize: preset.batchSize,
    learningRate: preset.learningRate,
    minLearningRate: preset.learningRate / 10,
    warmupSteps: 30,
    weightDecay: 0.1,
    beta1: 0.9,
    beta2: 0.95,
    gradClip: 1.0,
    maxMinutes: 2,
    evalInterval: 50,
    evalBatches: 4,
    checkpointInterval: 200,
    logInterval: 5,
    seed: 1337,
    fimRate: preset.fimRate,
    ...(preset.maxPasses !== undefined && { maxPasses: preset.maxPasses }),
    valFraction: 0.1,
    tokenizerSampleBytes: 4 * 1024 * 1024,
    ...overrides,
  };
  return validateTrainConfig(cfg);
}

export function validateTrainConfig(c: TrainConfig): TrainConfig {
  validateConfig(c.model);
  const positive = (k: keyof TrainConfig) => {
    const v = c[k];
    if (typeof v !== 'number' || !(v > 0))
      throw new GptLabError(`Training config: ${k} must be positive (got ${String(v)}).`, 'BAD_CONFIG');
  };
  (['batchSize', 'learningRate', 'evalInterval', 'evalBatches', 'checkpointInterval', 'logInterval'] as const).forEach(
    positive,
  );
  if (c.maxSteps === undefined && c.maxMinutes === undefined && c.maxCpuMinutes === undefined) {
    throw new GptLabError('Training config: give a budget in steps or minutes.', 'BAD_CONFIG');
  }
  if (c.maxSteps !== undefined) positive('maxSteps');
  if (c.maxMinutes !== undefined) positive('maxMinutes');
  if (c.maxCpuMinutes !== undefined) positive('maxCpuMinutes');
  if (c.maxPasses !== undefined && !(c.maxPasses > 0 && Number.isFinite(c.maxPasses)))
    throw new GptLabError(
      `Training config: maxPasses must be a positive number (got ${String(c.maxPasses)}).`,
      'BAD_CONFIG',
    );
  if (!(c.fimRate >= 0 && c.fimRate <= 1))
    throw new GptLabError('Training config: fimRate must be between 0 and 1.', 'BAD_CONFIG');
  if (c.schedule !== undefined && c.schedule !== 'cosine' && c.schedule !== 'wsd')
    throw new GptLabError(`Training config: schedule must be 'cosine' or 'wsd'.`, 'BAD_CONFIG');
  if (c.decayFraction !== undefined && !(c.decayFraction > 0 && c.decayFraction <= 1))
    throw new GptLabError('Training config: decayFraction must be in (0, 1].', 'BAD_CONFIG');
  if (c.optimizer !== undefined && c.optimizer !== 'adamw' && c.optimizer !== 'muon')
    throw new GptLabError(`Training config: optimizer must be 'adamw' or 'muon'.`, 'BAD_CONFIG');
  if (c.muonLearningRate !== undefined) positive('muonLearningRate');
  if (c.muonMomentum !== undefined && !(c.muonMomentum >= 0 && c.muonMomentum < 1))
    throw new GptLabError('Training config: muonMomentum must be in [0, 1).', 'BAD_CONFIG');
  if (c.muonWeightDecay !== undefined && !(c.muonWeightDecay >= 0 && Number.isFinite(c.muonWeightDecay)))
    throw new GptLabError('Training config: muonWeightDecay must be 0 or more.', 'BAD_CONFIG');
  if (c.dropout !== undefined && !(c.dropout >= 0 && c.dropout < 1))
    throw new GptLabError('Training config: dropout must be in [0, 1).', 'BAD_CONFIG');
  return c;
}
