/* core/convert.h: exact conversion of f16 and bf16 to f32, portable scalar C.
 * Every f16 and bf16 value (subnormals, inf, NaN included) is exactly representable in f32,
 * so these conversions lose nothing; the oracle and every variant see the same numbers. */
#ifndef SA_CORE_CONVERT_H
#define SA_CORE_CONVERT_H

#include <stdint.h>
#include <string.h>

#include "simdattn.h"

static inline float sa_bits_to_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static inline float sa_bf16_to_f32(uint16_t h) { return sa_bits_to_f32((uint32_t)h << 16); }

static inline float sa_f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  if (exp == 0x1fu) return sa_bits_to_f32(sign | 0x7f800000u | (man << 13)); /* inf, NaN */
  if (exp != 0) return sa_bits_to_f32(sign | ((exp + 112u) << 23) | (man << 13));
  /* zero or subnormal: man * 2^-24, exact in f32 */
  const float mag = (float)man * 0x1p-24f;
  return sign ? -mag : mag;
}

/* Element `idx` of a row of dtype t, as f32. */
static inline float sa_load_f32(const void *row, simdattn_dtype t, int64_t idx) {
  if (t == SIMDATTN_F32) {
    float f;
    memcpy(&f, (const char *)row + 4 * idx, 4);
    return f;
  }
  uint16_t h;
  memcpy(&h, (const char *)row + 2 * idx, 2);
  return t == SIMDATTN_F16 ? sa_f16_to_f32(h) : sa_bf16_to_f32(h);
}

/* dst[0..n) = row[0..n) converted to f32 and multiplied by `mul` (1 = a plain copy). */
static inline void sa_row_to_f32(const void *row, simdattn_dtype t, int64_t n, float mul,
                                 float *dst) {
  for (int64_t x = 0; x < n; x++) dst[x] = sa_load_f32(row, t, x) * mul;
}

#endif
