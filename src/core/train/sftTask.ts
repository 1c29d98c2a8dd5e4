import * as tf from '@tensorflow/tfjs-core';
import { healingText } from '../complete/heal';
import type { SftExample } from '../data/examples';
import type { GPT } from '../model/gpt';
import { tokenLogProbs } from '../model/ops';
import type { ModelFolderConfig } from '../model/persist';
import type { Rng } from '../rng';
import type { Tokenizer } from '../tokenizer';
import { readScalars } from './readAsync';
import type { EvalMetrics, TaskLoss, TrainTask } from './task';

/** An example as tokens: the loss falls on ids[promptLen…] (the completion and its end-of-text). */
export interface EncodedExample {
  ids: number[];
  promptLen: number;
}

/**
 * Both forms a user meets: the plain continuation (sampling from the prompt writes the completion) and the
 * fill-in-the-middle form completions use (`[fimPrefix] prompt [fimSuffix] suffix [fimMiddle] completion`).
 * Each is cut to `maxLen` tokens: the prompt loses its start first, the completion its end last.
 */
export function encodeExample(
  tok: Tokenizer,
  ex: SftExample,
  maxLen: number,
): { plain: EncodedExample; fim: EncodedExample } {
  const s = tok.specials;
  // Completions back a prompt that ends inside a word (or after a space) off to its last whole token and make the
  // first new token start with what was backed off (token healing); train on the example the same way, or an
  // example whose prompt ends mid-line would never show as ghost text.
  const heal = healingText(tok, ex.prompt);
  const prompt = tok.encode(ex.prompt.slice(0, ex.prompt.length - heal.length));
  const suffix = tok.encode(ex.suffix ?? '');
  const completion = [...tok.encode(heal + ex.completion), s.endOfText];
  const fit = (head: number[], tail: number[]): EncodedExample => {
    const comp = tail.slice(0, Math.max(1, maxLen - 1));
    const keep = Math.max(0, maxLen - comp.length);
    const pre = head.slice(Math.max(0, head.length - keep));
    return { ids: [...pre, ...comp], promptLen: pre.length };
  };
  const fimHead = (room: number) => {
    const suf = suffix.slice(0, Math.floor(room / 4));
    return [
      s.fimPrefix,
      ...prompt.slice(Math.max(0, prompt.length - (room - suf.length))),
      s.fimSuffix,
      ...suf,
      s.fimMiddle,
    ];
  };
  const room = Math.max(0, maxLen - Math.min(completion.length, maxLen - 1) - 3);
  return { plain: fit(prompt, completion), fim: fit(fimHead(room), completion) };
}

export interface SftBatch {
  x: Int32Array;
  y: Int32Array;
  mask: Float32Array;
  B: number;
  T: number;
}

/** Rows padded at the end (causal attention never looks right, so padding changes nothing before it). */
export function padBatch(rows: EncodedExample[], pad: number): SftBatch {
  const T = Math.max(1, ...rows.map((r) => r.ids.length - 1));
  const B = rows.length;
  const x = new Int32Array(B * T).fill(pad);
  const y = new Int32Array(B * T).fill(pad);
  const mask = new Float32Array(B * T);
  rows.forEach((r, b) => {
    for (let t = 0; t + 1 < r.ids.length; t++) {
      x[b * T + t] = r.ids[t];
      y[b * T + t] = r.ids[t + 1];
      mask[b * T + t] = t + 1 >= r.promptLen ? 1 : 0; // predicting a completion token
    }
  });
  return { x, y, mask, B, T };
}

export interface SftOptions {
  batchSize: number;
  /** Share of rows drawn from the pre-training corpus (with loss on every token), so the model keeps the code. */
  mixShare: number;
  /** Tokens of the pre-training corpus, when mixing. */
  corpus?: Int32Array;
}

/** Stage 2: supervised fine-tuning, loss on the completion tokens only (TRL's completion-only loss). */
export class SftTask implements TrainTask<SftBatch> {
  readonly stage = 'sft';
  private readonly train: { plain: EncodedExample; fim: EncodedExample }[];
  private readonly val: EncodedExample[];

