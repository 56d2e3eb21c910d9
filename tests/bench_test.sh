#!/bin/sh
# tests/bench_test.sh MODE ARGS... -- COMMAND...: attn-bench checks that need a shell. COMMAND runs
# attn-bench (with the cross emulator in front when cross-compiled).
#   json OUT PYTHON CHECKER -- CMD   the quick sweep into OUT, validated by CHECKER (names, counters)
#   stdout PYTHON -- CMD             with --benchmark_format=json, stdout is only JSON
#   exit N -- CMD ARGS               CMD ARGS exits with status N
set -u
mode=$1; shift
case "$mode" in
  json)
    out=$1 py=$2 checker=$3; shift 4
    "$@" --quick --benchmark_min_time=0.01 --benchmark_out="$out" --benchmark_out_format=json \
         --benchmark_format=json >/dev/null || exit 1
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
  *) echo "bench_test.sh: unknown mode $mode"; exit 2 ;;
esac
