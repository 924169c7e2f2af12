#!/usr/bin/env bash
# The numbers of docs/diffusion.md, "MNIST-5k: the samplers' grid": the
# conditional pixel U-Net trained 3,000 steps (two data-parallel threads),
# its samplers at w = 0 (classes in turn) on 500 samples, split over the two
# cores and merged; the latent DDPM's whole grid on 2,000 samples (and five
# seeds of DDPM-1000 / DDIM-50 / ODE-20); the VAE and RealNVP; the floor
# (training images scored the same way) at both sample counts.
#
#   bash docs/reference/diffusion_mnist_grid.sh [OUT]   (default OUT: runs/diffusion-mnist-grid)
#
# About 4 hours on the 2-core development machine: the pixel U-Net's 3,000
# steps (~1 h on both cores), its guidance sweep and pictures (~1 h), and
# its samplers (DDPM-1000 on 500 images is ~1 h of one core at 7 ms per
# image per network pass). The latent, VAE and flow parts take minutes.
set -euo pipefail
out=${1:-runs/diffusion-mnist-grid}
cargo build -q -p genlab
bin="${CARGO_TARGET_DIR:-target}/debug/genlab"
genlab() { "$bin" "$@"; }
mkdir -p "$out"

# Pixel space: the conditional U-Net (widths 16, 32, 64), 1,500 steps, then
# resumed to 3,000 with the guidance sweep of the summary.
px="$out/ddpm-cfg"
[ -d "$px/checkpoints" ] || genlab train ddpm --data mnist5k --conditional --steps 1500 \
  --guidance-grid 0,1,3 --eval-every 0 --bound-rows 20 --distributed threads --ranks 2 \
  --out "$px" > "$out/ddpm-cfg-1500.json"
genlab train --resume "$px" --steps 3000 --guidance-grid 0,1,3,5 > "$out/ddpm-cfg-3000.json"

# Its samplers on 500 images: DDPM-1000 on one core, DDIM and the ODE on the
# other (x̂₀ clipped and ε̂ re-derived from it), then one merged table with
# the floor.
genlab samplers --checkpoint "$px" --out "$out/pixel-ddpm" --n 500 --no-ddim --no-ode &
genlab samplers --checkpoint "$px" --out "$out/pixel-ddim" --n 500 --steps 10,20,50,100 \
  --etas 0,0.5,1 --ode-steps 10,20 --no-ddpm --clipped-eps
wait
genlab samplers --checkpoint "$px" --out "$out/pixel" --n 500 --no-ddpm --no-ddim --no-ode \
  --floor --merge "$out/pixel-ddpm/samplers.json,$out/pixel-ddim/samplers.json"

# The VAE (MLP 784-400-20), the latent DDPM on its posterior means, RealNVP.
[ -f "$out/vae/summary.json" ] || genlab train vae --data mnist5k --steps 10000 --seed 0 \
  --out "$out/vae" > "$out/vae.json"
[ -f "$out/latent/summary.json" ] || genlab train latent-ddpm --data mnist5k --vae "$out/vae" \
  --steps 20000 --seed 0 --out "$out/latent" > "$out/latent.json"
[ -f "$out/realnvp/summary.json" ] || genlab train realnvp --data mnist5k --steps 3000 \
  --batch 64 --lr 5e-4 --seed 0 --out "$out/realnvp" > "$out/realnvp.json"

# 2,000 samples: the latent DDPM's whole grid (and four more seeds of three
# samplers), the VAE, the flow and the floor.
genlab samplers --checkpoint "$out/latent" --out "$out/latent-2000" --n 2000 --floor
for s in 1 2 3 4; do
  genlab samplers --checkpoint "$out/latent" --out "$out/latent-2000-seed$s" --n 2000 \
    --steps 50 --etas 0 --ode-steps 20 --seed "$s"
done
genlab samplers --checkpoint "$out/vae" --out "$out/vae-2000" --n 2000
genlab samplers --checkpoint "$out/realnvp" --out "$out/realnvp-2000" --n 2000
# 500 samples, as the pixel model: latent, VAE, flow.
genlab samplers --checkpoint "$out/latent" --out "$out/latent-500" --n 500 --steps 50 \
  --etas 0 --ode-steps 20
genlab samplers --checkpoint "$out/vae" --out "$out/vae-500" --n 500
genlab samplers --checkpoint "$out/realnvp" --out "$out/realnvp-500" --n 500
# The stronger latent prior ("A stronger latent prior"): a β-VAE (β = 0.1,
# 32-d; reconstructions FID 8.1) and denoisers in its latent space — the
# 3 × 512 MLP on posterior means, with EMA 0.999, on posterior draws, and the
# adaLN residual MLP (4 blocks of 256; ~1 h of one core for 20,000 steps).
[ -f "$out/bvae/summary.json" ] || genlab train beta-vae --data mnist5k --beta 0.1 \
  --vae-latent 32 --steps 10000 --seed 0 --out "$out/bvae" > "$out/bvae.json"
