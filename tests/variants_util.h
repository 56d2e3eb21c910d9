/* tests/variants_util.h: iterate over the registry rows this CPU runs.
 *   simdattn_variant_info info;
 *   for (int t = 0; test_next_variant(&t, &info, 1); t++) { ... }
 * visits every available row in registry order and, when `say_skips`, prints one line per row
 * this CPU cannot run (so a log shows what was not tested). */
#ifndef SA_TESTS_VARIANTS_UTIL_H
#define SA_TESTS_VARIANTS_UTIL_H
#include <stdio.h>

#include "simdattn.h"

static inline int test_next_variant(int *t, simdattn_variant_info *info, int say_skips) {
  for (; *t < simdattn_variant_count(); (*t)++) {
    simdattn_variant_get(*t, info);
    if (info->available) return 1;
    if (say_skips) printf("skip %s: this CPU cannot run it\n", info->name);
  }
  return 0;
}
#endif
