"""PyTorch's side of the kernel reproduction (benches/peers/kernels.sh):
the same kernels as genlab's `peer_kernels` example, timed the same way
(10 warm-up runs, then the median of --reps), printed as JSON lines.

Usage: python3 benches/peers/kernels.py [--reps 200] [--threads 1]
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F

MATMULS = [
    ("mm_vae_enc", 100, 784, 400),
    ("mm_vae_dec", 100, 400, 784),
    ("mm_vae_wgrad", 784, 100, 400),
    ("mm_gpt_qkv", 768, 128, 384),
    ("mm_nvp_hidden", 512, 64, 64),
    ("mm_nvp_out", 512, 64, 2),
    ("mm_nvp_in", 512, 1, 64),
]


def median_us(reps, f):
    for _ in range(10):
        f()
    t = []
    for _ in range(reps):
        s = time.perf_counter()
        f()
        t.append(1e6 * (time.perf_counter() - s))
    t.sort()
    return t[len(t) // 2]


def line(kernel, us, gflops=None):
    print(json.dumps({"kernel": kernel, "side": "pytorch", "torch": torch.__version__,
                      "us": us, "gflops": gflops}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, m, k, n in MATMULS:
            x, w = torch.randn(m, k), torch.randn(k, n)
            us = median_us(a.reps, lambda: x @ w)
            line(name, us, 2 * m * n * k / us / 1e3)
        h, l, y = torch.randn(100, 400), torch.randn(100, 784), torch.randn(100, 784)
        line("tanh", median_us(a.reps, lambda: torch.tanh(h)))
        line("tanh_sigmoid", median_us(a.reps, lambda: torch.sigmoid(h * 2) * 2 - 1))
        line("exp", median_us(a.reps, lambda: torch.exp(l)))
        u = torch.exp(-l.abs())
        line("log1p", median_us(a.reps, lambda: torch.log1p(u)))
        line("log", median_us(a.reps, lambda: torch.log(u + 1)))
        line("add", median_us(a.reps, lambda: l + y))
        line("mul_scalar", median_us(a.reps, lambda: l * 2))
        line("bce_with_logits", median_us(
            a.reps, lambda: F.binary_cross_entropy_with_logits(l, y, reduction="none")))
        line("softmax", median_us(a.reps, lambda: torch.softmax(l, 1)))


if __name__ == "__main__":
    main()
