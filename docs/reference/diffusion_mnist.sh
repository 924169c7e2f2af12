#!/usr/bin/env bash
# The MNIST-5k numbers of docs/diffusion.md ("MNIST-5k: pixel against latent
# diffusion, beside the VAE and the flow"): the pixel DDPM (U-Net), latent
# diffusion in a VAE's latent space, the VAE and RealNVP, trained as the
# standard tour trains them (RealNVP as docs/flows.md), then every model's
# samples scored the same way by `genlab samplers` (500 samples each, seed 0,
# gen-eval's MNIST extractor against the 500 test images; ms per sample timed
# in-process).
#
#   bash docs/reference/diffusion_mnist.sh [OUT]     (default OUT: runs/diffusion-mnist)
#
# About 1 hour 15 minutes on the 2-core development machine, most of it the
# pixel DDPM (1,500 steps at 1.2–1.6 s, its own sample grids and bound) and
# its DDIM sampling (0.3 s per image at 50 steps).
set -euo pipefail
out=${1:-runs/diffusion-mnist}
genlab() { cargo run -q -p genlab -- "$@"; }
mkdir -p "$out"

# Pixel space: the U-Net (widths 16, 32, 64), 1,500 steps of batch 64, its own
# FID skipped and its bound on 16 test images (the tour's ddpm-mnist).
[ -f "$out/ddpm/summary.json" ] || genlab train ddpm --data mnist5k --steps 1500 --seed 0 \
  --fid-samples 0 --bound-rows 16 --backend flex --out "$out/ddpm" > "$out/ddpm.json"
# The VAE (MLP 784-400-20) and the latent DDPM on its posterior means.
[ -f "$out/vae/summary.json" ] || genlab train vae --data mnist5k --steps 10000 --seed 0 \
  --backend flex --out "$out/vae" > "$out/vae.json"
[ -f "$out/latent/summary.json" ] || genlab train latent-ddpm --data mnist5k --vae "$out/vae" \
  --steps 20000 --seed 0 --backend flex --out "$out/latent" > "$out/latent.json"
# The flow: multi-scale RealNVP as docs/flows.md.
[ -f "$out/realnvp/summary.json" ] || genlab train realnvp --data mnist5k --steps 3000 --batch 64 \
  --lr 5e-4 --seed 0 --backend flex --out "$out/realnvp" > "$out/realnvp.json"

# 500 samples per sampler (the size of the test split), seed 0.
genlab samplers --checkpoint "$out/ddpm" --out "$out/samplers-ddpm" --n 500 \
  --steps 10,20,50 --etas 0 --ode-steps 10,20 --no-ddpm
genlab samplers --checkpoint "$out/ddpm" --out "$out/samplers-ddpm-clipped" --n 500 \
  --steps 10,50 --etas 0 --no-ode --no-ddpm --clipped-eps
genlab samplers --checkpoint "$out/latent" --out "$out/samplers-latent" --n 500
genlab samplers --checkpoint "$out/vae" --out "$out/samplers-vae" --n 500
genlab samplers --checkpoint "$out/realnvp" --out "$out/samplers-realnvp" --n 500
cat "$out"/samplers-*/samplers.md
