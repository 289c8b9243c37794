#!/usr/bin/env bash
# Benchmark: the runner's Python path against bare python3 (prints, asserts
# nothing). For each case it alternates the two commands N times and prints
# the medians and the ratio runner/bare (target: <= 1.15x).
#
#   hack/bench-runner-python.sh            # N=21, PYTHON=/usr/bin/python3
#   N=51 hack/bench-runner-python.sh
#
# Cases: `result = 1`, and a pandas groupby over the corpus' orders.csv (the
# same user code in both: read_csv + groupby + sum), plus the same groupby
# with the table given as --input. As root the runner uses its namespace
# sandbox (fresh PID/mount/net namespaces, own uid); otherwise the
# unprivileged path of the Pod.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-/usr/bin/python3}
N=${N:-21}
ORDERS=${ORDERS:-$ROOT/../shared/corpus/python/data/orders.csv}
[ -f "$ORDERS" ] || { echo "bench: $ORDERS is missing (shared/corpus beside the repo)" >&2; exit 1; }
ORDERS=$(cd "$(dirname "$ORDERS")" && pwd)/$(basename "$ORDERS")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$tmp/runner" ./cmd/runner)
R="$tmp/runner"

groupby="import pandas as pd
df = pd.read_csv('$ORDERS')
result = df.groupby('category')['amount'].sum()"
groupby_input="result = parent_dataframes[0].groupby('category')['amount'].sum()"

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# bench NAME RUNNER_FILE BARE_FILE [runner flags...]; BARE_ENV (an env
# assignment list) and BARE_FLAGS change how bare python3 runs.
bench() {
  local name=$1 rfile=$2 bfile=$3; shift 3
  local bare=(env ${BARE_ENV:-} "$PY" ${BARE_FLAGS:-} "$bfile")
  local ra=() ba=()
  # warm-up (page cache, pyc of the system packages)
  "$R" run --language python --python "$PY" --file "$rfile" "$@" >/dev/null || true
  "${bare[@]}" >/dev/null
  for ((i = 0; i < N; i++)); do
    t0=$(now); "$R" run --language python --python "$PY" --file "$rfile" "$@" >"$tmp/out" || { echo "bench: runner failed: $(cat "$tmp/out")" >&2; exit 1; }; t1=$(now)
    ra+=($(( (t1 - t0) / 1000 )))
    t0=$(now); "${bare[@]}" >/dev/null; t1=$(now)
    ba+=($(( (t1 - t0) / 1000 )))
  done
  local rm bm rmin bmin
  rm=$(printf '%s\n' "${ra[@]}" | median)
  bm=$(printf '%s\n' "${ba[@]}" | median)
  rmin=$(printf '%s\n' "${ra[@]}" | sort -n | head -1)
  bmin=$(printf '%s\n' "${ba[@]}" | sort -n | head -1)
  awk -v n="$name" -v r="$rm" -v b="$bm" -v rn="$rmin" -v bn="$bmin" 'BEGIN {
    printf "%-28s median: runner %7.1f ms  bare %7.1f ms  ratio %.2fx   (min: %.1f / %.1f ms, %.2fx)\n", n, r/1000, b/1000, r/b, rn/1000, bn/1000, rn/bn }'
}

printf 'result = 1\n' >"$tmp/one.py"
printf '%s\n' "$groupby" >"$tmp/groupby.py"
printf '%s\n' "$groupby_input" >"$tmp/groupby_input.py"

mode="unprivileged (Pod path)"
[ "$(id -u)" -eq 0 ] && mode="root: namespace sandbox"
echo "bench-runner-python: N=$N, python $PY ($("$PY" -V 2>&1)), runner as $mode, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
bench "result = 1" "$tmp/one.py" "$tmp/one.py"
bench "pandas groupby (read_csv)" "$tmp/groupby.py" "$tmp/groupby.py"
bench "pandas groupby (--input)" "$tmp/groupby_input.py" "$tmp/groupby.py" --input "orders=$ORDERS"
# The sandbox runs python3 -I -B with one BLAS/OpenMP thread; bare python3
# with the same settings isolates the runner's own cost from that choice.
echo "bare python3 given the sandbox's interpreter flags and thread env (-I -B, OPENBLAS/OMP/MKL_NUM_THREADS=1):"
BARE_FLAGS="-I -B" BARE_ENV="OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1" bench "result = 1" "$tmp/one.py" "$tmp/one.py"
BARE_FLAGS="-I -B" BARE_ENV="OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1" bench "pandas groupby (read_csv)" "$tmp/groupby.py" "$tmp/groupby.py"
