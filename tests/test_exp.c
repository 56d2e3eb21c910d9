/* tests/test_exp.c: core/exp.h's inlined exp, as each ISA folder compiles it, against double exp
 * on every float in [-104, 89] (about 2.2e9 inputs; the way SLEEF's own tester works), and its
 * exp2 for the log2-score mode against double exp2 on every float in [-151, 16] (2.2e9), with
 * SLEEF's u10 exp and exp2 measured in the same scans as the yardstick. Fails above SA_EXP_MAX_ULP, on a
 * wrong special value (0 below the range, inf above, NaN for NaN), or when a SIMD ISA this build
 * targets (src/isas.inc) has no exp check. `test_exp --stride N` scans every Nth float (sanitizer builds). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/exp.h"
#include "harness/baselines.h"
#include "src/internal.h"

/* |y - e| in units of the last place of e as a float (subnormal results: 2^-149). */
static double ulp_error(float y, double e) {
  if (e == 0.0) return y == 0.0f ? 0.0 : fabs((double)y) / 0x1p-149;
  if (isinf(e) || e > 3.4028235677973366e38) return isinf(y) && y > 0 ? 0.0 : INFINITY;
  int ex;
  frexp(e, &ex); /* e = m 2^ex, m in [0.5, 1) */
  const double ulp = ldexp(1.0, (ex - 1 < -126 ? -126 : ex - 1) - 23);
  return fabs((double)y - e) / ulp;
}

/* 1 / ulp_error's unit for a reference e (a power of two: |y - e| times it is exactly |y - e| / unit),
 * or 0 where ulp_error must decide (e = 0, beyond the float range). Once per input, for every ISA. */
static double ulp_inverse(double e) {
  if (e == 0.0 || isinf(e) || e > 3.4028235677973366e38) return 0.0;
  int ex;
  frexp(e, &ex);
  return ldexp(1.0, 23 - (ex - 1 < -126 ? -126 : ex - 1));
}
static inline double ulp_error_pre(float y, double e, double inv) {
  return inv > 0.0 ? fabs((double)y - e) * inv : ulp_error(y, e);
}

static uint32_t bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

typedef struct {
  double ours, sleef;
  float worst_x;
  long long count;
} scan;

/* Every stride-th float in [lo_bits, hi_bits] (same sign, increasing magnitude) through the exp
 * (or, with two, exp2) of each of the nc probe sets, into res[0..nc): the double reference is
 * computed once per input for all of them, with its ULP unit (libm's frexp and ldexp per
 * output were most of the scan's time). */
enum { MAX_SETS = 8 };
static void scan_range(const sa_probes *const *cs, int nc, int two, double (*ref)(double), uint32_t lo_bits,
                       uint32_t hi_bits, uint32_t stride, scan *res) {
  enum { BATCH = 1 << 16 };
  const uint32_t n_total = (hi_bits - lo_bits) / stride + 1;
  const int64_t batches = (n_total + BATCH - 1) / BATCH;
#pragma omp parallel
  {
    float *x = aligned_alloc(64, sizeof(float) * BATCH), *ours = aligned_alloc(64, sizeof(float) * BATCH);
    float *sl = aligned_alloc(64, sizeof(float) * BATCH);
    double *e = malloc(sizeof(double) * BATCH), *inv = malloc(sizeof(double) * BATCH);
    double max_ours[MAX_SETS] = {0}, max_sleef[MAX_SETS] = {0};
    float worst[MAX_SETS] = {0};
#pragma omp for schedule(dynamic, 4)
    for (int64_t bt = 0; bt < batches; bt++) {
      const uint32_t first = (uint32_t)(bt * BATCH), n = n_total - first < BATCH ? n_total - first : BATCH;
      for (uint32_t t = 0; t < BATCH; t++) {
        const uint32_t u = lo_bits + (first + (t < n ? t : 0)) * stride;
        memcpy(&x[t], &u, 4);
      }
      for (uint32_t t = 0; t < n; t++) e[t] = ref((double)x[t]), inv[t] = ulp_inverse(e[t]);
      for (int c = 0; c < nc; c++) {
        (two ? cs[c]->exp2 : cs[c]->exp)(x, ours, sl, BATCH);
        for (uint32_t t = 0; t < n; t++) {
          const double a = ulp_error_pre(ours[t], e[t], inv[t]), b = ulp_error_pre(sl[t], e[t], inv[t]);
          if (a > max_ours[c]) max_ours[c] = a, worst[c] = x[t];
          if (b > max_sleef[c]) max_sleef[c] = b;
        }
      }
    }
#pragma omp critical
    for (int c = 0; c < nc; c++) {
      if (max_ours[c] > res[c].ours) res[c].ours = max_ours[c], res[c].worst_x = worst[c];
      if (max_sleef[c] > res[c].sleef) res[c].sleef = max_sleef[c];
    }
    free(x);
    free(ours);
    free(sl);
    free(e);
    free(inv);
  }
  for (int c = 0; c < nc; c++) res[c].count += n_total;
}

