"""GPT Lab's model in PyTorch: GPT-2's architecture with the engine's recipe options, on an export's weights.

An export (`gpt-lab export`, or what train_ddp.py writes) holds Hugging Face GPT-2 tensors: the parameters here
are named and laid out exactly like them (GPT2LMHeadModel: `transformer.h.0.attn.c_attn.weight`, Conv1D weights
[in, out] so y = x @ W + b), so `state_dict()` *is* the export. The forward pass follows src/core/model/gpt.ts
and ops.ts line for line: pre-LayerNorm blocks (eps 1e-5), tanh GELU (GPT-2's `gelu_new`), tied head — and the
options GPT Lab's config may switch on: sinusoidal (frozen) or rotary positions, QK-norm (RMS, eps 1e-6, no
gain), ReLU² MLP, untied head, no biases, logit soft-cap.

    python3 scale/model.py EXPORT_DIR --ids 1,2,3   # prints the logits of those ids as JSON (parity checks)
"""
import argparse
import json
import math
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------------------------
# safetensors without the safetensors package: [u64 header length][JSON header][data], little-endian.

_DTYPES = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16, 'F64': torch.float64}


def read_safetensors(path):
    """{name: float32 tensor} of a safetensors file."""
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        begin, end = info['data_offsets']
        buf = bytearray(raw[8 + n + begin:8 + n + end])
        t = torch.frombuffer(buf, dtype=_DTYPES[info['dtype']]) if buf else torch.zeros(0)
        out[name] = t.reshape(info['shape']).to(torch.float32)
    return out


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} as F32, names sorted (what GPT Lab writes); atomic (temp file, then rename)."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        data = tensors[name].detach().to(torch.float32).contiguous().cpu().numpy().astype('<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(tensors[name].shape), 'data_offsets': [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text)
        for c in chunks:
            f.write(c)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)

# ---------------------------------------------------------------------------------------------------------------
# The model.


class Config:
    """GPT Lab's GPTConfig (config.json's `gpt_lab.model`), recipe options at GPT-2's values when absent."""

    def __init__(self, m):
        self.vocab_size = m['vocabSize']            # bytes + 4 specials + BPE merges
        self.block_size = m['contextLength']        # the longest sequence (n_positions)
        self.n_embd = m['nEmbd']                    # width of the residual stream
        self.n_layer = m['nLayer']                  # transformer blocks
        self.n_head = m['nHead']                    # attention heads per block
        self.positions = m['positionEncoding']      # 'learned' | 'sinusoidal' (frozen) | 'rotary'
        self.qk_norm = m.get('qkNorm', False)       # RMS-normalise q and k per head
        self.mlp = m.get('mlp', 'gelu')             # 'gelu' (tanh) | 'relu2'
        self.untied_head = m.get('untiedHead', False)  # own lm_head instead of wte
        self.bias = m.get('bias', True)             # biases in linears and LayerNorms
        self.soft_cap = m.get('logitSoftCap', 0)    # logits → cap·tanh(logits/cap) when > 0


class Conv1D(nn.Module):
    """GPT-2's linear layer: weight [in, out], y = x @ W + b."""

    def __init__(self, n_in, n_out, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out)) if bias else None

    def forward(self, x):
        y = x @ self.weight
        return y + self.bias if self.bias is not None else y