  constructor(
    readonly model: GPT,
    readonly tokenizer: Tokenizer,
    trainExamples: SftExample[],
    valExamples: SftExample[],
    private readonly opts: SftOptions,
    private readonly extra: Partial<ModelFolderConfig> = {},
  ) {
    const maxLen = model.config.contextLength + 1;
    this.train = trainExamples.map((e) => encodeExample(tokenizer, e, maxLen));
    this.val = valExamples.flatMap((e) => {
      const { plain, fim } = encodeExample(tokenizer, e, maxLen);
      return [plain, fim];
    });
  }

  nextBatch(rng: Rng): SftBatch {
    const rows: EncodedExample[] = [];
    const corpusRows: number[] = [];
    for (let b = 0; b < this.opts.batchSize; b++) {
      const fromCorpus = this.opts.corpus !== undefined && rng.next() < this.opts.mixShare;
      if (fromCorpus) corpusRows.push(b);
      const ex = this.train[rng.int(this.train.length)];
      rows.push(rng.next() < 0.5 ? ex.plain : ex.fim);
    }
    // Corpus rows take the length of the longest example row, all tokens carrying loss.
    const T = Math.max(2, ...rows.filter((_, b) => !corpusRows.includes(b)).map((r) => r.ids.length));
    for (const b of corpusRows) rows[b] = this.corpusWindow(rng, T);
    return padBatch(rows, this.tokenizer.specials.endOfText);
  }

  private corpusWindow(rng: Rng, len: number): EncodedExample {
    const c = this.opts.corpus!;
    const n = Math.min(len, c.length);
    const start = rng.int(Math.max(1, c.length - n + 1));
    return { ids: Array.from(c.subarray(start, start + n)), promptLen: 0 };
  }

  batchTokens(b: SftBatch): number {
    return b.B * b.T;
  }

  loss(b: SftBatch): TaskLoss {
    const { loss, accuracy } = completionLoss(this.model, b);
    return { loss, metrics: { tokenAccuracy: accuracy } };
  }

  async evaluate(): Promise<EvalMetrics> {
    const { loss, accuracy } = await completionMetrics(
      this.model,
      this.val,
      this.tokenizer.specials.endOfText,
      this.opts.batchSize,
    );
    return { valLoss: loss, tokenAccuracy: accuracy };
  }

  folderConfig(): Partial<ModelFolderConfig> {
    return this.extra;
  }
}

/** Masked loss and token accuracy (argmax equals the target) over the completion tokens of a batch. */
export function completionLoss(model: GPT, b: SftBatch): { loss: tf.Scalar; accuracy: tf.Scalar } {
  const N = b.B * b.T;
  const x = tf.tensor2d(b.x, [b.B, b.T], 'int32');
  const y = tf.tensor1d(b.y, 'int32');
  const m = tf.tensor1d(b.mask);
  const logits = tf.reshape(model.forward(x).logits, [N, model.config.vocabSize]) as tf.Tensor2D;
  const n = tf.maximum(tf.sum(m), 1);
  const loss = tf.neg(tf.div(tf.sum(tf.mul(tokenLogProbs(logits, y), m)), n)) as tf.Scalar;
  const hit = tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32');
  return { loss, accuracy: tf.div(tf.sum(tf.mul(hit, m)), n) as tf.Scalar };
}

/** Token-weighted completion loss and accuracy of encoded examples, without gradients (NaN when none). */
export async function completionMetrics(
  model: GPT,
  examples: EncodedExample[],
  pad: number,
  batchSize: number,
): Promise<{ loss: number; accuracy: number }> {
  let loss = 0;
  let acc = 0;
  let n = 0;
  const B = Math.max(1, batchSize);
  for (let i = 0; i < examples.length; i += B) {
    const b = padBatch(examples.slice(i, i + B), pad);
    const tokens = b.mask.reduce((s, v) => s + v, 0);
    const [l, a] = await readScalars(
      tf.tidy(() => {
        const r = completionLoss(model, b);
        return [r.loss, r.accuracy];
      }),
    );
    loss += l * tokens;
    acc += a * tokens;
    n += tokens;
  }
  return n ? { loss: loss / n, accuracy: acc / n } : { loss: NaN, accuracy: NaN };
}
