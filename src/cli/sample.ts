import { promises as fs } from 'node:fs';
import { initBackend, BackendPreference } from '../core/backend';
import { GptLabError } from '../core/errors';
import { loadModel } from '../core/model/persist';
import { generateAsync } from '../core/sample';
import { int, inRange, num } from './options';
import { Output } from './output';

/** Generation slides its window past the context, so this bounds time, not memory: minutes on a CPU. */
export const MAX_SAMPLE_TOKENS = 100_000;

export interface SampleCliOptions {
  model: string;
  prompt?: string;
  promptFile?: string;
  maxTokens: string;
  temperature: string;
  topK?: string;
  topP?: string;
  seed: string;
  stop?: string[];
  backend: BackendPreference;
  json?: boolean;
}

export function sampleSettings(o: SampleCliOptions) {
  const temperature = num(o.temperature, '--temperature')!;
  if (temperature < 0)
    throw new GptLabError(`--temperature must be 0 (greedy) or more (got '${o.temperature}').`, 'BAD_OPTION');
  return {
    maxTokens: int(o.maxTokens, '--max-tokens', 1, MAX_SAMPLE_TOKENS)!,
    temperature,
    topK: int(o.topK, '--top-k'),
    topP: inRange(o.topP, '--top-p', 0, 1, true),
    seed: int(o.seed, '--seed', 0),
  };
}

/** The prompt: --prompt, or the text of --prompt-file (`-` for stdin), which can be longer than an argument. */
export async function readPrompt(o: SampleCliOptions, stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  if (o.promptFile === undefined) return o.prompt ?? '';
  if (o.prompt !== undefined) throw new GptLabError('Give --prompt or --prompt-file, not both.', 'BAD_OPTION');
  if (o.promptFile === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await fs.readFile(o.promptFile, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new GptLabError(`Cannot read the prompt file ${o.promptFile} (${code}).`, 'BAD_OPTION');
  }
}

export async function sampleCommand(o: SampleCliOptions): Promise<void> {
  const out = new Output(Boolean(o.json));
  const settings = sampleSettings(o);
  const promptText = await readPrompt(o);
  // generateAsync reads each token's logits with `await data()`, so it runs on webgpu too (gpt.ts's KV cache there).
  // auto keeps to CPU backends here: at batch 1 wasm's decode module costs a call a token, where a GPU pays a
  // forward's kernel launches and an async read (bench --backend webgpu measures both on a GPU machine).
  const backend = (await initBackend(o.backend)).name;
  const { model, tokenizer } = await loadModel(o.model);
  try {
    const prompt = tokenizer.encode(promptText);
    const t0 = performance.now();
    // Plain output streams: complete characters as they come, holding back what a stop sequence may still cut.
    const decoder = new TextDecoder();
    const holdBack = Math.max(0, ...(o.stop ?? []).map((s) => s.length - 1));
    let pending = '';
    let printed = '';
    const write = (text: string) => {
      process.stdout.write(text);
      printed += text;
    };
    if (!o.json) process.stdout.write(promptText);
    const r = await generateAsync(model, tokenizer, prompt, {
      ...settings,
      stop: o.stop,
      // Plain continuation: the fill-in-the-middle markers mean nothing here.
      suppressTokens: [tokenizer.specials.fimPrefix, tokenizer.specials.fimMiddle, tokenizer.specials.fimSuffix],
      onToken: o.json
        ? undefined
        : (token) => {
            pending += decoder.decode(tokenizer.tokenBytes(token), { stream: true });
            const ready = pending.length - holdBack;
            if (ready > 0) {
              write(pending.slice(0, ready));
              pending = pending.slice(ready);
            }
          },
    });
    const ms = performance.now() - t0;
    if (o.json)
      out.event('sample', {
        prompt: promptText,
        completion: r.text,
        backend,
        tokens: r.tokens.length,
        stopReason: r.stopReason,
        ms,
      });
    else {
      // What was streamed is a prefix of the result (see holdBack); the rest, and a final newline.
      const rest = r.text.startsWith(printed) ? r.text.slice(printed.length) : '';
      process.stdout.write(rest + ((promptText + r.text).endsWith('\n') ? '' : '\n'));
    }
  } finally {
    model.dispose();
  }
}
