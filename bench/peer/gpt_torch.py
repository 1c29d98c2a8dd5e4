#!/usr/bin/python3
"""A nanoGPT-style PyTorch GPT (pre-LayerNorm, learned positions, tied head, tanh GELU, AdamW, clip 1.0),
used as the peer to measure against on the same machine.

Usage: python3 gpt_torch.py --config A|B [--data FILE] [--threads 2] [--steps 10] [--warmup 3] [--nogen] [--device cuda]
       python3 gpt_torch.py --vocab 4096 --ctx 256 --d 256 --layers 4 --heads 4 --batch 16 ...
Prints JSON lines: the set-up, then training throughput, then generation times (greedy, full recompute vs KV cache).
Tokens are the data file's bytes modulo the vocabulary: the figure is speed, not quality.

Copied from the project's shared peers/gpt_torch.py (the performance notes' peer) so that `gpt-lab bench --peer`
finds it in the repository; added here: --notrain, --genbatch N (KV-cached generation of N rows at once),
--matmul (the machine's fp32 matmul peak, 1024^3), --device (cuda: the GPU peer of bench/gpu.sh, torch >= 2.0) and a
last line with the process's peak resident memory.
"""
import sys, time, math, json, argparse, statistics, resource
import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    'A': dict(vocab=512, ctx=64, d=64, layers=2, heads=4, batch=16),
    'B': dict(vocab=2048, ctx=128, d=128, layers=4, heads=4, batch=16),
}

class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        D, self.H = c['d'], c['heads']
        self.ln1 = nn.LayerNorm(D); self.attn = nn.Linear(D, 3 * D); self.proj = nn.Linear(D, D)
        self.ln2 = nn.LayerNorm(D); self.fc = nn.Linear(D, 4 * D); self.fc2 = nn.Linear(4 * D, D)
        T = c['ctx']
        self.register_buffer('mask', torch.tril(torch.ones(T, T, dtype=torch.bool)))
    def forward(self, x, kv=None):
        B, T, D = x.shape; H = self.H; hd = D // H
        q, k, v = self.attn(self.ln1(x)).split(D, dim=2)
        q = q.view(B, T, H, hd).transpose(1, 2); k = k.view(B, T, H, hd).transpose(1, 2); v = v.view(B, T, H, hd).transpose(1, 2)
        if kv is not None:
            if kv.get('k') is not None:
                k = torch.cat([kv['k'], k], 2); v = torch.cat([kv['v'], v], 2)
            kv['k'], kv['v'] = k, v
        Tk = k.shape[2]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        if T > 1:  # causal (for the query rows that exist)
            att = att.masked_fill(~self.mask[Tk - T:Tk, :Tk], float('-inf'))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, D)
        x = x + self.proj(y)
        x = x + self.fc2(F.gelu(self.fc(self.ln2(x)), approximate='tanh'))
        return x

class GPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.wte = nn.Embedding(c['vocab'], c['d']); self.wpe = nn.Embedding(c['ctx'], c['d'])
        self.h = nn.ModuleList([Block(c) for _ in range(c['layers'])])
        self.lnf = nn.LayerNorm(c['d'])
        self.head = nn.Linear(c['d'], c['vocab'], bias=False)
        self.head.weight = self.wte.weight  # tied
        self.apply(self._init)
    def _init(self, m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.02)
            if m.bias is not None: nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0, 0.02)
    def forward(self, idx, targets=None, kvs=None, pos0=0, last_only=False):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(pos0, pos0 + T))
        for i, b in enumerate(self.h):
            x = b(x, None if kvs is None else kvs[i])
        if last_only: x = x[:, -1:, :]
        logits = self.head(self.lnf(x))
        if targets is None: return logits
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

def params(c):
    D, V, T, L = c['d'], c['vocab'], c['ctx'], c['layers']
    block = 12 * D * D + 13 * D
    nonpos = V * D + L * block + 2 * D
    return nonpos, 6 * nonpos + 12 * L * D * T

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--config', default='B', choices=sorted(CONFIGS)); ap.add_argument('--threads', type=int, default=2)
    for k in ('vocab', 'ctx', 'd', 'layers', 'heads', 'batch'): ap.add_argument('--' + k, type=int)
    ap.add_argument('--data', default=__file__)
    ap.add_argument('--steps', type=int, default=10); ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--nogen', action='store_true'); ap.add_argument('--notrain', action='store_true')
    ap.add_argument('--genbatch', type=int, default=0); ap.add_argument('--matmul', action='store_true')
    ap.add_argument('--device', default='cpu')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    global DEVICE
    DEVICE = a.device
    if DEVICE != 'cpu': torch.set_default_device(DEVICE)  # parameters, buffers and data made there
    try:
        run(a)
    finally:
        print(json.dumps(dict(peakRssMiB=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))), flush=True)

DEVICE = 'cpu'
def sync():  # a GPU runs asynchronously: wait for it before reading the clock
    if DEVICE != 'cpu': torch.cuda.synchronize()

