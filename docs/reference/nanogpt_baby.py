"""Peer run for the gen-ar issue: nanoGPT's CPU "baby" Shakespeare configuration.

The model and the training loop are nanoGPT's (karpathy/nanoGPT `model.py`
and `train.py`, condensed to what this configuration uses): 4 layers, 4 heads,
width 128, block 64, batch 12, dropout 0, bias on, AdamW (β = 0.9, 0.99,
weight decay 0.1 on matrices only, as nanoGPT's `configure_optimizers`),
lr 1e-3 with 100 warm-up iterations and cosine decay to 1e-4 over 2,000
iterations, gradient norm clipped to 1, validation loss as nanoGPT's
`estimate_loss` (mean over `EVAL_ITERS` batches of random windows).

Data: gen-data's Shakespeare (crates/gen-data/data/shakespeare_gutenberg.txt.gz),
split as nanoGPT's prepare.py does (first 90% train, last 10% validation),
characters numbered in sorted order. genlab's run on the same split:

    cargo run -p genlab -- train char-gpt --data shakespeare --steps 2000 --seed S --out runs/gpt-S

This script:

    pip install torch
    THREADS=2 python3 docs/reference/nanogpt_baby.py 0 1 2 3 4

prints, per seed, the validation loss (nats/char) at the end and the wall time.
Environment overrides: ITERS=2000, EVAL_ITERS=20 (genlab's summary uses 20
batches), THREADS=2.
"""
import gzip
import math
import os
import sys
import time

import torch
import torch.nn as nn
from torch.nn import functional as F

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
ITERS = int(os.environ.get("ITERS", "2000"))
EVAL_ITERS = int(os.environ.get("EVAL_ITERS", "20"))
N_LAYER, N_HEAD, N_EMBD, BLOCK, BATCH = 4, 4, 128, 64, 12
LR, MIN_LR, WARMUP, WEIGHT_DECAY = 1e-3, 1e-4, 100, 0.1

HERE = os.path.dirname(os.path.abspath(__file__))
GZ = os.path.join(HERE, "..", "..", "crates", "gen-data", "data", "shakespeare_gutenberg.txt.gz")


class CausalSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = nn.Linear(N_EMBD, 3 * N_EMBD)
        self.c_proj = nn.Linear(N_EMBD, N_EMBD)

    def forward(self, x):
        b, t, c = x.size()
        q, k, v = self.c_attn(x).split(N_EMBD, dim=2)
        q, k, v = (z.view(b, t, N_HEAD, c // N_HEAD).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1, self.attn = nn.LayerNorm(N_EMBD), CausalSelfAttention()
        self.ln_2 = nn.LayerNorm(N_EMBD)
        self.c_fc, self.c_proj = nn.Linear(N_EMBD, 4 * N_EMBD), nn.Linear(4 * N_EMBD, N_EMBD)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, N_EMBD), nn.Embedding(BLOCK, N_EMBD)
        self.h = nn.ModuleList([Block() for _ in range(N_LAYER)])
        self.ln_f = nn.LayerNorm(N_EMBD)
        self.apply(self._init)
        for n, p in self.named_parameters():
            if n.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * N_LAYER))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, idx, targets):
        pos = torch.arange(idx.size(1))
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        logits = self.ln_f(x) @ self.wte.weight.t()  # weight tying
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def lr_at(it):
    if it < WARMUP:
        return LR * (it + 1) / (WARMUP + 1)
    ratio = (it - WARMUP) / (ITERS - WARMUP)
    return MIN_LR + 0.5 * (1.0 + math.cos(math.pi * min(ratio, 1.0))) * (LR - MIN_LR)


def batch(data, g):
    ix = torch.randint(len(data) - BLOCK, (BATCH,), generator=g)
    x = torch.stack([data[i : i + BLOCK] for i in ix])
    y = torch.stack([data[i + 1 : i + 1 + BLOCK] for i in ix])
    return x, y


def run(seed):
    text = gzip.open(GZ, "rt", encoding="utf-8").read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(len(data) * 0.9)
    train, val = data[:n], data[n:]
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = GPT(len(chars))
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}],
        lr=LR,
        betas=(0.9, 0.99),
    )
    t0 = time.time()
    for it in range(ITERS):
        for group in opt.param_groups:
            group["lr"] = lr_at(it)
        loss = model(*batch(train, g))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    seconds = time.time() - t0
    model.eval()
    with torch.no_grad():
        val_loss = sum(model(*batch(val, g)).item() for _ in range(EVAL_ITERS)) / EVAL_ITERS
    print(f"seed {seed}: val loss {val_loss:.4f} nats/char, {seconds:.1f} s, {1e3 * seconds / ITERS:.1f} ms/iter, vocab {len(chars)}")
    return val_loss, seconds


if __name__ == "__main__":
    seeds = [int(s) for s in sys.argv[1:]] or [0]
    results = [run(s) for s in seeds]
    vals = sorted(v for v, _ in results)
    print(f"median val loss {vals[len(vals) // 2]:.4f} over {len(vals)} seeds")
