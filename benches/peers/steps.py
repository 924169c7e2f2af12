"""PyTorch's side of the speed harness (benches/peers/run.sh): one training
step of each reference model, timed as genlab's `peer_steps` example times
its own, printed as JSON lines.

Same architectures, initialisation schemes, batch sizes and optimisers as
genlab's reference models:

- realnvp: 8 affine couplings on 2-D data (normflows' configuration: MLP
  1-64-64-2 with ReLU and a zero last layer, exp scale, swap between
  couplings, N(0, I) base), batch 512, Adam.
- vae: 784-400-20, tanh, Bernoulli decoder (BCE with logits), closed-form
  KL, batch 100 of binarized MNIST-like pixels, Adam.
- gpt: nanoGPT's model as in docs/reference/nanogpt_baby.py (4 layers, 4
  heads, width 128, block 64, batch 12), AdamW with decay on matrices only,
  gradient norm clipped to 1.
- gan: MLP players 2-128-128 (G: ReLU, D: LeakyReLU 0.2), non-saturating
  loss, one D step on a detached fake batch then one G step through D,
  batch 256, Adam β = (0.5, 0.999).
- dcgan: G linear 100 → 128·7·7, batch norm, ReLU, transposed convolutions
  (4, 2, 1) 128 → 64 (batch norm, ReLU) → 1, tanh; D strided convolutions
  (4, 2, 1) 1 → 64 → 128 with LeakyReLU 0.2 and a linear logit, spectral
  norm on every D layer; batch 64, non-saturating loss, Adam β1 = 0.5.
- ddpm: MLP [x, sinusoidal e(t) of width 64] → 3 × 128 SiLU → 2,
  ε-prediction, T = 1000 linear schedule, batch 256, Adam, EMA 0.995.

Usage: python3 benches/peers/steps.py [--models realnvp,vae,...] [--steps 50] [--threads 1]
"""
import argparse
import importlib.util
import json
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")


def time_steps(step, steps):
    out = []
    for t in range(steps + 5):
        start = time.perf_counter()
        step()
        if t >= 5:
            out.append(1e3 * (time.perf_counter() - start))
    return sorted(out)


def mlp(widths, act, zero_last=False):
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(act())
    if zero_last:
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)
    return nn.Sequential(*layers)


def eight_gaussians(n, g):
    r, s = 4.0 / 1.414, 0.5 / 1.414
    centres = torch.tensor([[r * math.cos(k * math.pi / 4), r * math.sin(k * math.pi / 4)] for k in range(8)])
    k = torch.randint(0, 8, (n,), generator=g)
    return centres[k] + s * torch.randn(n, 2, generator=g)


def realnvp():
    nets = nn.ModuleList([mlp([1, 64, 64, 2], nn.ReLU, zero_last=True) for _ in range(8)])
    opt = torch.optim.Adam(nets.parameters(), lr=1e-4)
    x = eight_gaussians(512, torch.Generator().manual_seed(0))

    def step():
        z, logdet = x, torch.zeros(x.shape[0])
        for net in nets:
            a, b = z[:, :1], z[:, 1:]
            shift, log_scale = net(a).chunk(2, dim=1)
            b = b * torch.exp(log_scale) + shift
            logdet = logdet + log_scale.sum(1)
            z = torch.cat([b, a], 1)  # swap
        log_base = -0.5 * (z ** 2).sum(1) - math.log(2 * math.pi)
        loss = -(log_base + logdet).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step, 512


def vae():
    class Vae(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Sequential(nn.Linear(784, 400), nn.Tanh(), nn.Linear(400, 40))
            self.dec = nn.Sequential(nn.Linear(20, 400), nn.Tanh(), nn.Linear(400, 784))

        def forward(self, x):
            mu, logvar = self.enc(x).chunk(2, dim=1)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            rec = F.binary_cross_entropy_with_logits(self.dec(z), x, reduction="none").sum(1)
            kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1)
            return (rec + kl).mean()

    model = Vae()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = (torch.rand(100, 784, generator=torch.Generator().manual_seed(1)) < 0.13).float()

    def step():
        loss = model(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step, 100


def gpt():
    spec = importlib.util.spec_from_file_location("nanogpt_baby", os.path.join(ROOT, "docs", "reference", "nanogpt_baby.py"))
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    vocab = 65
    model = ref.GPT(vocab)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-4,
        betas=(0.9, 0.99),
    )
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, vocab, (12, 64), generator=g)
    y = torch.randint(0, vocab, (12, 64), generator=g)

    def step():
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    return step, 12


