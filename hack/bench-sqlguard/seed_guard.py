"""The seed's SQL guard, written as the seed wrote it, timed over accept.tsv.

Prints the median time per query in nanoseconds, measured the same way as
hack/bench-sqlguard/main.go: per query, batches of calls doubled until one
lasts at least MIN_BATCH, the median of REPS batch means; then the median
over all queries. Asserts nothing.
"""
import statistics
import sys
import time

import sqlglot
from sqlglot import exp

MAX_ROWS = 1000
REPS = 7
MIN_BATCH = 0.002


def seed_guard(sql):
    tree = sqlglot.parse_one(sql)
    if not isinstance(tree, exp.Select):
        raise ValueError("only SELECT is allowed")
    if tree.find(exp.Limit) is None:
        tree = tree.limit(MAX_ROWS)
    return tree.sql()


def attempt(sql):
    try:
        seed_guard(sql)
        return True
    except Exception:
        return False


def unescape(s):
    out, i = [], 0
    table = {"n": "\n", "r": "\r", "t": "\t", "0": "\0", "v": "\v", "f": "\f", "\\": "\\"}
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            i += 1
            out.append(table.get(s[i], "\\" + s[i]))
        else:
            out.append(c)
        i += 1
    return "".join(out)


def main(path):
    queries = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                queries.append(unescape(line.split("\t", 3)[3]))
    per_query, accepted = [], 0
    for sql in queries:
        accepted += attempt(sql)
        n = 1
        while True:
            start = time.perf_counter_ns()
            for _ in range(n):
                attempt(sql)
            if time.perf_counter_ns() - start >= MIN_BATCH * 1e9:
                break
            n *= 2
        batches = []
        for _ in range(REPS):
            start = time.perf_counter_ns()
            for _ in range(n):
                attempt(sql)
            batches.append((time.perf_counter_ns() - start) / n)
        per_query.append(statistics.median(batches))
    print("queries=%d accepted=%d median_ns=%.0f sqlglot=%s" % (
        len(queries), accepted, statistics.median(per_query), sqlglot.__version__))


if __name__ == "__main__":
    main(sys.argv[1])