class LayerNorm(nn.Module):
    """LayerNorm over the last axis, eps 1e-5, with an optional bias (torch 1.13's nn.LayerNorm has no bias=False)."""

    def __init__(self, n, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.bias = nn.Parameter(torch.zeros(n)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


def rms_norm(x, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def rotary_tables(T, hs, base=10000.0):
    """cos, sin [T, hs]: the frequency of pair i (i < hs/2) in both halves (ops.ts rotaryTables)."""
    i = torch.arange(hs // 2, dtype=torch.float64)
    t = torch.arange(T, dtype=torch.float64)[:, None]
    a = t / torch.pow(base, 2 * i / hs)
    a = torch.cat([a, a], dim=1)
    return torch.cos(a).float(), torch.sin(a).float()


def rotate(x, cos, sin):
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


def sinusoids(T, C):
    """Fixed sinusoidal positions [T, C] (ops.ts sinusoids)."""
    out = torch.zeros(T, C, dtype=torch.float64)
    pos = torch.arange(T, dtype=torch.float64)[:, None]
    i = torch.arange(0, C, 2, dtype=torch.float64)
    angle = pos / torch.pow(10000.0, i / C)
    out[:, 0::2] = torch.sin(angle)
    out[:, 1::2] = torch.cos(angle)[:, :C // 2]
    return out.float()


class CausalSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.c_attn = Conv1D(c.n_embd, 3 * c.n_embd, c.bias)
        self.c_proj = Conv1D(c.n_embd, c.n_embd, c.bias)
        T, hs = c.block_size, c.n_embd // c.n_head
        # Additive causal mask, 0 on and below the diagonal and -1e9 above, like the engine's (float: gloo
        # cannot broadcast bool buffers).
        self.register_buffer('mask', torch.full((T, T), -1e9).triu(1), persistent=False)
        if c.positions == 'rotary':
            cos, sin = rotary_tables(T, hs)
            self.register_buffer('cos', cos, persistent=False)
            self.register_buffer('sin', sin, persistent=False)

    def forward(self, x):
        B, T, C = x.shape
        H = self.c.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)                          # [B, T, C] each
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))  # [B, H, T, hs]
        if self.c.qk_norm:
            q, k = rms_norm(q), rms_norm(k)
        if self.c.positions == 'rotary':
            q, k = rotate(q, self.cos[:T], self.sin[:T]), rotate(k, self.cos[:T], self.sin[:T])
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // H))      # [B, H, T, T]
        att = (att + self.mask[:T, :T]).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)          # [B, T, C]
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.relu2 = c.mlp == 'relu2'
        self.c_fc = Conv1D(c.n_embd, 4 * c.n_embd, c.bias)
        self.c_proj = Conv1D(4 * c.n_embd, c.n_embd, c.bias)

    def forward(self, x):
        u = self.c_fc(x)                                                    # [B, T, 4C]
        return self.c_proj(F.relu(u).square() if self.relu2 else F.gelu(u, approximate='tanh'))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = LayerNorm(c.n_embd, c.bias)
        self.attn = CausalSelfAttention(c)
        self.ln_2 = LayerNorm(c.n_embd, c.bias)
        self.mlp = MLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(c.vocab_size, c.n_embd),
            h=nn.ModuleList([Block(c) for _ in range(c.n_layer)]),
            ln_f=LayerNorm(c.n_embd, c.bias),
        ))
        if c.positions == 'learned':
            self.transformer['wpe'] = nn.Embedding(c.block_size, c.n_embd)
        elif c.positions == 'sinusoidal':
            self.register_buffer('wpe_fixed', sinusoids(c.block_size, c.n_embd), persistent=False)
        if c.untied_head:
            self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)   # nn.Linear: [vocab, n_embd]

    def forward(self, idx, targets=None):
        B, T = idx.shape
        x = self.transformer['wte'](idx)                                    # [B, T, C]
        if self.c.positions == 'learned':
            x = x + self.transformer['wpe'].weight[:T]
        elif self.c.positions == 'sinusoidal':
            x = x + self.wpe_fixed[:T]
        for block in self.transformer['h']:
            x = block(x)
        x = self.transformer['ln_f'](x)
        logits = self.lm_head(x) if self.c.untied_head else x @ self.transformer['wte'].weight.t()  # [B, T, V]
        if self.c.soft_cap > 0:
            logits = self.c.soft_cap * torch.tanh(logits / self.c.soft_cap)
        if targets is None:
            return logits
        return logits, F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1))

# ---------------------------------------------------------------------------------------------------------------
# Exports.


# config.json's model_type: 'gpt2' for GPT-2's recipe (GPT2LMHeadModel loads it as is), 'gpt_lab_modern' when any
# recipe option is on (transformers refuses it; `gpt_lab.model` says what to compute, and this model computes it).
MODEL_TYPES = ('gpt2', 'gpt_lab_modern')


def load_export(folder):
    """(model, config.json as a dict, tensors that are not GPT-2's: heads such as `score.weight`)."""
    with open(os.path.join(folder, 'config.json')) as f:
        hf = json.load(f)
    if 'gpt_lab' not in hf:
        raise SystemExit(f'{folder}/config.json has no gpt_lab section: export the model with `gpt-lab export`')
    if hf.get('model_type', 'gpt2') not in MODEL_TYPES:
        raise SystemExit(f"{folder}/config.json: model_type {hf['model_type']!r} is not one GPT Lab writes {MODEL_TYPES}")
    c = Config(hf['gpt_lab']['model'])
    model = GPT(c)
    tensors = read_safetensors(os.path.join(folder, 'model.safetensors'))
    if c.positions == 'sinusoidal':
        tensors.pop('transformer.wpe.weight', None)   # the fixed table, rebuilt above
    own = model.state_dict()
    extra = {k: v for k, v in tensors.items() if k not in own}
    heads = {h['name'] for h in hf['gpt_lab'].get('heads', [])}
    unknown = [k for k in extra if k not in heads]
    if unknown:
        raise SystemExit(f'model.safetensors: unknown tensor {unknown[0]}')
    model.load_state_dict({k: v for k, v in tensors.items() if k in own}, strict=True)
    return model, hf, extra


def export_tensors(model, extra):
    """The export's tensors: the state dict, the fixed sinusoids as wpe (as `gpt-lab export` writes), the heads."""
    out = {k: v for k, v in model.state_dict().items()}
    if model.c.positions == 'sinusoidal':
        out['transformer.wpe.weight'] = model.wpe_fixed
    out.update(extra)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('export')
    ap.add_argument('--ids', required=True, help='comma-separated token ids (one sequence)')
    a = ap.parse_args()
    model, _, _ = load_export(a.export)
    model.eval()
    ids = torch.tensor([[int(x) for x in a.ids.split(',')]])
    with torch.no_grad():
        logits = model(ids)[0]
    print(json.dumps(logits.tolist()))


if __name__ == '__main__':
    main()
