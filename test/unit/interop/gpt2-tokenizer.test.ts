import * as assert from 'node:assert/strict';
import {
  bytesToUnicode,
  gpt2FilesOf,
  mapGpt2Vocabulary,
  parseGpt2Files,
  readFloatSafetensors,
} from '../../../src/core/interop';
import { parseHfTokenizerJson } from '../../../src/core/interop/gpt2Vocab';
import { forEachGpt2Pretoken, Tokenizer, trainTokenizer } from '../../../src/core/tokenizer';
import { codeFiles } from '../helpers/tf';

function gpt2Pretokens(text: string): string[] {
  const bytes = new TextEncoder().encode(text);
  const out: string[] = [];
  forEachGpt2Pretoken(bytes, (s, e) => out.push(new TextDecoder().decode(bytes.subarray(s, e))));
  return out;
}

describe('interop: GPT-2 tokenizer', () => {
  it("splits text as GPT-2's regular expression does", () => {
    assert.deepEqual(gpt2Pretokens("Hello world, it's   42!"), ['Hello', ' world', ',', ' it', "'s", '  ', ' 42', '!']);
    assert.deepEqual(gpt2Pretokens('a\n\n  b\t c'), ['a', '\n\n ', ' b', '\t', ' c']);
    assert.deepEqual(gpt2Pretokens('héllo wörld 中文 🙂🙂 end  '), ['héllo', ' wörld', ' 中文', ' 🙂🙂', ' end', '  ']);
    assert.deepEqual(gpt2Pretokens("we'll I'M x''s"), ['we', "'ll", ' I', "'", 'M', ' x', "''", 's']);
    assert.deepEqual(gpt2Pretokens('abc123def'), ['abc', '123', 'def']);
  });

  it('keeps bytes that are not UTF-8 and tiles the input exactly', () => {
    const bytes = Uint8Array.of(0x61, 0xff, 0x62, 0x20, 0xc3, 0x20, 0xe4, 0xb8, 0xad);
    const spans: [number, number][] = [];
    forEachGpt2Pretoken(bytes, (s, e) => spans.push([s, e]));
    let at = 0;
    for (const [s, e] of spans) {
      assert.equal(s, at);
      at = e;
    }
    assert.equal(at, bytes.length);
  });

  it("maps GPT-2's ids onto GPT Lab's layout and encodes with the gpt2 pre-tokenizer", () => {
    const table = bytesToUnicode();
    assert.equal(table[32], 'Ġ');
    const order = [...table.keys()].sort((a, b) => table[a].charCodeAt(0) - table[b].charCodeAt(0));
    // GPT-2's order: the bytes by their character, then merges, then <|endoftext|>.
    const vocab: Record<string, number> = {};
    order.forEach((b, i) => (vocab[table[b]] = i));
    const merges = ['Ġ w', 'o r', 'Ġw or', 'l d', 'Ġwor ld'];
    for (const m of merges) vocab[m.replace(' ', '')] = Object.keys(vocab).length;
    vocab['<|endoftext|>'] = Object.keys(vocab).length;
    const mapped = mapGpt2Vocabulary(
      parseGpt2Files(JSON.stringify(vocab), '#version: 0.2\n' + merges.join('\n') + '\n'),
    );
    assert.equal(mapped.tokenizer.pretokenizer, 'gpt2');
    assert.equal(mapped.tokenizer.vocabSize, 260 + merges.length);
    const ids = mapped.tokenizer.encode('hello world');
    assert.deepEqual(ids, [...'hello'].map((c) => c.charCodeAt(0)).concat([264]));
    assert.equal(mapped.toGpt2[264], vocab['Ġworld']);
    assert.equal(mapped.toGpt2[256], vocab['<|endoftext|>']);
    assert.deepEqual([...mapped.toGpt2.subarray(257, 260)], [-1, -1, -1]);
    assert.equal(mapped.toGpt2[0x68], vocab.h);
  });

  it('round-trips through tokenizer.json, and old tokenizer.json files still load as code-v1', () => {
    const mapped = mapGpt2Vocabulary(parseGpt2Files(JSON.stringify({ ...gpt2BytesVocab(), Ġa: 256 }), 'Ġ a\n'));
    const json = mapped.tokenizer.toJSON();
    assert.equal(json.pretokenizer, 'gpt2');
    const again = Tokenizer.fromJSON(JSON.parse(JSON.stringify(json)));
    assert.equal(again.pretokenizer, 'gpt2');
    assert.deepEqual(again.encode(' a  a'), mapped.tokenizer.encode(' a  a'));
    const old = trainTokenizer(
      codeFiles(2).map((f) => f.bytes),
      { vocabSize: 280 },
    ).toJSON();
    assert.equal(old.pretokenizer, 'code-v1');
    assert.equal(Tokenizer.fromJSON(old).pretokenizer, 'code-v1');
  });

  it('refuses merges.txt lines that use a token no earlier merge made', () => {
    assert.throws(
      () => mapGpt2Vocabulary(parseGpt2Files(JSON.stringify(gpt2BytesVocab()), 'Ġ a\nab c\n')),
      (e: Error & { code?: string }) => e.code === 'BAD_IMPORT' && /merge 2 \(ab c\): 'ab' is neither/.test(e.message),
    );
    assert.throws(
      () => mapGpt2Vocabulary(parseGpt2Files(JSON.stringify(gpt2BytesVocab()), 'Ġ a\n')),
      /vocab.json has no id for merge 1's token 'Ġa'/,
    );
    assert.throws(
      () => mapGpt2Vocabulary(parseGpt2Files(JSON.stringify(gpt2BytesVocab()), 'xy z\n')),
      /'xy' is neither a byte nor made by an earlier merge/,
    );
  });

  it("writes GPT Lab's tokenizer as vocab.json + merges.txt that read back to the same merges", () => {
    const tok = trainTokenizer(
      codeFiles(3).map((f) => f.bytes),
      { vocabSize: 300 },
    );
    const files = gpt2FilesOf(tok);
    assert.ok(files);
    const vocab = JSON.parse(files.vocabJson) as Record<string, number>;
    assert.equal(vocab['<|endoftext|>'], 256);
    assert.equal(vocab.Ġ, 32);
    assert.equal(Object.keys(vocab).length, tok.vocabSize);
  });
});

