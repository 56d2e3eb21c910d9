/* avx512/peak_fma.c — not a variant: attn-bench's probe of this CPU's AVX-512 FMA ceiling.
 * 24 independent zmm FMA chains (more than latency 4 x 2 FMA pipes need), register-only; the
 * values converge (x * 0.999999 + 1e-7 -> 0.1), so no inf or subnormal slows it. */
#include <immintrin.h>
#include <stdint.h>

#define SA_PEAK_CHAINS 24
float sa_peak_fma_avx512(int64_t iters);
extern const double sa_peak_fma_avx512_flops;
const double sa_peak_fma_avx512_flops = 2.0 * 16 * SA_PEAK_CHAINS; /* per iteration */

float sa_peak_fma_avx512(int64_t iters) {
  __m512 acc[SA_PEAK_CHAINS];
#pragma GCC unroll 32
  for (int c = 0; c < SA_PEAK_CHAINS; c++) acc[c] = _mm512_set1_ps(0.001f * (float)c);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t t = 0; t < iters; t++)
#pragma GCC unroll 32 /* the chains must live in registers */
    for (int c = 0; c < SA_PEAK_CHAINS; c++) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  for (int c = 1; c < SA_PEAK_CHAINS; c++) acc[0] = _mm512_add_ps(acc[0], acc[c]);
  return _mm512_reduce_add_ps(acc[0]);
}
