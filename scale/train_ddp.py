"""Train a GPT Lab export on many processes with PyTorch DistributedDataParallel, and write an export back.

    gpt-lab export --model .gpt-lab/model --out export                      # in GPT Lab
    torchrun --standalone --nproc_per_node=8 scale/train_ddp.py --data export --out trained --steps 2000
    gpt-lab import --from trained --out .gpt-lab/torch-1                     # back in GPT Lab

Each process (rank) holds the whole model; DDP averages the gradients across ranks after every backward pass
(NCCL between GPUs, gloo between CPU processes), so every rank takes the same optimizer step and the weights
stay identical. The recipe is the engine's (src/core/train): random windows of train.bin, AdamW (betas, weight
decay on matrices only, gradient clipping) and its schedule — linear warm-up, then cosine decay to lr/10 —
with the hyperparameters the model was trained with in GPT Lab unless flags say otherwise. Checkpoints
(ckpt.pt: weights, optimizer, step) resume exactly: a batch depends only on (seed, step, rank, micro-step).
"""
import argparse
import contextlib
import datetime
import faulthandler
import hashlib
import json
import math
import os
import shutil
import signal
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
from torch.distributed.elastic.multiprocessing.errors import record
from torch.nn.parallel import DistributedDataParallel as DDP

from model import export_tensors, load_export, write_safetensors

COPIED = ['tokenizer.json', 'vocab.json', 'merges.txt', 'meta.json']


def parse_args():
    ap = argparse.ArgumentParser(description='DDP training of a GPT Lab export (run it with torchrun).')
    ap.add_argument('--data', required=True, help='a `gpt-lab export` folder (with train.bin, val.bin, meta.json)')
    ap.add_argument('--out', required=True, help='folder for the trained export, ckpt.pt and log.jsonl')
    ap.add_argument('--steps', type=int, default=1000, help='total optimizer steps (a resume continues up to it)')
    ap.add_argument('--batch', type=int, default=None, help='sequences per rank per micro-step (default: GPT Lab\'s batch)')
    ap.add_argument('--grad-accum', type=int, default=1, help='micro-steps per optimizer step')
    ap.add_argument('--lr', type=float, default=None, help='peak learning rate (default: GPT Lab\'s)')
    ap.add_argument('--min-lr', type=float, default=None, help='where the cosine ends (default lr/10)')
    ap.add_argument('--warmup', type=int, default=None, help='warm-up steps (default: GPT Lab\'s)')
    ap.add_argument('--schedule', choices=['cosine', 'wsd'], default=None, help='after warm-up (default: GPT Lab\'s)')
    ap.add_argument('--decay-fraction', type=float, default=None, help='wsd: share of steps decaying (default 0.3)')
    ap.add_argument('--weight-decay', type=float, default=None)
    ap.add_argument('--clip', type=float, default=None, help='global gradient-norm clip, 0 = off')
    ap.add_argument('--eval-every', type=int, default=100)
    ap.add_argument('--eval-batches', type=int, default=8)
    ap.add_argument('--ckpt-every', type=int, default=500)
    ap.add_argument('--seed', type=int, default=1337)
    ap.add_argument('--resume', action='store_true', help='continue from OUT/ckpt.pt')
    ap.add_argument('--stop-at', type=int, default=None,
                    help='stop after this step with a checkpoint (a job slot ends; --resume continues up to --steps)')
    ap.add_argument('--timeout-s', type=float, default=1800,
                    help='how long a rank waits for the others in a collective before it fails (default 30 min)')
    ap.add_argument('--device', default='auto', help="'auto' (CUDA when there is one), 'cuda' or 'cpu'")
    ap.add_argument('--bf16', action='store_true', help='CUDA: forward and backward in bfloat16 autocast (weights stay fp32)')
    return ap.parse_args()


