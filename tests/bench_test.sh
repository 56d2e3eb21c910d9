#!/bin/sh
# tests/bench_test.sh MODE ARGS... -- COMMAND...: attn-bench checks that need a shell. COMMAND runs
# attn-bench (with the cross emulator in front when cross-compiled).
#   json OUT PYTHON CHECKER -- CMD   the quick sweep into OUT, validated by CHECKER (names, counters)
#   stdout PYTHON -- CMD             with --benchmark_format=json, stdout is only JSON
#   exit N -- CMD ARGS               CMD ARGS exits with status N
#   busy DIR PYTHON REPORT -- CMD    with a busy loop on another core, a few quick rows into DIR/bench.json:
#                                    every attn/ row records foreign_cpu above the threshold and
#                                    REPORT's report.md says so at the top and marks the rows
#   blascore OUT PYTHON -- CMD       OPENBLAS_CORETYPE=Prescott from the environment is kept (attn-bench
#                                    replaces only OpenBLAS's own fallback) and the context says so
set -u
mode=$1; shift
case "$mode" in
  json)
    out=$1 py=$2 checker=$3; shift 4
    # SA_BENCH_FILTER (ctest sets it under an emulator): fewer rows, every kind still there
    "$@" --quick --benchmark_min_time=0.01 --benchmark_out="$out" --benchmark_out_format=json \
         ${SA_BENCH_FILTER:+--benchmark_filter=$SA_BENCH_FILTER} --benchmark_format=json >/dev/null || exit 1
    exec "$py" "$checker" "$out" ;;
  stdout)
    py=$1; shift 2
    "$@" --quick --benchmark_min_time=0.01 --benchmark_filter='^peak|^stream' --benchmark_format=json 2>/dev/null |
      "$py" -c 'import json, sys; d = json.load(sys.stdin); assert d["benchmarks"], "no rows"' ;;
  exit)
    want=$1; shift 2
    "$@" >/dev/null 2>&1
    got=$?
    [ "$got" -eq "$want" ] || { echo "exit status $got, want $want"; exit 1; } ;;
  busy)
    dir=$1 py=$2 report=$3; shift 4
    rm -rf "$dir" && mkdir -p "$dir"
    (while :; do :; done) &
    spin=$!
    trap 'kill $spin 2>/dev/null' EXIT
    "$@" --quick --benchmark_filter='^attn/.*/q128/kv128/.*/full/t1$' --benchmark_out="$dir/bench.json" \
         --benchmark_out_format=json >/dev/null 2>&1 || { echo "attn-bench failed"; exit 1; }
    kill $spin
    "$py" "$report" "$dir" >/dev/null || exit 1
    "$py" - "$dir/bench.json" <<'PY' || exit 1
import json, sys
d = json.load(open(sys.argv[1]))
limit = float(d["context"]["foreign_cpu_max"])
rows = [r for r in d["benchmarks"] if r["name"].startswith("attn/")]
assert rows, "no attn/ rows"
low = [(r["name"], r.get("foreign_cpu")) for r in rows if not (r.get("foreign_cpu", 0) > limit)]
assert not low, f"rows with a busy core beside them but foreign_cpu <= {limit}: {low}"
print(f"{len(rows)} rows, foreign_cpu {min(r['foreign_cpu'] for r in rows):.2f}..{max(r['foreign_cpu'] for r in rows):.2f}")
PY
    grep -q "rows ran while other processes used more than" "$dir/report.md" || { echo "report.md has no warning"; exit 1; }
    n=$(grep -c "⚠" "$dir/report.md")
    [ "$n" -gt 0 ] || { echo "report.md marks no row"; exit 1; }
    echo "report.md warns and marks $n cells" ;;
  blascore)
    out=$1 py=$2; shift 3
    OPENBLAS_CORETYPE=Prescott "$@" --quick --benchmark_filter='^stream/t1$' --benchmark_out="$out" \
         --benchmark_out_format=json >/dev/null 2>&1 || { echo "attn-bench failed"; exit 1; }
    "$py" - "$out" <<'PY' || exit 1
import json, sys
c = json.load(open(sys.argv[1]))["context"]
assert c["blas_coretype"] == "Prescott: OPENBLAS_CORETYPE=Prescott from the environment", c["blas_coretype"]
assert " Prescott " in c["blas_config"], c["blas_config"]
print(c["blas_coretype"])
PY
    ;;
  *) echo "bench_test.sh: unknown mode $mode"; exit 2 ;;
esac
