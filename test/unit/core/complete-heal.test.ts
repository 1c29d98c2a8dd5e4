import { strict as assert } from 'node:assert';
import { healingText, tokensStartingWith } from '../../../src/core/complete';
import { completeAt } from '../../../src/core/complete/completeAt';
import { GPT } from '../../../src/core/model/gpt';
import { generate } from '../../../src/core/sample';
import { trainTokenizer } from '../../../src/core/tokenizer';
import { codeFiles, TINY, useWasm } from '../helpers/tf';

describe('token healing', () => {
  const tok = trainTokenizer(
    codeFiles(3).map((f) => f.bytes),
    { vocabSize: 400 },
  );

  it('backs off the last token when the cursor is inside a word or after a space, not after punctuation', () => {
    const healed = healingText(tok, 'export function ad');
    assert.ok(healed.length > 0 && 'export function ad'.endsWith(healed), healed);
    // The pre-tokenizer attaches a space to the next word: a prompt ending in a bare ' ' is one training never had.
    assert.equal(healingText(tok, 'return a + '), ' ');
    assert.equal(healingText(tok, 'export const '), ' ');
    assert.equal(healingText(tok, 'add('), '');
    assert.equal(healingText(tok, ''), '');
    // Indentation alone (a cursor at the start of a line) is not a space after text.
    assert.equal(healingText(tok, 'x\n  '), '');
  });

  it('after a space, allows only first tokens that go on with something visible', () => {
    const allowed = tokensStartingWith(tok, ' ');
    assert.ok(allowed.size > 1);
    for (const id of allowed) assert.match(tok.decodeText([id]), /^ \S/);
    assert.ok(allowed.has(tok.encode('a number')[1]), '" number" is one of them');
  });

  it('suggests something after `const ` at the end of a file, where the greedy pick used to be blank', async () => {
    await useWasm();
    const m = GPT.create({ ...TINY, vocabSize: tok.vocabSize, contextLength: 32 }, 9);
    try {
      const file = new TextDecoder().decode(codeFiles(1)[0].bytes);
      for (const fim of [false, true]) {
        const r = await completeAt(m, tok, file + '\nconst ', '', { fim, maxTokens: 6, multiline: false });
        assert.match(r.text, /^\S/, `fim ${fim}: ${JSON.stringify(r.text)}`);
      }
    } finally {
      m.dispose();
    }
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
