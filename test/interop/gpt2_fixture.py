"""A random-weight checkpoint in pure GPT-2 layout, and what GPT-2 itself would make of it.

    python3 gpt2_fixture.py OUT_DIR TEXTS_JSON  ->  writes OUT_DIR/{config.json, model.safetensors, vocab.json,
    merges.txt} and prints {"ids": [[GPT-2 ids of each text]], "logits": [[...]] of the first text} as JSON.

The tokenizer files follow GPT-2's: its byte↔unicode table, ids 0–255 the bytes in that table's order, merges by
rank from 256, <|endoftext|> last. The encoder below is openai/gpt-2's encoder.py (bytes_to_unicode, get_pairs,
bpe, encode) with its regular expression written out by hand (the `regex` module is not needed): no network, no
transformers. Tensors are named as on the Hugging Face hub (`h.0.attn.c_attn.weight`, no `transformer.`) with the
old causal-mask buffers (`h.N.attn.bias`) that GPT-2 checkpoints carry.
"""
import json
import os
import struct
import sys
import unicodedata

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'scale'))
from model import GPT, Config  # noqa: E402


def bytes_to_unicode():
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, [chr(n) for n in cs]))


# Unicode White_Space, what `regex`'s \s matches.
WS = set('\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000') | {chr(c) for c in range(0x2000, 0x200b)}


def kind(ch):
    if ch in WS:
        return 'S'
    c = unicodedata.category(ch)
    return 'L' if c.startswith('L') else 'N' if c.startswith('N') else 'P'


def pretokenize(text):
    """re.findall(r"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", text)"""
    out, i, n = [], 0, len(text)
    while i < n:
        if text[i] == "'":
            suf = next((s for s in ('s', 't', 're', 've', 'm', 'll', 'd') if text.startswith(s, i + 1)), None)
            if suf:
                out.append("'" + suf)
                i += 1 + len(suf)
                continue
        j = i + 1 if text[i] == ' ' and i + 1 < n and kind(text[i + 1]) != 'S' else i
        k = kind(text[j])
        if k != 'S':
            e = j + 1
            while e < n and kind(text[e]) == k:
                e += 1
            out.append(text[i:e])
            i = e
            continue
        e = i
        while e < n and kind(text[e]) == 'S':
            e += 1
        if e < n and e - i > 1:
            e -= 1            # \s+(?!\S): leave the last space to the word after it
        elif e < n:
            e = i + 1         # a single space-like character before a word: \s+
        out.append(text[i:e])
        i = e
    return out


def get_pairs(word):
    return {(word[i], word[i + 1]) for i in range(len(word) - 1)}


class Encoder:
    def __init__(self, encoder, merges):
        self.encoder = encoder
        self.byte_encoder = bytes_to_unicode()
        self.bpe_ranks = dict(zip(merges, range(len(merges))))

    def bpe(self, token):
        word = tuple(token)
        pairs = get_pairs(word)
        if not pairs:
            return token
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float('inf')))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        return ' '.join(word)

    def encode(self, text):
        ids = []
        for token in pretokenize(text):
            token = ''.join(self.byte_encoder[b] for b in token.encode('utf-8'))
            ids.extend(self.encoder[t] for t in self.bpe(token).split(' '))
        return ids


def learn_merges(text, count):
    """Plain BPE over GPT-2's pre-tokens: the most frequent pair (ties: the smallest) becomes the next merge."""
    be = bytes_to_unicode()
    words = {}
    for t in pretokenize(text):
        w = tuple(be[b] for b in t.encode('utf-8'))
        words[w] = words.get(w, 0) + 1
    merges = []
    for _ in range(count):
        counts = {}
        for w, f in words.items():
            for p in zip(w, w[1:]):
                counts[p] = counts.get(p, 0) + f
        if not counts:
            break
        best = max(counts.items(), key=lambda kv: (kv[1], tuple(-ord(c) for c in kv[0][0] + '\0' + kv[0][1])))[0]
        merges.append(best)
        new = {}
        for w, f in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + f
        words = new
    return merges


def write_safetensors(path, tensors):
    header, blobs, off = {'__metadata__': {'format': 'pt'}}, [], 0
    for name, t in tensors.items():
        b = t.contiguous().numpy().astype('<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def main():
    out, texts = sys.argv[1], json.loads(open(sys.argv[2]).read())
    os.makedirs(out, exist_ok=True)
    training = ('def main(args):\n    return the_answer(args) + 42\n\nThe quick brown fox jumps over the lazy dog. '
                "It's what we'll do: héllo wörld, 12345 numbers. ") * 8
    merges = learn_merges(training, 80)
    order = list(bytes_to_unicode().values())
    vocab = {ch: i for i, ch in enumerate(order)}
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab['<|endoftext|>'] = len(vocab)
    V, C, L, H, T = len(vocab), 32, 2, 4, 64
    with open(os.path.join(out, 'vocab.json'), 'w') as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out, 'merges.txt'), 'w') as f:
        f.write('#version: 0.2\n' + ''.join(f'{a} {b}\n' for a, b in merges))
    with open(os.path.join(out, 'config.json'), 'w') as f:
        json.dump({'model_type': 'gpt2', 'architectures': ['GPT2LMHeadModel'], 'vocab_size': V, 'n_positions': T,
                   'n_ctx': T, 'n_embd': C, 'n_layer': L, 'n_head': H, 'activation_function': 'gelu_new',
                   'layer_norm_epsilon': 1e-5, 'tie_word_embeddings': True}, f)
    torch.manual_seed(0)
    model = GPT(Config({'vocabSize': V, 'contextLength': T, 'nEmbd': C, 'nLayer': L, 'nHead': H,
                        'positionEncoding': 'learned'}))
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * (0.3 if p.dim() >= 2 else 0.1) + (1.0 if name.endswith('ln_1.weight') or name.endswith('ln_2.weight') or name.endswith('ln_f.weight') else 0.0))
    tensors = {k[len('transformer.'):]: v for k, v in model.state_dict().items()}
    for i in range(L):
        tensors[f'h.{i}.attn.bias'] = torch.tril(torch.ones(T, T)).view(1, 1, T, T)
    write_safetensors(os.path.join(out, 'model.safetensors'), tensors)
    enc = Encoder(vocab, merges)
    ids = [enc.encode(t) for t in texts]
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids[0][:T]]))[0]
    print(json.dumps({'ids': ids, 'logits': logits.tolist(), 'vocab_size': V}))


if __name__ == '__main__':
    main()
