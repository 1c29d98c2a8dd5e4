import * as path from 'node:path';
import { initBackend, BackendPreference } from '../core/backend';
import { readCorpus, splitByFile } from '../core/corpus';
import { GptLabError } from '../core/errors';
import { loadModel } from '../core/model/persist';
import { TrainConfig } from '../core/train/config';
import { validationBatches } from '../core/train/data';
import { heldOutBitsPerByte, heldOutScope, heldOutStream } from '../core/train/heldOut';
import { meanLoss } from '../core/train/trainer';
import { Output } from './output';

export interface EvalCliOptions {
  model: string;
  data?: string;
  backend: BackendPreference;
  json?: boolean;
}

/**
 * Loss and bits per byte on the held-out files of a folder (by default the one the model trained on): every token,
 * each predicted from up to a full context (heldOut.ts); the training curve's sampled figure beside it.
 */
export async function evalCommand(o: EvalCliOptions): Promise<void> {
  const out = new Output(Boolean(o.json));
  await initBackend(o.backend);
  const { model, tokenizer, config, checkpoint } = await loadModel(o.model);
  try {
    const training = (config.training ?? {}) as Partial<TrainConfig>;
    const root = path.resolve(o.data ?? String(config.corpus?.root ?? '.'));
    const corpus = await readCorpus(root);
    const { val } = splitByFile(corpus.files, training.valFraction ?? 0.1, training.splitSeed ?? training.seed ?? 1337);
    const files = o.data && val.length === 0 ? corpus.files : val;
    // Every held-out token, each predicted from up to a full context (as a compressor or a completion would).
    const { tokens, bytes, tokenBytes } = heldOutStream(
      tokenizer,
      files.map((f) => f.bytes),
    );
    const held = (await heldOutBitsPerByte(model, tokens, bytes, { tokenBytes }))!;
    // The training curve's figure, for comparison: a sample of windows that each start from nothing.
    const stream = tokens.subarray(1); // without heldOutStream's leading end-of-text, as training builds it
    const sampledLoss = await meanLoss(model, validationBatches(stream, 16, model.config.contextLength, 16));
    const loss = held.loss;
    if (!Number.isFinite(loss) || !Number.isFinite(sampledLoss)) {
      throw new GptLabError(
        `The model in ${o.model} gives a loss of ${Number.isFinite(loss) ? sampledLoss : loss} on ${root}: its weights are broken (a diverged run or a ` +
          'corrupt file). Train it again, with a lower learning rate if the run diverged.',
        'NON_FINITE_LOSS',
      );
    }
    const bytesPerToken = bytes / stream.length;
    const result = {
      model: o.model,
      step: checkpoint.step,
      data: root,
      files: files.length,
      tokens: stream.length,
      /** Every held-out token (end-of-text after each file included), sliding windows of the context. */
      loss,
      bitsPerByte: held.bitsPerByte,
      scoredTokens: held.scoredTokens,
      minContext: held.minContext,
      /** The training curve's measure: evenly spaced windows that each start from nothing. */
      sampledLoss,
      sampledBitsPerByte: sampledLoss / Math.LN2 / bytesPerToken,
      bytesPerToken,
    };
    if (o.json) out.event('eval', result);
    else
      out.result(
        `step ${checkpoint.step}: ${held.bitsPerByte.toFixed(3)} bits/byte (loss ${loss.toFixed(4)} nats/token) on ${files.length} held-out files of ${root}: ` +
          `${heldOutScope(held)}; ${bytesPerToken.toFixed(2)} bytes/token. Training's sampled figure: ${result.sampledBitsPerByte.toFixed(3)} bits/byte`,
      );
  } finally {
    model.dispose();
  }
}
