/* avx512/check_exp.c — not a variant: tests/test_exp.c's entry to the AVX-512 build of
 * core/exp.h and of SLEEF's exp, 16 floats at a time (n a multiple of 16). */
#define SA_NR 1
#include "avx512.h"

void sa_exp_batch_avx512(const float *x, float *ours, float *sleef, int64_t n);
void sa_exp_batch_avx512(const float *x, float *ours, float *sleef, int64_t n) {
  for (int64_t t = 0; t < n; t += 16) {
    const __m512 v = _mm512_loadu_ps(x + t);
    _mm512_storeu_ps(ours + t, sa_vexp_inline(v));
    _mm512_storeu_ps(sleef + t, Sleef_expf16_u10avx512f(v));
  }
}

void sa_exp2_batch_avx512(const float *x, float *ours, float *sleef, int64_t n);
void sa_exp2_batch_avx512(const float *x, float *ours, float *sleef, int64_t n) {
  for (int64_t t = 0; t < n; t += 16) {
    const __m512 v = _mm512_loadu_ps(x + t);
    _mm512_storeu_ps(ours + t, sa_vexp2_lim(v));
    _mm512_storeu_ps(sleef + t, Sleef_exp2f16_u10avx512f(v));
  }
}
