import { initBackend, BackendPreference } from '../core/backend';
import { GptLabError } from '../core/errors';
import { loadModel } from '../core/model/persist';
import { generate } from '../core/sample';
import { Output } from './output';

export interface SampleCliOptions {
  model: string;
  prompt: string;
  maxTokens: string;
  temperature: string;
  topK?: string;
  topP?: string;
  seed: string;
  stop?: string[];
  backend: BackendPreference;
  json?: boolean;
}

export async function sampleCommand(o: SampleCliOptions): Promise<void> {
  const out = new Output(Boolean(o.json));
  const n = (v: string | undefined, flag: string) => {
    if (v === undefined) return undefined;
    const x = Number(v);
    if (!Number.isFinite(x)) throw new GptLabError(`${flag} must be a number (got '${v}').`, 'BAD_OPTION');
    return x;
  };
  await initBackend(o.backend);
  const { model, tokenizer } = await loadModel(o.model);
  try {
    const prompt = tokenizer.encode(o.prompt);
    const t0 = performance.now();
    const r = generate(model, tokenizer, prompt, {
      maxTokens: n(o.maxTokens, '--max-tokens')!,
      temperature: n(o.temperature, '--temperature')!,
      topK: n(o.topK, '--top-k'),
      topP: n(o.topP, '--top-p'),
      seed: n(o.seed, '--seed'),
      stop: o.stop,
      // Plain continuation: the fill-in-the-middle markers mean nothing here.
      suppressTokens: [tokenizer.specials.fimPrefix, tokenizer.specials.fimMiddle, tokenizer.specials.fimSuffix],
    });
    const ms = performance.now() - t0;
    if (o.json)
      out.event('sample', {
        prompt: o.prompt,
        completion: r.text,
        tokens: r.tokens.length,
        stopReason: r.stopReason,
        ms,
      });
    else out.result(o.prompt + r.text);
  } finally {
    model.dispose();
  }
}
