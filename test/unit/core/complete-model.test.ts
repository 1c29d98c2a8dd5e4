import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { evaluateCompletions, fimPrompt, trimCompletion, wantsMultiline } from '../../../src/core/complete';
import { GPT } from '../../../src/core/model/gpt';
import { generate } from '../../../src/core/sample';
import { trainTokenizer } from '../../../src/core/tokenizer';
import { codeFiles, TINY, useWasm } from '../helpers/tf';

describe('completion with a tiny model', () => {
  before(useWasm);

  it('evaluates a random-weight GPT wired through fimPrompt, generate and trimCompletion', async () => {
    const files = codeFiles(3);
    const tok = trainTokenizer(
      files.map((f) => f.bytes),
      { vocabSize: 300 },
    );
    const model = GPT.create({ ...TINY, vocabSize: tok.vocabSize, contextLength: 48 }, 21);
    const maxNewTokens = 8;
    // The pipeline an editor runs at a cursor: prompt, generate, trim to what is worth showing.
    const complete = (prefix: string, suffix: string): string => {
      const { ids } = fimPrompt(tok, prefix, suffix, { contextLength: 48, maxNewTokens, fim: true });
      const raw = generate(model, tok, ids, { maxTokens: maxNewTokens, temperature: 0, stop: ['\n'] }).text;
      const previousLines = prefix.split('\n');
      const linePrefix = previousLines.pop() ?? '';
      return trimCompletion(raw, {
        linePrefix,
        lineSuffix: '',
        previousLines: previousLines.slice(-3),
        nextLines: suffix.split('\n').slice(1, 4),
        multiline: wantsMultiline(linePrefix, previousLines),
      });
    };
    const held = files.map((f) => ({ path: f.path, text: new TextDecoder().decode(f.bytes) }));
    try {
      const before = tf.memory().numTensors;
      const r = await evaluateCompletions(complete, held, { positions: 12, seed: 5 });
      assert.equal(tf.memory().numTensors, before, 'no tensors leak');
      assert.equal(r.positions, 12);
      for (const share of [r.exactMatch, r.charsSaved, r.shown]) assert.ok(share >= 0 && share <= 1, String(share));
      assert.ok(r.exactMatch <= r.shown);
      assert.equal(r.examples.length, 5);
      for (const e of r.examples) {
        assert.equal(typeof e.suggested, 'string');
        assert.ok(!e.suggested.includes('\n'));
        assert.ok(e.expected.length > 0);
      }
      // Greedy decoding: the same numbers again.
      assert.deepEqual(await evaluateCompletions(complete, held, { positions: 12, seed: 5 }), r);
    } finally {
      model.dispose();
    }
  });
});
