import { strict as assert } from 'node:assert';
import { GPT } from '../../../src/core/model/gpt';
import { generate } from '../../../src/core/sample';
import { trainTokenizer } from '../../../src/core/tokenizer';
import { codeFiles, TINY, useWasm } from '../helpers/tf';

describe('generate onToken', () => {
  before(useWasm);

  it('passes each generated token in order, as it comes', () => {
    const tokenizer = trainTokenizer(
      codeFiles(2).map((f) => f.bytes),
      { vocabSize: TINY.vocabSize },
    );
    const model = GPT.create({ ...TINY, vocabSize: tokenizer.vocabSize }, 1);
    try {
      const seen: number[] = [];
      const r = generate(model, tokenizer, tokenizer.encode('export '), {
        maxTokens: 12,
        temperature: 1,
        seed: 3,
        stopAtEndOfText: false,
        onToken: (t) => seen.push(t),
      });
      assert.deepEqual(seen, r.tokens);
      assert.equal(seen.length, 12);
    } finally {
      model.dispose();
    }
  });
});
