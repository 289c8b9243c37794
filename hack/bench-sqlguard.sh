#!/usr/bin/env bash
# Times the SQL guard (internal/sqlguard, vitess sqlparser; Check includes the
# round trip: print, parse again, guard again, print again) against the
# seed's guard (sqlglot: parse_one, isinstance Select, add LIMIT when
# find(exp.Limit) is None) over ../shared/corpus/sql/accept.tsv, on the same
# queries in one run: ROUNDS rounds (default 3) alternating the two, so that
# load from other work on the machine hits both alike. Prints each round,
# the median of each side and their ratio; asserts nothing. Each round also
# times the two vitess parses of the round trip alone (bench-sqlguard
# -parse-only): the floor of the go side, and the ratio it would give.
# PYTHON defaults to Debian's /usr/bin/python3 (python3-sqlglot).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
accept="$root/../shared/corpus/sql/accept.tsv"
[ -f "$accept" ] || { echo "bench-sqlguard: $accept not found (the shared corpus must sit beside the repository)" >&2; exit 1; }
python="${PYTHON:-/usr/bin/python3}"
rounds="${ROUNDS:-3}"

cd "$root"
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/bench-sqlguard" ./hack/bench-sqlguard
ns() { sed -n 's/.*median_ns=\([0-9.]*\).*/\1/p' <<<"$1"; }
go_all=() py_all=() floor_all=()
for ((i = 1; i <= rounds; i++)); do
  go_out="$("$bin/bench-sqlguard")"
  py_out="$("$python" hack/bench-sqlguard/seed_guard.py "$accept")"
  floor_out="$("$bin/bench-sqlguard" -parse-only)"
  echo "round $i: go guard (vitess): $go_out | seed guard (sqlglot): $py_out | two parses alone: $floor_out"
  go_all+=("$(ns "$go_out")") py_all+=("$(ns "$py_out")") floor_all+=("$(ns "$floor_out")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
g="$(median "${go_all[@]}")" p="$(median "${py_all[@]}")" f="$(median "${floor_all[@]}")"
awk -v g="$g" -v p="$p" -v f="$f" -v la="$(cut -d" " -f1-3 /proc/loadavg)" 'BEGIN {
  printf "median per query: go %.1f µs, seed %.1f µs, ratio %.1fx (load average %s)\n", g/1000, p/1000, p/g, la
  printf "floor: the two parses alone %.1f µs, ratio %.1fx at most\n", f/1000, p/f }'
