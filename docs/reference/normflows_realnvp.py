"""Peer run for issue 4: normflows RealNVP on FFJORD's 8 gaussians.

8 affine couplings (MLP 1-64-64-2, zero last layer), swap between couplings,
N(0, I) base (not trainable), Adam 1e-3, batch 512 of fresh samples, 3,000
steps; prints the test KL gap (test NLL minus the true density's NLL on the
same 20,000 points) per seed. `python3 docs/reference/normflows_realnvp.py 6`

Environment overrides (defaults: the reference configuration above):
TOY=eight-gaussians|rings, FLOW=realnvp|maf, LAYERS=8, HIDDEN=64, STEPS=3000,
COSINE=1 (cosine decay of the learning rate to 0), THREADS=2.
"""
import math
import os
import sys
import time

import normflows as nf
import torch

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
R, S = 4.0 / 1.414, 0.5 / 1.414
CENTRES = torch.tensor([[R * math.cos(k * math.pi / 4), R * math.sin(k * math.pi / 4)] for k in range(8)])


TOY = os.environ.get("TOY", "eight-gaussians")
FLOW = os.environ.get("FLOW", "realnvp")
LAYERS = int(os.environ.get("LAYERS", "8"))
HIDDEN = int(os.environ.get("HIDDEN", "64"))
STEPS = int(os.environ.get("STEPS", "3000"))
COSINE = os.environ.get("COSINE", "0") == "1"
# gen-data's rings: radii 0.75, 1.5, 2.25, 3, radial std 0.08, uniform angle.
RADII, RS = torch.tensor([0.75, 1.5, 2.25, 3.0]), 0.08


def sample(n, g):
    if TOY == "rings":
        r = RADII[torch.randint(0, 4, (n,), generator=g)] + RS * torch.randn(n, generator=g)
        th = 2 * math.pi * torch.rand(n, generator=g)
        return torch.stack([r * torch.cos(th), r * torch.sin(th)], 1)
    k = torch.randint(0, 8, (n,), generator=g)
    return CENTRES[k] + S * torch.randn(n, 2, generator=g)


def true_log_prob(x):
    if TOY == "rings":
        r = x.norm(dim=1)
        lp = -((r[:, None] - RADII[None]) ** 2) / (2 * RS * RS) - math.log(RS * math.sqrt(2 * math.pi))
        return torch.logsumexp(lp, 1) - math.log(4) - torch.log(2 * math.pi * r)
    d2 = ((x[:, None, :] - CENTRES[None]) ** 2).sum(-1)
    lp = -d2 / (2 * S * S) - math.log(2 * math.pi * S * S)
    return torch.logsumexp(lp, 1) - math.log(8)


def run(seed, steps=STEPS):
    torch.manual_seed(seed)
    flows = []
    for _ in range(LAYERS):
        if FLOW == "maf":
            flows.append(nf.flows.MaskedAffineAutoregressive(2, HIDDEN, num_blocks=2))
        else:
            flows.append(nf.flows.AffineCouplingBlock(nf.nets.MLP([1, HIDDEN, HIDDEN, 2], init_zeros=True)))
        flows.append(nf.flows.Permute(2, mode="swap"))
    model = nf.NormalizingFlow(nf.distributions.DiagGaussian(2, trainable=False), flows)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if COSINE else None
    g = torch.Generator().manual_seed(1000 + seed)
    t0 = time.time()
    for _ in range(steps):
        opt.zero_grad()
        loss = model.forward_kld(sample(512, g))
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    ms = 1e3 * (time.time() - t0) / steps
    test = sample(20000, torch.Generator().manual_seed(12345))
    with torch.no_grad():
        gap = (true_log_prob(test) - model.log_prob(test)).mean().item()
    return gap, ms


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    print(f"{FLOW} on {TOY}: {LAYERS} layers, hidden {HIDDEN}, {STEPS} steps, cosine={COSINE}")
    gaps = []
    for seed in range(n):
        gap, ms = run(seed)
        gaps.append(gap)
        print(f"seed {seed}: gap {gap:.4f} nats, {ms:.2f} ms/step", flush=True)
    m = sum(gaps) / n
    sd = (sum((g - m) ** 2 for g in gaps) / max(n - 1, 1)) ** 0.5
    print(f"gap over {n} seeds: mean {m:.4f}, sd {sd:.4f}, min {min(gaps):.4f}")
