#!/usr/bin/env bash
# Data-parallel scaling of the reference MLP VAE (784-400-20, Bernoulli,
# global batch 100, MNIST-5k) on 1 and 2 MPI ranks: ms per optimiser step
# (steps 100-400, from metrics.jsonl) and the gradient all-reduce per step.
# Usage: docs/reference/mpi_scaling.sh [GENLAB_BINARY] [REPEATS]
# (the binary built with `cargo build -p genlab --features mpi`).
set -euo pipefail
G=${1:-target/debug/genlab}
REPEATS=${2:-3}
out=$(mktemp -d)
common=(train vae --data mnist5k --steps 400 --batch 100 --eval-every 0 --checkpoint-minutes 0)
mpi=(mpirun --allow-run-as-root --oversubscribe)
for i in $(seq "$REPEATS"); do
  "$G" "${common[@]}" --out "$out/1proc-$i" >/dev/null 2>&1
  RAYON_NUM_THREADS=1 "$G" "${common[@]}" --out "$out/1proc-1thread-$i" >/dev/null 2>&1
  "${mpi[@]}" -n 1 -x RAYON_NUM_THREADS=1 "$G" "${common[@]}" --distributed mpi --out "$out/1rank-1thread-$i" >/dev/null 2>&1
  "${mpi[@]}" -n 2 -x RAYON_NUM_THREADS=1 "$G" "${common[@]}" --distributed mpi --out "$out/2ranks-1thread-$i" >/dev/null 2>&1
  "${mpi[@]}" -n 2 "$G" "${common[@]}" --distributed mpi --out "$out/2ranks-$i" >/dev/null 2>&1
done
python3 - "$out" "$REPEATS" <<'PY'
import json, statistics, sys
out, reps = sys.argv[1], int(sys.argv[2])
print("| setting | ms/step (median, runs) | all-reduce ms/step | all-reduce MB/step | loss at step 400 |")
print("|---|---|---|---|---|")
for name in ["1proc", "1proc-1thread", "1rank-1thread", "2ranks-1thread", "2ranks"]:
    ms, ar, mb, loss = [], [], None, None
    for i in range(1, reps + 1):
        lines = [json.loads(l) for l in open(f"{out}/{name}-{i}/metrics.jsonl") if '"train"' in l]
        by = {l["step"]: l for l in lines}
        ms.append((by[400]["elapsed_s"] - by[100]["elapsed_s"]) / 300 * 1e3)
        ar += [l["allreduce_ms"] for l in lines if l["step"] > 100 and "allreduce_ms" in l]
        mb = next((l["allreduce_mb"] for l in lines if "allreduce_mb" in l), None)
        loss = by[400]["loss"]
    runs = ", ".join(f"{m:.1f}" for m in ms)
    a = f"{statistics.median(ar):.2f}" if ar else "–"
    b = f"{mb:.2f}" if mb is not None else "–"
    print(f"| {name} | {statistics.median(ms):.1f} ({runs}) | {a} | {b} | {loss:.2f} |")
PY
rm -rf "$out"