int main(int argc, char **argv) {
  uint32_t stride = 1;
  if (argc > 2 && !strcmp(argv[1], "--stride")) stride = (uint32_t)strtoul(argv[2], NULL, 10);
  const sa_probes *checks;
  const int n = sa_probe_sets(&checks);
  /* every SIMD ISA of the table that this build targets has its exp row: a missing one fails
   * here instead of vanishing from the run (src/isas.inc, column probes) */
  for (int i = 0; i < sa_isa_count(); i++) {
    const sa_isa *isa = sa_isa_at(i);
    if (isa->cpu == 0) continue; /* portable C: no vector exp */
    int found = 0;
    for (int t = 0; t < n; t++) found |= !strcmp(checks[t].isa, isa->name);
    CHECK(found, "the build targets %s, but it has no exp check (its probes.c and probes column)", isa->name);
  }
  CHECK(n <= MAX_SETS, "%d probe sets, room for %d: raise MAX_SETS", n, (int)MAX_SETS);
  const sa_probes *run[MAX_SETS];
  int nr = 0;
  for (int t = 0; t < n && t < MAX_SETS; t++) {
    if (sa_probes_available(&checks[t])) run[nr++] = &checks[t];
    else printf("%-7s not run: this CPU lacks it\n", checks[t].isa);
  }
  scan all[MAX_SETS] = {{0, 0, 0, 0}}, all2[MAX_SETS] = {{0, 0, 0, 0}};
  scan_range(run, nr, 0, exp, bits(0.0f), bits(89.0f), stride, all);       /* +0 .. 89 */
  scan_range(run, nr, 0, exp, bits(-0.0f), bits(-104.0f), stride, all);    /* -0 .. -104 */
  scan_range(run, nr, 1, exp2, bits(-0.0f), bits(-151.0f), stride, all2);  /* -0 .. -151 */
  scan_range(run, nr, 1, exp2, bits(0.0f), bits(16.0f), stride, all2);     /* +0 .. 16 */
  for (int t = 0; t < nr; t++) {
    const sa_probes *c = run[t];
    const scan res = all[t], res2 = all2[t];
    printf("%-7s exp:  %lld inputs in [-104, 89]: core/exp.h max %.3f ULP (at x = %a), SLEEF u10 max %.3f ULP\n",
           c->isa, res.count, res.ours, (double)res.worst_x, res.sleef);
    CHECK(res.ours <= SA_EXP_MAX_ULP, "%s exp: %.3f ULP > the stated %.2f", c->isa, res.ours, SA_EXP_MAX_ULP);
    printf("%-7s exp2: %lld inputs in [-151, 16]: core/exp.h max %.3f ULP (at x = %a), SLEEF u10 max %.3f ULP\n",
           c->isa, res2.count, res2.ours, (double)res2.worst_x, res2.sleef);
    CHECK(res2.ours <= SA_EXP2_MAX_ULP, "%s exp2: %.3f ULP > the stated %.2f", c->isa, res2.ours, SA_EXP2_MAX_ULP);
    float y2[16] __attribute__((aligned(64))), s2[16] __attribute__((aligned(64)));
    float x2[16] __attribute__((aligned(64))) = {-INFINITY, -151.0f, -149.0f, -126.5f, -0.0f, 0.0f,  NAN,     -1.0f,
                                                 -0.5f,     -2.5f,   -149.5f, -150.0f, -3.0f, 16.0f, -127.0f, 8.0f};
    c->exp2(x2, y2, s2, 16);
    CHECK(y2[0] == 0.0f && y2[1] == 0.0f, "%s exp2(-inf), exp2(-151) = 0", c->isa);
    CHECK(y2[2] == 0x1p-149f && y2[4] == 1.0f && y2[5] == 1.0f && isnan(y2[6]) && y2[7] == 0.5f && y2[12] == 0.125f &&
              y2[14] == 0x1p-127f && y2[13] == 65536.0f && y2[15] == 256.0f,
          "%s exp2 special values: %a %a %a %a %a %a", c->isa, (double)y2[2], (double)y2[4], (double)y2[7],
          (double)y2[12], (double)y2[14], (double)y2[6]);
    /* special values */
    float x[16] __attribute__((aligned(64))) = {-INFINITY, -1000.0f, -104.5f, -150.0f, 89.0f, 100.0f, INFINITY, NAN,
                                                0.0f,      -0.0f,    1.0f,    -1.0f,   88.7f, -87.0f, -103.9f,  88.72f};
    float y[16] __attribute__((aligned(64))), s[16] __attribute__((aligned(64)));
    c->exp(x, y, s, 16);
    CHECK(y[0] == 0.0f && y[1] == 0.0f && y[2] == 0.0f && y[3] == 0.0f, "%s: exp of very negative inputs is 0", c->isa);
    CHECK(isinf(y[4]) && isinf(y[5]) && isinf(y[6]) && y[6] > 0, "%s: exp above the range is inf", c->isa);
    CHECK(isnan(y[7]), "%s: exp(NaN) is NaN", c->isa);
    CHECK(y[8] == 1.0f && y[9] == 1.0f, "%s: exp(+-0) = 1 exactly, got %a %a", c->isa, (double)y[8], (double)y[9]);
    CHECK(y[14] > 0.0f, "%s: exp(-103.9) is a positive subnormal", c->isa);
  }
  return check_report("test_exp");
}
