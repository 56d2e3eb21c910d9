/* tests/test_leak.c: repeated calls do not leak. Every variant this CPU runs is called on every
 * quick-grid case it accepts, on 1 and 2 library threads and through a caller pthread pool, plus
 * a failing call per case (the error path), PASSES times over. After a warm-up pass (the OpenMP
 * runtime and malloc's per-thread caches settle) the heap in use (glibc mallinfo2: arenas of every
 * thread + mmap'd blocks) must not grow by more than SLACK bytes over all further passes; one
 * workspace per call left behind would grow it by megabytes. valgrind (scripts/valgrind) and
 * LeakSanitizer (the sanitizer build) check the same calls for lost blocks at exit; under a
 * sanitizer mallinfo2 does not see the allocator, so only that part runs there.
 * `test_leak --cases N`: every k-th quick-grid case, N in all (scripts/valgrind). */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "variants_util.h"
#include "harness/cases.h"
#include "threads_util.h"

enum { PASSES = 4 };
#define SLACK (256 * 1024)

static int64_t calls;

static void one_pass(case_data *cds, const case_spec *specs, int n) {
  simdattn_variant_info info;
  for (int v = 0; test_next_variant(&v, &info, 0); v++) {
    for (int c = 0; c < n; c++) {
      case_spec s = specs[c];
      if (case_fit_dtypes(&s, info.dtypes) || s.qt != specs[c].qt || s.kvt != specs[c].kvt) continue; /* no twins */
      test_pool pool = {2, 0};
      for (int mode = 0; mode < 3; mode++) {
        simdattn_options opt = {mode == 1 ? 2 : 1, info.name, NULL, NULL, 0};
        if (mode == 2) {
          opt.parallel = test_pool_parallel;
          opt.parallel_pool = &pool;
        }
        const simdattn_status st = simdattn_forward(&cds[c].p, &opt);
        CHECK(st == SIMDATTN_OK, "%s on %s: %s", info.name, cds[c].name, simdattn_last_error());
        calls++;
      }
      simdattn_problem bad = cds[c].p;
      bad.head_dim = -1;
      CHECK(simdattn_forward(&bad, NULL) == SIMDATTN_ERR_INVALID, "bad head_dim accepted");
      calls++;
    }
  }
}

static size_t heap_in_use(void) {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

int main(int argc, char **argv) {
  case_spec *specs;
  int n = case_grid(1, &specs);
  if (argc == 3 && !strcmp(argv[1], "--cases")) { /* every k-th case only (valgrind) */
    const int want = atoi(argv[2]), step = want > 0 && want < n ? n / want : 1;
    int m = 0;
    for (int c = 0; c < n && m < want; c += step) specs[m++] = specs[c];
    n = m;
  }
  case_data *cds = calloc((size_t)n, sizeof *cds);
  for (int c = 0; c < n; c++) CHECK(case_build(&specs[c], 5, &cds[c]) == 0, "build %d", c);
  one_pass(cds, specs, n); /* warm-up */
  const size_t base = heap_in_use();
  const int64_t warm_calls = calls;
  size_t worst = base;
  for (int r = 1; r < PASSES; r++) {
    one_pass(cds, specs, n);
    const size_t now = heap_in_use();
    if (now > worst) worst = now;
  }
#ifdef SIMDATTN_TEST_SANITIZED
  (void)warm_calls;
  printf("heap growth check skipped under AddressSanitizer (LeakSanitizer checks at exit)\n");
#else
  CHECK(worst <= base + SLACK, "heap in use grew from %zu to %zu bytes over %lld calls", base, worst,
        (long long)(calls - warm_calls));
#endif
  printf("%lld calls (%d quick-grid cases, every variant, 1/2 threads and a pthread pool, error path); heap in use "
         "after warm-up %zu bytes, at most %zu after %d more passes\n",
         (long long)calls, n, base, worst, PASSES - 1);
  for (int c = 0; c < n; c++) case_free(&cds[c]);
  free(cds);
  free(specs);
  return check_report("test_leak");
}
