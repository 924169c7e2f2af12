"""Peer run for the gen-ar issue: makemore's default Transformer on census first names.

The model and the training loop are makemore's (karpathy/makemore,
`makemore.py`, condensed to `--type transformer` with its defaults): 4 layers,
4 heads, width 64, block = longest name + 1, untied output head, PyTorch's
default initialisation, AdamW (lr 5e-4, weight decay 0.01, betas (0.9, 0.99),
eps 1e-8), batch 32 names drawn with replacement, token 0 starting and ending
every name, padded targets ignored (-1).

Data: the split genlab's example writes, so both read the very same names
(makemore's protocol: seeded random order, test = last min(1000, 10%)):

    cargo run --release -p gen-ar --example makemore_names -- --out runs/makemore-names

This script:

    pip install torch   # only for this comparison
    THREADS=2 python3 docs/reference/makemore_names.py runs/makemore-names 0 1 2 3 4

prints, per seed, the test NLL per predicted token (nats/char, every
character and the end token of every test name) every EVAL_EVERY steps, the
last and the best, and ms per step. Environment overrides: STEPS=5000,
EVAL_EVERY=250, THREADS=2.
"""
import math
import os
import sys
import time

import torch
import torch.nn as nn
from torch.nn import functional as F

STEPS = int(os.environ.get("STEPS", 5000))
EVAL_EVERY = int(os.environ.get("EVAL_EVERY", 250))
torch.set_num_threads(int(os.environ.get("THREADS", 2)))


class NewGELU(nn.Module):
    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, block_size):
        super().__init__()
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.register_buffer("bias", torch.tril(torch.ones(block_size, block_size)).view(1, 1, block_size, block_size))
        self.n_head, self.n_embd = n_head, n_embd

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self, n_embd, n_head, block_size):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, block_size)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.ModuleDict(dict(c_fc=nn.Linear(n_embd, 4 * n_embd), c_proj=nn.Linear(4 * n_embd, n_embd), act=NewGELU()))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        m = self.mlp
        return x + m.c_proj(m.act(m.c_fc(self.ln_2(x))))


class Transformer(nn.Module):
    def __init__(self, vocab_size, block_size, n_layer=4, n_head=4, n_embd=64):
        super().__init__()
        self.block_size = block_size
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab_size, n_embd),
            wpe=nn.Embedding(block_size, n_embd),
            h=nn.ModuleList([Block(n_embd, n_head, block_size) for _ in range(n_layer)]),
            ln_f=nn.LayerNorm(n_embd),
        ))
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)

    def forward(self, idx, targets=None):
        b, t = idx.size()
        pos = torch.arange(0, t, dtype=torch.long).unsqueeze(0)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


def read(path):
    with open(path) as f:
        return [l.strip() for l in f if l.strip()]


def encode_all(names, stoi, max_len):
    n = len(names)
    x = torch.zeros(n, max_len + 1, dtype=torch.long)
    y = torch.full((n, max_len + 1), -1, dtype=torch.long)
    for i, w in enumerate(names):
        ix = torch.tensor([stoi[c] for c in w], dtype=torch.long)
        x[i, 1:1 + len(ix)] = ix
        y[i, :len(ix)] = ix
        y[i, len(ix)] = 0
    return x, y


@torch.no_grad()
def test_nll(model, x, y):
    model.eval()
    logits, _ = model(x)
    nll = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), ignore_index=-1, reduction="sum")
    model.train()
    return nll.item() / (y >= 0).sum().item()


def main():
    folder, seeds = sys.argv[1], [int(s) for s in sys.argv[2:]] or [0]
    train, test = read(os.path.join(folder, "train.txt")), read(os.path.join(folder, "test.txt"))
    chars = sorted(set("".join(train + test)))
    stoi = {c: i + 1 for i, c in enumerate(chars)}
    max_len = max(len(w) for w in train + test)
    xtr, ytr = encode_all(train, stoi, max_len)
    xte, yte = encode_all(test, stoi, max_len)
    print(f"makemore transformer: {len(train)} train / {len(test)} test names, vocab {len(chars) + 1}, "
          f"block {max_len + 1}, {STEPS} steps, torch {torch.__version__}, {torch.get_num_threads()} threads")
    rows = []
    for seed in seeds:
        torch.manual_seed(seed)
        model = Transformer(len(chars) + 1, max_len + 1)
        opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01, betas=(0.9, 0.99), eps=1e-8)
        curve, seconds = [], 0.0
        for step in range(STEPS):
            ix = torch.randint(0, len(train), (32,))
            t0 = time.perf_counter()
            _, loss = model(xtr[ix], ytr[ix])
            model.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seconds += time.perf_counter() - t0
            done = step + 1
            if done % EVAL_EVERY == 0 or done == STEPS:
                t = test_nll(model, xte, yte)
                curve.append((done, t))
                print(f"  seed {seed} step {done:>5}: train {loss.item():.4f}, test {t:.4f}", flush=True)
        best = min(curve, key=lambda p: p[1])
        rows.append((seed, curve[-1][1], best[1], best[0], 1e3 * seconds / STEPS))
    print("\n| seed | test NLL, last (nats/char) | best (step) | ms/step |\n|---|---|---|---|")
    for s, last, b, bs, ms in rows:
        print(f"| {s} | {last:.4f} | {b:.4f} ({bs}) | {ms:.1f} |")
    med = lambda v: sorted(v)[len(v) // 2] if len(v) % 2 else 0.5 * (sorted(v)[len(v) // 2 - 1] + sorted(v)[len(v) // 2])
    lasts = [r[1] for r in rows]
    print(f"| median | {med(lasts):.4f} (range {min(lasts):.4f}–{max(lasts):.4f}) | {med([r[2] for r in rows]):.4f} | {med([r[4] for r in rows]):.1f} |")


if __name__ == "__main__":
    main()
