#!/usr/bin/env bash
# The MNIST-5k numbers of docs/diffusion.md: the pixel DDPM (U-Net), latent
# diffusion in a VAE's latent space, and the VAE and RealNVP beside them,
# every model's samples scored the same way by `genlab samplers` (the same
# sample count and seed, gen-eval's MNIST extractor, against the test
# split; ms per sample timed in-process).
#
#   bash docs/reference/diffusion_mnist.sh [OUT]     (default OUT: runs/diffusion-mnist)
#
# About 2 hours on the 2-core development machine, most of it the pixel
# DDPM's training (2,000 steps at ~1.3 s) and its DDIM sampling.
set -euo pipefail
out=${1:-runs/diffusion-mnist}
genlab() { cargo run -q -p genlab -- "$@"; }
mkdir -p "$out"

# Pixel space: the U-Net (widths 16, 32, 64), 2,000 steps of batch 64.
[ -f "$out/ddpm/summary.json" ] || genlab train ddpm --data mnist5k --steps 2000 --seed 0 \
  --eval-every 1000 --bound-rows 64 --backend flex --out "$out/ddpm" > "$out/ddpm.json"
# The VAE (MLP, 20-d latent) and the latent DDPM trained on its posterior means.
[ -f "$out/vae/summary.json" ] || genlab train vae --data mnist5k --steps 10000 --seed 0 \
  --backend flex --out "$out/vae" > "$out/vae.json"
[ -f "$out/latent/summary.json" ] || genlab train latent-ddpm --data mnist5k --vae "$out/vae" \
  --steps 20000 --seed 0 --backend flex --out "$out/latent" > "$out/latent.json"
# The flow: multi-scale RealNVP as docs/flows.md.
[ -f "$out/realnvp/summary.json" ] || genlab train realnvp --data mnist5k --steps 3000 --batch 64 \
  --lr 5e-4 --seed 0 --backend flex --out "$out/realnvp" > "$out/realnvp.json"

# 1,000 samples per sampler (the size of the test split), seed 0.
genlab samplers --checkpoint "$out/ddpm" --out "$out/samplers-ddpm" --n 1000 \
  --steps 10,20,50 --etas 0 --ode-steps 10,20 --no-ddpm
genlab samplers --checkpoint "$out/latent" --out "$out/samplers-latent" --n 1000
genlab samplers --checkpoint "$out/vae" --out "$out/samplers-vae" --n 1000
genlab samplers --checkpoint "$out/realnvp" --out "$out/samplers-realnvp" --n 1000
cat "$out"/samplers-*/samplers.md
