#!/usr/bin/env bash
# Times the SQL guard (internal/sqlguard, vitess sqlparser) against the
# seed's guard (sqlglot: parse_one, isinstance Select, add LIMIT when
# find(exp.Limit) is None) over ../shared/corpus/sql/accept.tsv, in one run
# on the same queries. Prints both medians per query and the ratio; asserts
# nothing. PYTHON defaults to Debian's /usr/bin/python3 (python3-sqlglot).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
accept="$root/../shared/corpus/sql/accept.tsv"
[ -f "$accept" ] || { echo "bench-sqlguard: $accept not found (the shared corpus must sit beside the repository)" >&2; exit 1; }
python="${PYTHON:-/usr/bin/python3}"

cd "$root"
go_out="$(go run ./hack/bench-sqlguard)"
py_out="$("$python" hack/bench-sqlguard/seed_guard.py "$accept")"
echo "go guard (vitess):    $go_out"
echo "seed guard (sqlglot): $py_out"
go_ns="$(sed -n 's/.*median_ns=\([0-9.]*\).*/\1/p' <<<"$go_out")"
py_ns="$(sed -n 's/.*median_ns=\([0-9.]*\).*/\1/p' <<<"$py_out")"
awk -v g="$go_ns" -v p="$py_ns" 'BEGIN {
  printf "median per query: go %.1f µs, seed %.1f µs, go is %.1fx faster\n", g/1000, p/1000, p/g }'
