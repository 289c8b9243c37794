#!/usr/bin/env bash
# Compares the JSX path per execution, as whole processes:
#   `runner run --language jsx` (esbuild's Go API, plus the document)
#   vs `node` loading @babel/standalone and transforming the same file,
# for every `ok` component of the JSX corpus: median wall time and peak
# memory (RSS, from getrusage via wait4) of each and the ratios. Then the warm, in-process figures:
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
command -v python3 >/dev/null || { echo "bench-jsx: python3 is required (it measures with wait4)" >&2; exit 1; }

mkdir -p "$work" "$babel_dir"
echo "bench-jsx: building the runner as the image does (runner_slim, runner-full beside it)"
(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -tags runner_slim -o "$work/runner" ./cmd/runner \
  && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$work/runner-full" ./cmd/runner)
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

# measure.py RUNS CMD...: runs CMD RUNS times (stdout and stderr to
# /dev/null) and prints the median wall ms, the median CPU ms (user+sys)
# and the median peak RSS in KiB, from wait4's rusage.
cat > "$work/measure.py" <<'PY'
import os, statistics, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
wall, cpu, rss = [], [], []
for _ in range(runs):
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.execvp(cmd[0], cmd)
    _, status, ru = os.wait4(pid, 0)
    wall.append((time.perf_counter() - t0) * 1000)
    cpu.append((ru.ru_utime + ru.ru_stime) * 1000)
    rss.append(ru.ru_maxrss)
print("%.2f %.2f %d" % (statistics.median(wall), statistics.median(cpu), statistics.median(rss)))
PY

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

printf '\nuptime before measuring: %s\n' "$(uptime)"
printf '\nWhole processes, %d runs each, medians: wall time, CPU time (user+sys), peak RSS\n' "$runs"
printf '%-32s %9s %9s %7s | %9s %9s %7s | %8s %8s %6s\n' file runner_ms node_ms ratio run_cpu node_cpu ratio run_MiB node_MiB ratio
walls_r=() walls_n=()
for f in "${files[@]}"; do
  read -r rw rc rm < <(python3 "$work/measure.py" "$runs" "$work/runner" run --language jsx --file "$f")
  read -r nw nc nm < <(python3 "$work/measure.py" "$runs" node "$babel_js" once "$f")
  walls_r+=("$rw"); walls_n+=("$nw")
  awk -v f="$(basename "$f")" -v rw="$rw" -v nw="$nw" -v rc="$rc" -v nc="$nc" -v rm="$rm" -v nm="$nm" 'BEGIN {
    printf "%-32s %9.1f %9.1f %6.1fx | %9.1f %9.1f %6.1fx | %8.1f %8.1f %5.1fx\n", f, rw, nw, nw/rw, rc, nc, nc/rc, rm/1024, nm/1024, nm/rm }'
done
r_all=$(printf '%s\n' "${walls_r[@]}" | median); n_all=$(printf '%s\n' "${walls_n[@]}" | median)
awk -v r="$r_all" -v n="$n_all" 'BEGIN { printf "%-32s %9.1f %9.1f %6.1fx   (wall, median over files; target >= 20x)\n", "ALL", r, n, n/r }'
printf 'uptime after measuring: %s\n' "$(uptime)"

printf '\nWarm, in process (median per call)\n'
printf 'Go: esbuild Transform alone and jsxbuild.Compile (transform + checks + document)\n'
(cd "$root" && JSX_BENCH_CORPUS="$corpus" go test -run '^$' -bench 'BenchmarkTransform|BenchmarkCompile' -benchtime 300x -benchmem ./internal/jsxbuild/ | grep -E '^Benchmark')
printf 'node: Babel.transform, 300 calls after 20 warm-up calls\n'
for f in "${files[@]}"; do
  printf '  %-34s %10s ms\n' "$(basename "$f")" "$(node "$babel_js" loop "$f" 300)"
done
