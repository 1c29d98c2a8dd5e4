import { strict as assert } from 'node:assert';
import { healingText, tokensStartingWith } from '../../../src/core/complete';
import { GPT } from '../../../src/core/model/gpt';
import { generate } from '../../../src/core/sample';
import { trainTokenizer } from '../../../src/core/tokenizer';
import { codeFiles, TINY, useWasm } from '../helpers/tf';

describe('token healing', () => {
  const tok = trainTokenizer(
    codeFiles(3).map((f) => f.bytes),
    { vocabSize: 400 },
  );

  it('backs off the last token when the cursor is inside a word, and not after punctuation or space', () => {
    const healed = healingText(tok, 'export function ad');
    assert.ok(healed.length > 0 && 'export function ad'.endsWith(healed), healed);
    assert.equal(healingText(tok, 'return a + '), '');
    assert.equal(healingText(tok, 'add('), '');
    assert.equal(healingText(tok, ''), '');
  });

  it('allows as first token exactly those whose text starts with the backed-off text', () => {
    const allowed = tokensStartingWith(tok, 're');
    assert.ok(allowed.size > 1);
    for (const id of allowed) assert.ok(tok.decodeText([id]).startsWith('re'));
    assert.ok(allowed.has(tok.encode('return')[0]), '"return" is one of them');
    assert.ok(!allowed.has(tok.encode('r')[0]), 'a shorter token is not');
    assert.ok(![...allowed].some((id) => Object.values(tok.specials).includes(id)));
  });

  it('makes generation start with an allowed token', async () => {
    await useWasm();
    const m = GPT.create({ ...TINY, vocabSize: tok.vocabSize, contextLength: 32 }, 9);
    try {
      const allowed = tokensStartingWith(tok, 'r');
      const r = generate(m, tok, tok.encode('x = '), {
        maxTokens: 3,
        temperature: 0,
        firstTokens: allowed,
        stopAtEndOfText: false,
      });
      assert.ok(allowed.has(r.tokens[0]));
      assert.ok(r.text.startsWith('r'));
    } finally {
      m.dispose();
    }
  });
});
