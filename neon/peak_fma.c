/* neon/peak_fma.c — not a variant: attn-bench's probe of this CPU's Advanced SIMD FMA ceiling.
 * 24 independent float32x4 FMA chains (32 registers), register-only. */
#include <arm_neon.h>
#include <stdint.h>

#define SA_PEAK_CHAINS 24
float sa_peak_fma_neon(int64_t iters);
extern const double sa_peak_fma_neon_flops;
const double sa_peak_fma_neon_flops = 2.0 * 4 * SA_PEAK_CHAINS; /* per iteration */

float sa_peak_fma_neon(int64_t iters) {
  float32x4_t acc[SA_PEAK_CHAINS];
#pragma GCC unroll 32
  for (int c = 0; c < SA_PEAK_CHAINS; c++) acc[c] = vdupq_n_f32(0.001f * (float)c);
  const float32x4_t a = vdupq_n_f32(0.999999f), b = vdupq_n_f32(1e-7f);
  for (int64_t t = 0; t < iters; t++)
#pragma GCC unroll 32 /* the chains must live in registers */
    for (int c = 0; c < SA_PEAK_CHAINS; c++) acc[c] = vfmaq_f32(b, acc[c], a);
  for (int c = 1; c < SA_PEAK_CHAINS; c++) acc[0] = vaddq_f32(acc[0], acc[c]);
  return vaddvq_f32(acc[0]);
}