describe("interop: reading other tools' files", () => {
  it("reads a Hugging Face tokenizer.json's BPE model like vocab.json + merges.txt", () => {
    const vocab = { ...gpt2BytesVocab(), Ġa: 256, Ġab: 257 };
    const hf = {
      model: { type: 'BPE', vocab, merges: ['Ġ a', ['Ġa', 'b']] },
      pre_tokenizer: { type: 'ByteLevel' },
      added_tokens: [{ id: 258, content: '<|endoftext|>' }],
    };
    const a = mapGpt2Vocabulary(parseHfTokenizerJson(hf)!);
    assert.deepEqual(a.tokenizer.encode(' ab a'), [261, 260]);
    assert.equal(a.toGpt2[256], 258);
    assert.equal(parseHfTokenizerJson({ model: { type: 'WordPiece' } }), undefined);
  });

  it('reads F16, BF16 and F64 tensors as F32, and names a truncated file', () => {
    const header = JSON.stringify({
      h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
      b: { dtype: 'BF16', shape: [1], data_offsets: [4, 6] },
      d: { dtype: 'F64', shape: [1], data_offsets: [6, 14] },
    });
    const bytes = new Uint8Array(8 + header.length + 14);
    const view = new DataView(bytes.buffer);
    view.setBigUint64(0, BigInt(header.length), true);
    bytes.set(new TextEncoder().encode(header), 8);
    const at = 8 + header.length;
    view.setUint16(at, 0x3c00, true); // 1.0
    view.setUint16(at + 2, 0xc000, true); // -2.0
    view.setUint16(at + 4, 0x4049, true); // bf16 3.140625
    view.setFloat64(at + 6, 0.1, true);
    const t = readFloatSafetensors(bytes, 'm.safetensors');
    assert.deepEqual([...t.get('h')!.data], [1, -2]);
    assert.equal(t.get('b')!.data[0], 3.140625);
    assert.equal(t.get('d')!.data[0], Math.fround(0.1));
    assert.throws(() => readFloatSafetensors(bytes.subarray(0, bytes.length - 3), 'm.safetensors'), /truncated/);
  });
});

function gpt2BytesVocab(): Record<string, number> {
  const vocab: Record<string, number> = {};
  bytesToUnicode().forEach((ch, b) => (vocab[ch] = b));
  return vocab;
}
