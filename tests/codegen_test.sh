#!/bin/sh
# tests/codegen_test.sh OBJDUMP OBJECT...: every SIMD variant object keeps its software prefetches.
# GCC 12 may drop calls to a prefetch-only helper it finds "looping const" (it did: the objects
# held no prefetch, and decode ran at half speed with every test green); this catches that.
set -u
objdump=$1
shift
status=0
# ctest hands a generator expression's object list over as one ;-separated argument
for o in $(printf '%s\n' "$@" | tr ';' '\n'); do
  n=$("$objdump" -d "$o" | grep -c -E '[[:space:]](prefetcht[0-2]|prefetchnta|prfm)[[:space:]]')
  if [ "$n" -eq 0 ]; then
    echo "FAIL $o: no prefetch instruction"
    status=1
  else
    echo "ok   $o: $n prefetch instructions"
  fi
done
exit $status
