#!/usr/bin/env bash
# The MNIST-5k protocol on the pixel U-Net of diffusion_mnist_grid.sh
# (the conditional U-Net 16, 32, 64 after 3,000 steps, sampled at w = 0 with
# the classes in turn): 2,000 samples per sampler, DDPM-1000, DDIM at
# 10 / 20 / 50 / 100 / 1000 steps with η ∈ {0, 0.5, 1} and the
# probability-flow ODE (DPM-Solver++ 2M) at 10 / 20 steps, x̂₀ clipped for
# DDIM and the ODE; every sampler starts chunk j from the same x_T; scored
# against the 500 test images with the floor (2,000 training images).
# The DDIM rows at 10 / 20 / 50 / 100 steps are drawn again on the DDIM
# paper's quadratic grid (`--spacing quadratic`) and scored with the rest
# in OUT/quadratic/samplers.md.
#
#   bash docs/reference/diffusion_mnist_2000.sh PIXEL-RUN [OUT] [SHARDS]
#
# About 9.1 million U-Net passes at ~9 ms each on one core of the 2-core
# development machine: ~23 core-hours, most of them in the four 1,000-step
# rows. Resumable: every 100-sample chunk is kept under OUT/chunks as it
# finishes, so after an interruption (or in the next session) run the
# script again and it draws only what is missing. SHARDS processes
# (default: the number of cores) share the draws; the cheap rows come
# first, then DDPM-1000, then the three DDIM-1000 rows. GENLAB=path/to/genlab
# uses that binary instead of building one.
#
# On a GPU: BACKEND=wgpu draws the (CPU-trained) run there in one process,
# 1,000-sample chunks. On an H200 (wgpu over Vulkan) one 1,000-step row of
# 2,000 samples takes about 3 minutes, the rows of 100 steps or fewer
# 2–22 s: about 13 minutes for the whole grid.
#
# SEEDS="1 2 3 4" then draws DDPM-1000, DDIM-50 / DDIM-100 (η = 0.5, 1)
# and DDIM-50 (η = 1) on the quadratic grid again for each of those
# sampling seeds under OUT/seed-S (the five-seed medians of
# docs/diffusion.md; about 3.5 minutes a seed on an H200).
set -euo pipefail
px=${1:?usage: diffusion_mnist_2000.sh PIXEL-RUN [OUT] [SHARDS]}
out=${2:-runs/diffusion-mnist-2000}
backend=${BACKEND:-}
if [ -n "$backend" ]; then k=${3:-1}; chunk=1000; else k=${3:-$(nproc)}; chunk=100; fi
if [ -z "${GENLAB:-}" ]; then
  cargo build -q -p genlab
  GENLAB="${CARGO_TARGET_DIR:-target}/debug/genlab"
fi
mkdir -p "$out"
common=(--checkpoint "$px" --n 2000 --clipped-eps --chunk "$chunk")
if [ -n "$backend" ]; then common+=(--backend "$backend"); fi
grid=("${common[@]}" --out "$out")
parts=(
  "--steps 10,20,50,100 --etas 0,0.5,1 --ode-steps 10,20 --no-ddpm"
  "--no-ddim --no-ode"
  "--steps 1000 --etas 0,0.5,1 --no-ddpm --no-ode"
  "--steps 10,20,50,100 --etas 0,0.5,1 --no-ddpm --no-ode --spacing quadratic"
)
for part in "${parts[@]}"; do
  pids=()
  for ((i = 0; i < k; i++)); do
    # shellcheck disable=SC2086 # the part's flags split on purpose
    nice -n 10 "$GENLAB" samplers "${grid[@]}" $part --shard "$i/$k" \
      > "$out/shard-$i.json" 2>> "$out/shard-$i.log" &
    pids+=("$!")
  done
  for p in "${pids[@]}"; do wait "$p"; done
done
# Every chunk is on disk: the whole grid scored (nothing drawn), with the floor.
"$GENLAB" samplers "${grid[@]}" --floor > "$out/grid.json"
cat "$out/samplers.md"
# The quadratic rows (their chunks are on disk too) beside the rest.
"$GENLAB" samplers "${common[@]}" --steps 10,20,50,100 --etas 0,0.5,1 --no-ddpm --no-ode \
  --spacing quadratic --out "$out/quadratic" --chunk-dir "$out/chunks" \
  --merge "$out/samplers.json" > "$out/quadratic.json"
cat "$out/quadratic/samplers.md"
for s in ${SEEDS:-}; do
  seeded=("${common[@]}" --seed "$s")
  "$GENLAB" samplers "${seeded[@]}" --out "$out/seed-$s" --steps 50,100 --etas 0.5,1 --no-ode \
    > "$out/seed-$s.json"
  "$GENLAB" samplers "${seeded[@]}" --steps 50 --etas 1 --no-ddpm --no-ode --spacing quadratic \
    --out "$out/seed-$s/quadratic" --chunk-dir "$out/seed-$s/chunks" \
    --merge "$out/seed-$s/samplers.json" > "$out/seed-$s.quadratic.json"
  cat "$out/seed-$s/quadratic/samplers.md"
done