ldm() { # name, flags
  local name=$1; shift
  [ -f "$out/$name/summary.json" ] || genlab train latent-ddpm --data mnist5k --vae "$out/bvae" \
    --steps 20000 --seed 0 --out "$out/$name" "$@" > "$out/$name.json"
  genlab samplers --checkpoint "$out/$name" --out "$out/$name-500" --n 500 --steps 50 \
    --etas 0,1 --ode-steps 20
}
ldm bvae-mlp512 --diffusion-hidden 512,512,512
ldm bvae-mlp512-ema --diffusion-hidden 512,512,512 --diffusion-ema 0.999
ldm bvae-mlp512-draws --diffusion-hidden 512,512,512 --latent-posterior sample
ldm bvae-adaln --diffusion-arch adaln-mlp --diffusion-hidden 256,256,256,256
# The adaLN run trained on to 30,000 steps at its learning rate and at 2e-4.
for v in 30k:1e-3 lr:2e-4; do
  d="$out/bvae-adaln-${v%%:*}"
  [ -d "$d" ] || cp -r "$out/bvae-adaln" "$d"
  genlab train --resume "$d" --steps 30000 --lr "${v#*:}" > "$d.json"
  genlab samplers --checkpoint "$d" --out "$d-500" --n 500 --steps 50,100 --etas 0,1 \
    --ode-steps 10,20 --no-ddpm
done
# Then 5,000 more steps of the 2e-4 run at 5e-5 (and at 2e-4).
for v in lr5:5e-5 lr2:2e-4; do
  d="$out/bvae-adaln-${v%%:*}"
  [ -d "$d" ] || cp -r "$out/bvae-adaln-lr" "$d"
  genlab train --resume "$d" --steps 35000 --lr "${v#*:}" > "$d.json"
  genlab samplers --checkpoint "$d" --out "$d-500" --n 500 --steps 50 --etas 0 \
    --ode-steps 20 --no-ddpm
done
# Then 10,000 more steps of the 5e-5 run at 2e-5, and its ODE at 15 to 50 steps.
d="$out/bvae-adaln-lr6"
[ -d "$d" ] || cp -r "$out/bvae-adaln-lr5" "$d"
genlab train --resume "$d" --steps 45000 --lr 2e-5 > "$d.json"
genlab samplers --checkpoint "$out/bvae-adaln-lr5" --out "$out/bvae-adaln-lr5-ode" --n 500 \
  --steps 200 --etas 0 --ode-steps 15,30,50 --no-ddpm
# Latent against pixel in one call per seed: the same 500 test images, the
# same seed for both, timed in the same process (pixel DDIM-50 η = 1, its
# best DDIM-50; the latent models' ODE-30), five seeds.
for s in 0 1 2 3 4; do
  genlab samplers --checkpoint "$px" --against "$out/bvae-adaln-lr5,$out/bvae-adaln-lr6" \
    --out "$out/latent-vs-pixel-seed$s" --n 500 --steps 50 --etas 1 --ode-steps 30 --no-ddpm \
    --seed "$s"
done
# The same denoiser, 20,000 steps with the cosine decay, against the
# constant-rate run, ODE-30 on the same five seeds.
[ -f "$out/bvae-adaln-cosine/summary.json" ] || genlab train latent-ddpm --data mnist5k \
  --vae "$out/bvae" --diffusion-arch adaln-mlp --diffusion-hidden 256,256,256,256 \
  --diffusion-cosine --steps 20000 --seed 0 --out "$out/bvae-adaln-cosine" > "$out/bvae-adaln-cosine.json"
for s in 0 1 2 3 4; do
  genlab samplers --checkpoint "$out/bvae-adaln-cosine" --against "$out/bvae-adaln" \
    --out "$out/cosine-vs-constant-seed$s" --n 500 --steps 50 --etas 0 --ode-steps 30 \
    --no-ddpm --no-ddim --seed "$s"
done
# A class-conditional latent DDPM (the pixel model is conditional and draws the
# classes in turn; this one does too): the cosine adaLN run with --conditional.
d="$out/bvae-adaln-cond"
[ -f "$d/summary.json" ] || genlab train latent-ddpm --data mnist5k --vae "$out/bvae" \
  --diffusion-arch adaln-mlp --diffusion-hidden 256,256,256,256 --diffusion-cosine \
  --conditional --steps 20000 --seed 0 --out "$d" > "$d.json"
for s in 0 1 2 3 4; do
  # Its guidance weights alone (latent calls are cheap).
  genlab samplers --checkpoint "$d" --out "$out/cond-w-seed$s" --n 500 --steps 50 --etas 0 \
    --ode-steps 20 --no-ddpm --guidance 0,0.25,0.5,1,2 --seed "$s"
  # Against the pixel model, both at w = 0.5, in one call; the rows at w = 0
  # of the earlier call on the same seed are merged into its table.
  genlab samplers --checkpoint "$px" --against "$d" \
    --merge "$out/latent-vs-pixel-seed$s/samplers.json" \
    --out "$out/cond-latent-vs-pixel-seed$s" --n 500 --steps 50 --etas 1 --ode-steps 20 \
    --no-ddpm --guidance 0.5 --seed "$s"
done
cat "$out"/pixel/samplers.md "$out"/latent-2000/samplers.md "$out"/bvae-adaln*-500/samplers.md \
  "$out"/latent-vs-pixel-seed*/samplers.md
