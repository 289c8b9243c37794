#!/usr/bin/env bash
# Compares the JSX path per execution, as whole processes:
#   `runner run --language jsx` (esbuild's Go API, plus the document)
#   vs `node` loading @babel/standalone and transforming the same file,
# for every `ok` component of the JSX corpus: median wall time and peak
# memory (RSS) of each and the ratios. Then the warm, in-process figures:
# esbuild's Transform (and the whole Compile) in a Go loop vs Babel's
# transform in a node loop. Prints, asserts nothing. Target: >= 20x.
#
#   hack/bench-jsx.sh [RUNS]     # RUNS per file and tool, default 11
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
corpus="${CORPUS_DIR:-$root/../shared/corpus/jsx}"
runs="${1:-11}"
babel_version="7.29.13"
work="$root/bin/bench-jsx"
babel_dir="$root/tmp/bench-jsx"

if [ ! -d "$corpus" ]; then
  echo "bench-jsx: no corpus at $corpus (set CORPUS_DIR)" >&2
  exit 1
fi
command -v node >/dev/null || { echo "bench-jsx: node is required" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench-jsx: /usr/bin/time (GNU time) is required" >&2; exit 1; }

mkdir -p "$work" "$babel_dir"
echo "bench-jsx: building the runner"
(cd "$root" && go build -o "$work/runner" ./cmd/runner)
installed="$(node -e "try{console.log(require('$babel_dir/node_modules/@babel/standalone/package.json').version)}catch(e){}" 2>/dev/null || true)"
if [ "$installed" != "$babel_version" ]; then
  echo "bench-jsx: installing @babel/standalone@$babel_version into $babel_dir"
  (cd "$babel_dir" && [ -f package.json ] || echo '{"private":true}' > package.json)
  npm install --silent --no-audit --no-fund --prefix "$babel_dir" "@babel/standalone@$babel_version" >/dev/null
fi
export BABEL_DIR="$babel_dir"
babel_js="$root/hack/bench-jsx-babel.mjs"

files=()
for f in "$corpus"/*.jsx; do
  grep -q '^// expect: ok' "$f" && files+=("$f")
done

# measure CMD...: prints "wall_ms peak_kib" for one run.
measure() {
  local memf="$work/mem.$$"
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f '%M' -o "$memf" "$@" >/dev/null 2>&1 || true
  t1=$(date +%s%N)
  echo "$(( (t1 - t0) / 1000 )) $(tail -n1 "$memf")"
  rm -f "$memf"
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

printf '\nWhole processes, %d runs each (median wall time, median peak RSS)\n' "$runs"
printf '%-34s %12s %12s %8s %12s %12s %8s\n' file runner_ms node_ms ratio runner_MiB node_MiB ratio
all_r=() all_n=()
for f in "${files[@]}"; do
  rt=() rm=() nt=() nm=()
  for _ in $(seq "$runs"); do
    read -r t m < <(measure "$work/runner" run --language jsx --file "$f")
    rt+=("$t"); rm+=("$m")
    read -r t m < <(measure node "$babel_js" once "$f")
    nt+=("$t"); nm+=("$m")
  done
  r_t=$(printf '%s\n' "${rt[@]}" | median); n_t=$(printf '%s\n' "${nt[@]}" | median)
  r_m=$(printf '%s\n' "${rm[@]}" | median); n_m=$(printf '%s\n' "${nm[@]}" | median)
  all_r+=("$r_t"); all_n+=("$n_t")
  awk -v f="$(basename "$f")" -v rt="$r_t" -v nt="$n_t" -v rm="$r_m" -v nm="$n_m" 'BEGIN {
    printf "%-34s %12.1f %12.1f %7.1fx %12.1f %12.1f %7.1fx\n", f, rt/1000, nt/1000, nt/rt, rm/1024, nm/1024, nm/rm }'
done
r_all=$(printf '%s\n' "${all_r[@]}" | median); n_all=$(printf '%s\n' "${all_n[@]}" | median)
awk -v rt="$r_all" -v nt="$n_all" 'BEGIN { printf "%-34s %12.1f %12.1f %7.1fx   (median over files; target >= 20x)\n", "ALL", rt/1000, nt/1000, nt/rt }'

printf '\nWarm, in process (median per call)\n'
printf 'Go: esbuild Transform alone and jsxbuild.Compile (transform + checks + document)\n'
(cd "$root" && JSX_BENCH_CORPUS="$corpus" go test -run '^$' -bench 'BenchmarkTransform|BenchmarkCompile' -benchtime 300x -benchmem ./internal/jsxbuild/ | grep -E '^Benchmark')
printf 'node: Babel.transform, 300 calls after 20 warm-up calls\n'
for f in "${files[@]}"; do
  printf '  %-34s %10s ms\n' "$(basename "$f")" "$(node "$babel_js" loop "$f" 300)"
done
