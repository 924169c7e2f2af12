#!/usr/bin/env bash
# The speed harness: one training step of every reference model, genlab
# against PyTorch, on the same thread count, one after the other.
#
#   benches/peers/run.sh [THREADS] [STEPS] [BACKEND] [RANKS]   (defaults: 1 50 flex 1)
#
# RANKS > 1 runs genlab's step data-parallel over RANKS threads
# (`--distributed threads`), each with THREADS/RANKS rayon threads, so both
# sides use THREADS cores.
#
# Prints a markdown table: ms per step (median of STEPS after 5 warm-up
# steps, with the 10th-90th percentile range), rows per second, and the
# ratio genlab / PyTorch (below 1: genlab is faster). FEATURES=openblas
# builds genlab's side with OpenBLAS under --backend ndarray (Debian:
# libopenblas-dev). PyTorch is optional:
# set PYTHON to an interpreter that has torch (`python3 -m venv /tmp/torchenv
# && /tmp/torchenv/bin/pip install torch`); without it the peer columns say
# so. genlab's side is `cargo run -p genlab --example peer_steps`, PyTorch's
# benches/peers/steps.py; both document the architectures.
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=${1:-1}
STEPS=${2:-50}
BACKEND=${3:-flex}
RANKS=${4:-1}
PER_RANK=$(( THREADS / RANKS > 0 ? THREADS / RANKS : 1 ))
PYTHON=${PYTHON:-python3}
out=$(mktemp -d)
cargo build -q -p genlab --example peer_steps ${FEATURES:+--features "$FEATURES"}
target=${CARGO_TARGET_DIR:-target}
RAYON_NUM_THREADS=$PER_RANK OPENBLAS_NUM_THREADS=$PER_RANK "$target/debug/examples/peer_steps" \
  --steps "$STEPS" --backend "$BACKEND" --ranks "$RANKS" >"$out/genlab.jsonl"
if "$PYTHON" -c "import torch" 2>/dev/null; then
  "$PYTHON" benches/peers/steps.py --steps "$STEPS" --threads "$THREADS" >"$out/pytorch.jsonl"
else
  echo "PyTorch not found for $PYTHON: the peer columns are empty (install torch, or set PYTHON)" >&2
  : >"$out/pytorch.jsonl"
fi
python3 - "$out" "$THREADS" "$BACKEND" "$RANKS" <<'PY'
import json, os, platform, sys
out, threads, backend, ranks = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
ours = [json.loads(l) for l in open(f"{out}/genlab.jsonl")]
theirs = {j["model"]: j for j in (json.loads(l) for l in open(f"{out}/pytorch.jsonl"))}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
torch = next(iter(theirs.values()), {}).get("torch", "not installed")
how = f", {ranks} data-parallel ranks" if ranks != "1" else ""
print(f"{cpu}, {os.cpu_count()} cores; {threads} thread(s) each; genlab on {backend}{how}; PyTorch {torch}\n")
print("| model | genlab ms/step (p10-p90) | PyTorch ms/step (p10-p90) | genlab / PyTorch | genlab rows/s | PyTorch rows/s |")
print("|---|---|---|---|---|---|")
for o in ours:
    t = theirs.get(o["model"])
    a = f"{o['ms_median']:.2f} ({o['ms_p10']:.2f}-{o['ms_p90']:.2f})"
    if t:
        b = f"{t['ms_median']:.2f} ({t['ms_p10']:.2f}-{t['ms_p90']:.2f})"
        r = f"{o['ms_median'] / t['ms_median']:.2f}"
        rt = f"{t['rows_per_s']:.0f}"
    else:
        b = r = rt = "–"
    print(f"| {o['model']}: {o['what']} | {a} | {b} | {r} | {o['rows_per_s']:.0f} | {rt} |")
PY
rm -rf "$out"
