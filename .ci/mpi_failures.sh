#!/usr/bin/env bash
# Bad data-parallel setups stop with a message instead of hanging or training
# alone (issue 17; docs/distributed.md, "When a rank fails"):
#   1. --distributed mpi without a launcher is refused;
#   2. ranks started with different options stop at start-up, naming them;
#   3. a rank killed mid-run: mpirun stops the others within a timeout.
#   .ci/mpi_failures.sh GENLAB_BUILT_WITH_MPI
set -euo pipefail
genlab=$1
mpi=(mpirun --allow-run-as-root --oversubscribe)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
train=(train realnvp --data eight-gaussians --batch 256 --distributed mpi)

# 1. No launcher.
if "$genlab" "${train[@]}" --steps 5 --out "$dir/alone" 2>"$dir/alone.err"; then
  echo "--distributed mpi without mpirun trained alone"; exit 1
fi
grep -q "not started by an MPI launcher" "$dir/alone.err" || { cat "$dir/alone.err"; exit 1; }
echo "1. without a launcher: $(grep -o 'not started by an MPI launcher[^,]*' "$dir/alone.err")"

# 2. Rank 1 asks for other steps (MPMD launch: one command per rank).
if timeout 120 "${mpi[@]}" -n 1 "$genlab" "${train[@]}" --steps 20 --out "$dir/mixed" \
  : -n 1 "$genlab" "${train[@]}" --steps 21 --out "$dir/mixed" >"$dir/mixed.out" 2>&1; then
  echo "ranks with different options trained"; exit 1
fi
grep -qF 'rank 1 has `steps = 21` where rank 0 has `steps = 20`' "$dir/mixed.out" || { cat "$dir/mixed.out"; exit 1; }
[ ! -e "$dir/mixed/checkpoints" ] || { echo "a checkpoint was written"; exit 1; }
grep -qF 'rank(s) [1] of 2 disagree with rank 0' "$dir/mixed.out" || { cat "$dir/mixed.out"; exit 1; }
echo "2. disagreeing ranks:"; grep '^error: rank' "$dir/mixed.out"

# 3. Kill rank 1 once training runs; the job must end, not hang.
limit=60
"${mpi[@]}" -n 2 "$genlab" "${train[@]}" --steps 1000000 --out "$dir/killed" \
  >"$dir/killed.out" 2>&1 &
job=$!
for _ in $(seq 600); do
  [ -s "$dir/killed/metrics.jsonl" ] && break
  sleep 0.2
done
[ -s "$dir/killed/metrics.jsonl" ] || { echo "training never started"; cat "$dir/killed.out"; exit 1; }
victim=""
for pid in $(pgrep -f "$dir/killed"); do
  if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then
    victim=$pid
  fi
done
[ -n "$victim" ] || { echo "rank 1 not found"; exit 1; }
kill -9 "$victim"
t0=$(date +%s)
for _ in $(seq $((limit * 5))); do
  kill -0 "$job" 2>/dev/null || break
  sleep 0.2
done
if kill -0 "$job" 2>/dev/null; then
  echo "the job still runs ${limit} s after rank 1 was killed"; pkill -9 -f "$dir/killed" || true; exit 1
fi
if wait "$job"; then echo "the job with a killed rank exited 0"; exit 1; fi
grep -qi "rank 1" "$dir/killed.out" || { cat "$dir/killed.out"; exit 1; }
echo "3. rank 1 killed: the job ended after $(( $(date +%s) - t0 )) s (limit ${limit} s): $(grep -i -m1 'rank 1' "$dir/killed.out")"