def learning_rate(step, a):
    """The engine's schedule (src/core/train/schedule.ts): linear warm-up, then cosine from lr to min_lr — or,
    with --schedule wsd, lr until the last --decay-fraction of the steps after warm-up, then linear to min_lr."""
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    progress = min(1.0, (step - a.warmup) / max(1, a.steps - a.warmup))
    if a.schedule == 'wsd':
        if progress <= 1 - a.decay_fraction:
            return a.lr
        return a.min_lr + (1 - progress) / a.decay_fraction * (a.lr - a.min_lr)
    return a.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (a.lr - a.min_lr)


def load_tokens(folder, split, dtype):
    return np.memmap(os.path.join(folder, f'{split}.bin'), dtype=np.dtype(dtype).newbyteorder('<'), mode='r')


def get_batch(tokens, B, T, seed):
    """B random windows of T+1 tokens, drawn by a generator seeded only by `seed`."""
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(len(tokens) - T - 1, (B,), generator=g).tolist()
    xy = torch.stack([torch.from_numpy(tokens[s:s + T + 1].astype(np.int64)) for s in starts])
    return xy[:, :-1], xy[:, 1:]


def eval_windows(tokens, B, T, n_batches):
    """Fixed, evenly spaced validation windows (the same at every evaluation, so curves compare)."""
    T = min(T, len(tokens) - 1)
    n = max(1, min(n_batches * B, (len(tokens) - 1) // T))
    stride = max(1, (len(tokens) - 1 - T) // max(1, n - 1))
    starts = [min(i * stride, len(tokens) - 1 - T) for i in range(n)]
    xy = torch.stack([torch.from_numpy(tokens[s:s + T + 1].astype(np.int64)) for s in starts])
    return [(xy[i:i + B, :-1], xy[i:i + B, 1:]) for i in range(0, n, B)]


def fingerprint(model):
    """sha256 of every parameter's bytes: equal on every rank when DDP kept them in step."""
    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@record  # a rank that fails: torchrun's summary names it and shows its traceback
def main():
    a = parse_args()
    # Where a rank was when it was stopped: on SIGTERM (torchrun stops the other ranks that way when one fails; the
    # tests stop a run that went over time that way) every thread's Python stack goes to stdout, the rank's own
    # log, before the rank ends as it would have. `kill -USR1 PID` prints it without stopping.
    for sig, chain in ((signal.SIGTERM, True), (signal.SIGUSR1, False)):
        faulthandler.register(sig, file=sys.stdout, all_threads=True, chain=chain)
    # --- processes: torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; plain `python3 train_ddp.py` is one process.
    ddp = 'RANK' in os.environ
    use_cuda = torch.cuda.is_available() if a.device == 'auto' else a.device == 'cuda'
    rank, local_rank, world = 0, 0, 1
    if ddp:
        # A peer that died or stopped answering ends a collective with an error after --timeout-s instead of
        # leaving the others waiting (gloo; NCCL where its async error handling is on, the default of recent PyTorch).
        dist.init_process_group(backend='nccl' if use_cuda else 'gloo', timeout=datetime.timedelta(seconds=a.timeout_s))
        rank, world = dist.get_rank(), dist.get_world_size()
        local_rank = int(os.environ.get('LOCAL_RANK', 0))
    if use_cuda:
        device = torch.device('cuda', local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device('cpu')
        local_world = int(os.environ.get('LOCAL_WORLD_SIZE', 1))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    master = rank == 0

    # --- the export: model, GPT Lab's hyperparameters, the tokenized corpus.
    model, hf, extra = load_export(a.data)
    training = hf['gpt_lab'].get('training', {})
    a.batch = a.batch or training.get('batchSize', 8)
    a.lr = a.lr or training.get('learningRate', 6e-4)
    a.min_lr = a.min_lr if a.min_lr is not None else a.lr / 10
    a.warmup = a.warmup if a.warmup is not None else min(training.get('warmupSteps', 30), a.steps // 10 or 1)
    a.schedule = a.schedule or training.get('schedule', 'cosine')
    a.decay_fraction = a.decay_fraction or training.get('decayFraction', 0.3)
    a.weight_decay = a.weight_decay if a.weight_decay is not None else training.get('weightDecay', 0.1)
    a.clip = a.clip if a.clip is not None else training.get('gradClip', 1.0)
    betas = (training.get('beta1', 0.9), training.get('beta2', 0.95))
    if not os.path.exists(os.path.join(a.data, 'train.bin')):
        raise SystemExit(f'{a.data} has no train.bin: export the model with its corpus (gpt-lab export --corpus DIR)')
    with open(os.path.join(a.data, 'meta.json')) as f:
        meta = json.load(f)
    train_tokens = load_tokens(a.data, 'train', meta['dtype'])
    val_tokens = load_tokens(a.data, 'val', meta['dtype'])
    T = model.c.block_size
    if len(train_tokens) < T + 2:
        raise SystemExit(f'train.bin holds {len(train_tokens)} tokens: too few for one window of {T + 1}')

    # --- optimizer: AdamW, weight decay on matrices (and embeddings), not on biases and LayerNorm gains.
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {'params': [p for p in params if p.dim() >= 2], 'weight_decay': a.weight_decay},
        {'params': [p for p in params if p.dim() < 2], 'weight_decay': 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=a.lr, betas=betas, eps=1e-8)
    os.makedirs(a.out, exist_ok=True)
    ckpt_path = os.path.join(a.out, 'ckpt.pt')
    start = 0
    if a.resume:
        ckpt = torch.load(ckpt_path, map_location=device)
        model.load_state_dict(ckpt['model'])
        opt.load_state_dict(ckpt['optimizer'])
        start = ckpt['step']
    # The model's buffers (causal mask, rotary and sinusoid tables) are constants every rank builds alike: no
    # broadcast of them before each forward.
    net = DDP(model, device_ids=[local_rank] if use_cuda else None, broadcast_buffers=False) if ddp else model

    def save_checkpoint(step):
        if master:
            tmp = ckpt_path + '.tmp'
            torch.save({'model': model.state_dict(), 'optimizer': opt.state_dict(), 'step': step, 'args': vars(a)}, tmp)
            os.replace(tmp, ckpt_path)

    def mean_over_ranks(x):
        t = torch.tensor([x], dtype=torch.float64, device=device)
        if ddp:
            dist.all_reduce(t)
            t /= world
        return t.item()

    @torch.no_grad()
    def val_loss():
        net.eval()
        losses = [net(x.to(device), y.to(device))[1].item() for x, y in eval_windows(val_tokens, a.batch, T, a.eval_batches)]
        net.train()
        return mean_over_ranks(sum(losses) / len(losses))

    def autocast():
        if a.bf16 and use_cuda:
            return torch.autocast(device_type='cuda', dtype=torch.bfloat16)
        return contextlib.nullcontext()

    log = open(os.path.join(a.out, 'log.jsonl'), 'a' if a.resume else 'w') if master else None

    def record(**kv):
        if log:
            log.write(json.dumps(kv) + '\n')
            log.flush()
            print(json.dumps(kv), flush=True)

    record(event='start', world_size=world, device=str(device), backend=dist.get_backend() if ddp else None,
           step=start, steps=a.steps, batch=a.batch, grad_accum=a.grad_accum, lr=a.lr, warmup=a.warmup,
           tokens_per_step=world * a.grad_accum * a.batch * T)
    t0 = time.time()
    loss_value = float('nan')
    net.train()
    end = min(a.steps, a.stop_at or a.steps)
    for step in range(start, end):
        lr = learning_rate(step, a)
        for g in opt.param_groups:
            g['lr'] = lr
        total = 0.0
        for micro in range(a.grad_accum):
            x, y = get_batch(train_tokens, a.batch, T, ((a.seed * 1_000_003 + step) * 1009 + rank) * 101 + micro)
            # Only the last micro-step's backward synchronises gradients across ranks.
            sync = micro == a.grad_accum - 1 or not ddp
            ctx = net.no_sync() if not sync else torch.enable_grad()
            with ctx, autocast():
                _, loss = net(x.to(device), y.to(device))
                (loss / a.grad_accum).backward()
            total += loss.item() / a.grad_accum
        if a.clip > 0:
            torch.nn.utils.clip_grad_norm_(params, a.clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss_value = mean_over_ranks(total)
        done = step + 1
        entry = dict(event='step', step=done, loss=round(loss_value, 5), lr=lr, elapsed_s=round(time.time() - t0, 2))
        if done % a.eval_every == 0 or done == a.steps:
            entry['val_loss'] = round(val_loss(), 5)
        record(**entry)
        if done % a.ckpt_every == 0 and done < a.steps:
            save_checkpoint(done)

    if end < a.steps:
        save_checkpoint(end)
        record(event='stopped', step=end, steps=a.steps, checkpoint=ckpt_path)
        if ddp:
            leave_group(rank, world)
        return

    # --- the end: every rank must hold the same weights; rank 0 writes the checkpoint and the export.
    final_val = val_loss()
    mine = fingerprint(model)
    prints = [None] * world
    if ddp:
        dist.all_gather_object(prints, mine)
    else:
        prints = [mine]
    save_checkpoint(a.steps)
    if master:
        write_export(a, model, hf, extra, loss_value, final_val, world, start)
        record(event='done', step=a.steps, loss=loss_value, val_loss=final_val, fingerprints=prints,
               ranks_agree=len(set(prints)) == 1)
    if ddp:
        leave_group(rank, world)
    if len(set(prints)) != 1:
        raise SystemExit('the ranks hold different weights: DDP lost synchrony')


def leave_group(rank, world):
    """Ends the process group so that no rank closes a connection another one still reads from.

    With barrier() then destroy_process_group(), the rank that leaves the barrier first closes its gloo connections
    and exits while a slower one may still be reading the barrier's last message. Once in CI (torch 1.13, a loaded
    machine) rank 0 had written everything and exited, and rank 1 never returned: it sat, a core busy, until it was
    killed 17 minutes later (a rank that outlives rank 0, whose process hosts the job's key-value store, spins in the
    store's listen thread; measured). So the ranks meet in the store instead: each says it is past its collectives
    and waits for all, and rank 0, the store's host, closes last, once the others said they are leaving (a set needs
    no answer). Every wait ends at --timeout-s.
    """
    store = dist.distributed_c10d._get_default_store()
    store.set(f'gpt_lab/finished/{rank}', '1')
    store.wait([f'gpt_lab/finished/{r}' for r in range(world)])
    if rank == 0:
        store.wait([f'gpt_lab/left/{r}' for r in range(1, world)])
    else:
        store.set(f'gpt_lab/left/{rank}', '1')
    dist.destroy_process_group()


def write_export(a, model, hf, extra, loss, val, world, start):
    """The trained model as an export `gpt-lab import` reads: the same layout as the input, a record of the run."""
    for name in COPIED:
        src = os.path.join(a.data, name)
        if os.path.exists(src) and os.path.abspath(src) != os.path.abspath(os.path.join(a.out, name)):
            shutil.copyfile(src, os.path.join(a.out, name))
    write_safetensors(os.path.join(a.out, 'model.safetensors'), export_tensors(model, extra), {'format': 'pt'})
    cfg = json.loads(json.dumps(hf))
    g = cfg['gpt_lab']
    g['trained'] = {
        'tool': 'scale/train_ddp.py', 'torch': torch.__version__, 'world_size': world, 'from': os.path.abspath(a.data),
        'steps_this_run': a.steps, 'resumed_at': start if a.resume else None, 'batch': a.batch,
        'grad_accum': a.grad_accum, 'lr': a.lr, 'metrics': {'loss': loss, 'valLoss': val},
    }
    g['step'] = g.get('step', 0) + a.steps   # the input export's step, plus this run's
    tmp = os.path.join(a.out, 'config.json.tmp')
    with open(tmp, 'w') as f:
        json.dump(cfg, f, indent=2)
    os.replace(tmp, os.path.join(a.out, 'config.json'))


if __name__ == '__main__':
    main()
