import * as tf from '@tensorflow/tfjs-core';
import { splitByFile } from '../corpus';
import { GptLabError } from '../errors';
import type { GPT } from '../model/gpt';
import type { ModelFolderConfig } from '../model/persist';
import type { Rng } from '../rng';
import type { Tokenizer } from '../tokenizer';
import type { TrainConfig } from './config';
import { Batch, buildDataset, Dataset, sampleBatch, validationBatches } from './data';
import type { EvalMetrics, TaskLoss, TrainTask } from './task';

export interface CorpusFile {
  path: string;
  bytes: Uint8Array;
}

/** Tokenizes a corpus split by file, with the config's FIM share; refuses one shorter than a context. */
export function corpusDataset(tokenizer: Tokenizer, files: CorpusFile[], cfg: TrainConfig) {
  const { train, val } = splitByFile(files, cfg.valFraction, cfg.splitSeed ?? cfg.seed);
  const data = buildDataset(
    tokenizer,
    train.map((f) => f.bytes),
    (val.length ? val : train).map((f) => f.bytes),
    { fimRate: cfg.fimRate, seed: cfg.seed, fimChunkTokens: Math.floor(cfg.model.contextLength / 2) },
  );
  const T = cfg.model.contextLength;
  if (data.train.length < T + 1) {
    throw new GptLabError(
      `The corpus is too small: ${data.train.length} training tokens, but one sequence of the context needs ${T + 1}. Add files or choose a smaller preset.`,
      'CORPUS_TOO_SMALL',
    );
  }
  return { data, trainFiles: train.length, valFiles: val.length };
}

/** Next-token prediction on random windows of the corpus: Stage 1. */
export class PretrainTask implements TrainTask<Batch> {
  readonly stage = 'pretrain';
  private readonly valBatches: Batch[];
  private readonly bytesPerToken: number;

  constructor(
    readonly model: GPT,
    readonly tokenizer: Tokenizer,
    private readonly data: Dataset,
    private readonly cfg: TrainConfig,
    private readonly extra: Partial<ModelFolderConfig> = {},
  ) {
    this.valBatches = validationBatches(data.val, cfg.batchSize, cfg.model.contextLength, cfg.evalBatches);
    this.bytesPerToken = data.valBytes / Math.max(1, data.val.length);
  }

  nextBatch(rng: Rng): Batch {
    const b = sampleBatch(this.data.train, this.cfg.batchSize, this.cfg.model.contextLength, rng);
    // Drawn only with dropout, so a run without it draws exactly the batches it drew before.
    if ((this.cfg.dropout ?? 0) > 0) b.dropoutSeed = rng.nextUint32();
    return b;
  }

  batchTokens(b: Batch): number {
    return b.B * b.T;
  }

  loss(b: Batch): TaskLoss {
    return { loss: pretrainLoss(this.model, b, this.cfg.dropout) };
  }

  async evaluate(): Promise<EvalMetrics> {
    const valLoss = await meanLoss(this.model, this.valBatches);
    return { valLoss, valBpb: valLoss / Math.LN2 / this.bytesPerToken };
  }

  folderConfig(): Partial<ModelFolderConfig> {
    return this.extra;
  }
}

/**
 * A training step's next-token loss on a batch (or a replica's shard of it): with dropout when the run has a rate
 * and the batch a seed. Evaluation calls model.loss without one.
 */
export function pretrainLoss(model: GPT, b: Batch, dropout = 0): tf.Scalar {
  const x = tf.tensor2d(b.x, [b.B, b.T], 'int32');
  const y = tf.tensor2d(b.y, [b.B, b.T], 'int32');
  const spec =
    dropout > 0 && b.dropoutSeed !== undefined
      ? { rate: dropout, seed: b.dropoutSeed, firstRow: b.firstRow ?? 0 }
      : undefined;
  return model.loss(x, y, undefined, spec);
}

/** Token-weighted mean loss over batches, without gradients; read asynchronously (webgpu reads no other way). */
export async function meanLoss(model: GPT, batches: Batch[]): Promise<number> {
  let sum = 0;
  let n = 0;
  for (const b of batches) {
    const l = tf.tidy(() => model.loss(tf.tensor2d(b.x, [b.B, b.T], 'int32'), tf.tensor2d(b.y, [b.B, b.T], 'int32')));
    try {
      sum += (await l.data())[0] * b.B * b.T;
    } finally {
      l.dispose();
    }
    n += b.B * b.T;
  }
  return n ? sum / n : NaN;
}