def matmul_peak(n=1024):
    a = torch.randn(n, n); b = torch.randn(n, n)
    for _ in range(3): a @ b
    sync(); r = []
    for _ in range(10):
        t0 = time.perf_counter(); a @ b; sync(); r.append(time.perf_counter() - t0)
    print(json.dumps(dict(matmul=dict(n=n, threads=torch.get_num_threads(), GFLOPs=round(2 * n ** 3 / min(r) / 1e9, 2)))), flush=True)

def run(a):
    if a.matmul: return matmul_peak()
    torch.manual_seed(0)
    c = dict(CONFIGS[a.config])
    for k in c:
        if getattr(a, k) is not None: c[k] = getattr(a, k)
    m = GPT(c)
    nparam = sum(p.numel() for p in m.parameters())
    nonpos, fpt = params(c)
    info = dict(torch=torch.__version__, device=DEVICE, threads=torch.get_num_threads(), c=c, params_total=nparam, nonPos=nonpos, flopsPerTokenTrain=fpt)
    print(json.dumps(info), flush=True)
    decay = [p for n, p in m.named_parameters() if p.dim() >= 2]
    nodecay = [p for n, p in m.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': nodecay, 'weight_decay': 0.0}], lr=3e-4, betas=(0.9, 0.95))
    src = open(a.data, 'rb').read()
    while len(src) < 4 * c['ctx'] * c['batch'] + 2048: src += src
    data = torch.tensor(list(src), dtype=torch.long) % c['vocab']
    B, T = c['batch'], c['ctx']
    g = torch.Generator().manual_seed(42)
    def batch():
        ix = torch.randint(len(data) - T - 1, (B,), generator=g, device='cpu')
        return torch.stack([data[i:i + T] for i in ix]), torch.stack([data[i + 1:i + 1 + T] for i in ix])
    times, losses = [], []
    m.train()
    for i in range(0 if a.notrain else a.warmup + a.steps):
        x, y = batch()
        t0 = time.perf_counter()
        loss = m(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        lv = loss.item()
        dt = time.perf_counter() - t0
        losses.append(round(lv, 4))
        if i >= a.warmup: times.append(dt)
    if times:
      med = statistics.median(times)
      tps = B * T / med
      print(json.dumps(dict(train=dict(stepMsMedian=round(med * 1000, 2), stepMsMin=round(min(times) * 1000, 2), tokPerSec=round(tps), achievedGFLOPs=round(tps * fpt / 1e9, 3), lossFirst=losses[0], lossLast=losses[-1]))), flush=True)
    if a.nogen: return
    m.eval()
    V = c['vocab']
    prompt = [b % V for b in src[1000:1064]]
    res = {}
    with torch.no_grad():
        def gen_full(p, n):
            toks = list(p)
            for _ in range(n):
                ctx = torch.tensor([toks[-T:]])
                logits = m(ctx, last_only=True)
                toks.append(int(logits[0, -1].argmax()))
            return toks[len(p):]
        def gen_kv(p, n):
            kvs = [dict() for _ in range(c['layers'])]
            logits = m(torch.tensor([p]), kvs=kvs, last_only=True)
            out = [int(logits[0, -1].argmax())]
            for i in range(1, n):
                pos = len(p) + i - 1
                logits = m(torch.tensor([[out[-1]]]), kvs=kvs, pos0=pos)
                out.append(int(logits[0, -1].argmax()))
            return out
        def timeit(f, *args):
            f(args[0], 4); r = []
            for _ in range(3):
                t0 = time.perf_counter(); o = f(*args); r.append(time.perf_counter() - t0)
            return statistics.median(r) * 1000, o
        ms, of = timeit(gen_full, prompt, 32)
        res['fullContext_32tok_ms'] = round(ms, 1)
        kvp = prompt if 64 + 32 <= T else prompt[-(T - 32):]
        if kvp is not prompt: res['kv_note'] = f'prompt cut to {len(kvp)}'
        ms2, ok = timeit(gen_kv, kvp, 32)
        res['kvCache_32tok_ms'] = round(ms2, 1)
        if kvp is prompt: res['kvMatchesFull'] = ok == of
        else:
            ms3, of2 = timeit(gen_full, kvp, 32)
            res['fullContext_samePromptAsKV_ms'] = round(ms3, 1); res['kvMatchesFull_samePrompt'] = ok == of2
        if a.genbatch > 0:
            R = a.genbatch
            rows = [[b % V for b in src[1000 + 97 * r:1064 + 97 * r]] for r in range(R)]
            def gen_batch(n):
                kvs = [dict() for _ in range(c['layers'])]
                logits = m(torch.tensor(rows), kvs=kvs, last_only=True)
                nxt = logits[:, -1].argmax(-1, keepdim=True)
                for i in range(1, n):
                    logits = m(nxt, kvs=kvs, pos0=64 + i - 1)
                    nxt = logits[:, -1].argmax(-1, keepdim=True)
                sync()
            gen_batch(4); r = []
            for _ in range(3):
                t0 = time.perf_counter(); gen_batch(32); r.append(time.perf_counter() - t0)
            ms = statistics.median(r) * 1000
            res['batch'] = dict(rows=R, promptTokens=64, newTokens=32, ms=round(ms, 1), tokPerSec=round(R * 32 * 1000 / ms))
    print(json.dumps(dict(gen=res)), flush=True)

if __name__ == '__main__':
    main()
