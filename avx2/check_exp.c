/* avx2/check_exp.c — not a variant: tests/test_exp.c's entry to the AVX2 build of core/exp.h
 * (exp, and exp2 on its domain y <= 0) and of SLEEF's, 8 floats at a time (n a multiple of 8). */
#define SA_NR 1
#include "avx2.h"

void sa_exp_batch_avx2(const float *x, float *ours, float *sleef, int64_t n);
void sa_exp_batch_avx2(const float *x, float *ours, float *sleef, int64_t n) {
  for (int64_t t = 0; t < n; t += 8) {
    const __m256 v = _mm256_loadu_ps(x + t);
    _mm256_storeu_ps(ours + t, sa_vexp_inline(v));
    _mm256_storeu_ps(sleef + t, Sleef_expf8_u10avx2(v));
  }
}

void sa_exp2_batch_avx2(const float *x, float *ours, float *sleef, int64_t n);
void sa_exp2_batch_avx2(const float *x, float *ours, float *sleef, int64_t n) {
  for (int64_t t = 0; t < n; t += 8) {
    const __m256 v = _mm256_loadu_ps(x + t);
    _mm256_storeu_ps(ours + t, sa_vexp2_lim(v));
    _mm256_storeu_ps(sleef + t, Sleef_exp2f8_u10avx2(v));
  }
}
