/* avx2/peak_fma.c — not a variant: attn-bench's probe of this CPU's AVX2 FMA ceiling.
 * 12 independent ymm FMA chains (16 registers: 12 accumulators + 2 operands), register-only. */
#include <immintrin.h>
#include <stdint.h>

#define SA_PEAK_CHAINS 12
float sa_peak_fma_avx2(int64_t iters);
extern const double sa_peak_fma_avx2_flops;
const double sa_peak_fma_avx2_flops = 2.0 * 8 * SA_PEAK_CHAINS; /* per iteration */

float sa_peak_fma_avx2(int64_t iters) {
  __m256 acc[SA_PEAK_CHAINS];
#pragma GCC unroll 32
  for (int c = 0; c < SA_PEAK_CHAINS; c++) acc[c] = _mm256_set1_ps(0.001f * (float)c);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t t = 0; t < iters; t++)
#pragma GCC unroll 32 /* the chains must live in registers */
    for (int c = 0; c < SA_PEAK_CHAINS; c++) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  for (int c = 1; c < SA_PEAK_CHAINS; c++) acc[0] = _mm256_add_ps(acc[0], acc[c]);
  float lanes[8];
  _mm256_storeu_ps(lanes, acc[0]);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}
