import * as path from 'node:path';
import { initBackend, BackendPreference } from '../core/backend';
import { readCorpus, splitByFile } from '../core/corpus';
import { GptLabError } from '../core/errors';
import { loadModel } from '../core/model/persist';
import { TrainConfig } from '../core/train/config';
import { validationBatches } from '../core/train/data';
import { meanLoss } from '../core/train/trainer';
import { Output } from './output';

export interface EvalCliOptions {
  model: string;
  data?: string;
  backend: BackendPreference;
  json?: boolean;
}

/** Loss and bits per byte on the held-out files of a folder (by default the one the model trained on). */
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
    const eot = tokenizer.specials.endOfText;
    const ids: number[] = [];
    let bytes = 0;
    for (const f of files) {
      for (const id of tokenizer.encode(f.bytes)) ids.push(id); // no spread: files can have 100k+ tokens
      ids.push(eot);
      bytes += f.bytes.length;
    }
    const tokens = Int32Array.from(ids);
    const batches = validationBatches(tokens, 16, model.config.contextLength, 16);
    const loss = await meanLoss(model, batches);
    if (!Number.isFinite(loss)) {
      throw new GptLabError(
        `The model in ${o.model} gives a loss of ${loss} on ${root}: its weights are broken (a diverged run or a ` +
          'corrupt file). Train it again, with a lower learning rate if the run diverged.',
        'NON_FINITE_LOSS',
      );
    }
    const bpb = loss / Math.LN2 / (bytes / tokens.length);
    const result = {
      model: o.model,
      step: checkpoint.step,
      data: root,
      files: files.length,
      tokens: tokens.length,
      loss,
      bitsPerByte: bpb,
      bytesPerToken: bytes / tokens.length,
    };
    if (o.json) out.event('eval', result);
    else
      out.result(
        `step ${checkpoint.step}: loss ${loss.toFixed(4)} nats/token, ${bpb.toFixed(3)} bits/byte on ${files.length} held-out files of ${root} (${(bytes / tokens.length).toFixed(2)} bytes/token)`,
      );
  } finally {
    model.dispose();
  }
}
