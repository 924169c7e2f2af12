#!/usr/bin/env bash
# The kernels under the reference steps, genlab (burn's CPU backend) against
# PyTorch, one at a time: the minimal reproduction of the gap that is inside
# burn (docs/performance.md).
#
#   benches/peers/kernels.sh [THREADS] [REPS] [BACKEND]     (defaults: 1 200 flex)
#
# FEATURES=openblas builds genlab's side with OpenBLAS under --backend ndarray
# (Debian: libopenblas-dev). PyTorch is optional, as for run.sh: set PYTHON to an interpreter with torch.
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=${1:-1}
REPS=${2:-200}
BACKEND=${3:-flex}
PYTHON=${PYTHON:-python3}
out=$(mktemp -d)
cargo build -q -p genlab --example peer_kernels ${FEATURES:+--features "$FEATURES"}
target=${CARGO_TARGET_DIR:-target}
RAYON_NUM_THREADS=$THREADS "$target/debug/examples/peer_kernels" --reps "$REPS" --backend "$BACKEND" >"$out/genlab.jsonl"
if "$PYTHON" -c "import torch" 2>/dev/null; then
  "$PYTHON" benches/peers/kernels.py --reps "$REPS" --threads "$THREADS" >"$out/pytorch.jsonl"
else
  echo "PyTorch not found for $PYTHON: the peer columns are empty (install torch, or set PYTHON)" >&2
  : >"$out/pytorch.jsonl"
fi
python3 - "$out" "$THREADS" "$BACKEND" <<'PY'
import json, os, sys
out, threads, backend = sys.argv[1], sys.argv[2], sys.argv[3]
ours = [json.loads(l) for l in open(f"{out}/genlab.jsonl")]
theirs = {j["kernel"]: j for j in (json.loads(l) for l in open(f"{out}/pytorch.jsonl"))}
torch = next(iter(theirs.values()), {}).get("torch", "not installed")
print(f"{os.cpu_count()} cores; {threads} thread(s) each; genlab on {backend}; PyTorch {torch}\n")
print("| kernel | genlab µs | PyTorch µs | genlab / PyTorch | genlab GFLOP/s | PyTorch GFLOP/s |")
print("|---|---|---|---|---|---|")
for o in ours:
    t = theirs.get(o["kernel"])
    g = lambda j: f"{j['gflops']:.1f}" if j and j.get("gflops") else "–"
    tu = f"{t['us']:.1f}" if t else "–"
    r = f"{o['us'] / t['us']:.2f}" if t else "–"
    print(f"| {o['kernel']}: {o['what']} | {o['us']:.1f} | {tu} | {r} | {g(o)} | {g(t)} |")
PY
rm -rf "$out"