def gan():
    gen = mlp([2, 128, 128, 2], nn.ReLU)
    disc = mlp([2, 128, 128, 1], lambda: nn.LeakyReLU(0.2))
    opt_g = torch.optim.Adam(gen.parameters(), lr=1e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=1e-4, betas=(0.5, 0.999))
    x = eight_gaussians(256, torch.Generator().manual_seed(0))

    def step():
        fake = gen(torch.randn(256, 2)).detach()
        loss_d = F.softplus(-disc(x)).mean() + F.softplus(disc(fake)).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-disc(gen(torch.randn(256, 2)))).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()

    return step, 256


def dcgan():
    sn = nn.utils.spectral_norm

    class G(nn.Module):
        def __init__(self):
            super().__init__()
            self.project = nn.Linear(100, 128 * 7 * 7)
            self.net = nn.Sequential(
                nn.BatchNorm2d(128), nn.ReLU(),
                nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
                nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh(),
            )

        def forward(self, z):
            return self.net(self.project(z).view(-1, 128, 7, 7))

    disc = nn.Sequential(
        sn(nn.Conv2d(1, 64, 4, 2, 1)), nn.LeakyReLU(0.2),
        sn(nn.Conv2d(64, 128, 4, 2, 1)), nn.LeakyReLU(0.2),
        nn.Flatten(), sn(nn.Linear(128 * 7 * 7, 1)),
    )
    gen = G()
    for m in list(gen.modules()) + list(disc.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
    opt_g = torch.optim.Adam(gen.parameters(), lr=1e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=1e-4, betas=(0.5, 0.999))
    x = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(2)) * 2 - 1

    def step():
        fake = gen(torch.randn(64, 100)).detach()
        loss_d = F.softplus(-disc(x)).mean() + F.softplus(disc(fake)).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-disc(gen(torch.randn(64, 100)))).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()

    return step, 64


def ddpm():
    T = 1000
    betas = torch.linspace(1e-4, 0.02, T)
    ab = torch.cumprod(1 - betas, 0)
    net = mlp([2 + 64, 128, 128, 128, 2], nn.SiLU)
    ema = [p.detach().clone() for p in net.parameters()]
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    x = eight_gaussians(256, torch.Generator().manual_seed(0))
    freqs = torch.exp(-math.log(10000.0) * torch.arange(32) / 32)

    def step():
        t = torch.randint(0, T, (256,))
        eps = torch.randn(256, 2)
        a = ab[t].unsqueeze(1)
        xt = a.sqrt() * x + (1 - a).sqrt() * eps
        args = t.float().unsqueeze(1) * freqs.unsqueeze(0)
        emb = torch.cat([args.sin(), args.cos()], 1)
        loss = F.mse_loss(net(torch.cat([xt, emb], 1)), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for e, p in zip(ema, net.parameters()):
                e.lerp_(p, 1 - 0.995)

    return step, 256


MODELS = {"realnvp": realnvp, "vae": vae, "gpt": gpt, "gan": gan, "dcgan": dcgan, "ddpm": ddpm}

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for name in a.models.split(","):
        step, rows = MODELS[name]()
        ms = time_steps(step, a.steps)
        med = ms[len(ms) // 2]
        print(json.dumps({
            "model": name, "side": "pytorch", "threads": a.threads, "torch": torch.__version__,
            "steps": len(ms), "ms_median": med, "ms_p10": ms[int(0.1 * (len(ms) - 1))],
            "ms_p90": ms[int(0.9 * (len(ms) - 1))], "rows_per_s": rows / med * 1e3,
        }), flush=True)
