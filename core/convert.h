/* core/convert.h: each element format's scalar codec, portable C — what a row of the dtype table
 * (core/dtype.h) points at. Decoding is exact: every f16 and bf16 value (subnormals, inf and NaN
 * included) is an f32 value, so the oracle, the reference and every variant see the same numbers.
 * Encoding rounds to nearest, ties to even (test data and, later, the public quantizers).
 *
 *   float sa_decode_<name>(const void *base, int64_t idx)          element idx of a row at base
 *   void  sa_encode_<name>(void *base, int64_t idx, const float *src, int64_t n)
 *                                                                   elements idx .. idx + n - 1 */
#ifndef SA_CORE_CONVERT_H
#define SA_CORE_CONVERT_H

#include <stdint.h>
#include <string.h>

static inline float sa_bits_to_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}
static inline uint32_t sa_f32_to_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

/* ---- f32 ---- */
static inline float sa_decode_f32(const void *base, int64_t idx) {
  float f;
  memcpy(&f, (const char *)base + 4 * idx, 4);
  return f;
}
static inline void sa_encode_f32(void *base, int64_t idx, const float *src, int64_t n) {
  memcpy((char *)base + 4 * idx, src, 4 * (size_t)n);
}

/* ---- bf16: the upper half of an f32 ---- */
static inline float sa_bf16_to_f32(uint16_t h) { return sa_bits_to_f32((uint32_t)h << 16); }
static inline uint16_t sa_f32_to_bf16(float f) {
  const uint32_t x = sa_f32_to_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u); /* NaN stays quiet NaN */
  return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

/* the codec of a 2-byte format from its value conversions */
#define SA_CODEC_16(name, to_f32, from_f32)                                                   \
  static inline float sa_decode_##name(const void *base, int64_t idx) {                       \
    uint16_t h;                                                                               \
    memcpy(&h, (const char *)base + 2 * idx, 2);                                              \
    return to_f32(h);                                                                         \
  }                                                                                           \
  static inline void sa_encode_##name(void *base, int64_t idx, const float *src, int64_t n) { \
    for (int64_t x = 0; x < n; x++) {                                                         \
      const uint16_t h = from_f32(src[x]);                                                    \
      memcpy((char *)base + 2 * (idx + x), &h, 2);                                            \
    }                                                                                         \
  }
SA_CODEC_16(bf16, sa_bf16_to_f32, sa_f32_to_bf16)

/* ---- f16 (IEEE binary16) ---- */
static inline float sa_f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  if (exp == 0x1fu) return sa_bits_to_f32(sign | 0x7f800000u | (man << 13)); /* inf, NaN */
  if (exp != 0) return sa_bits_to_f32(sign | ((exp + 112u) << 23) | (man << 13));
  /* zero or subnormal: man * 2^-24, exact in f32 */
  const float mag = (float)man * 0x1p-24f;
  return sign ? -mag : mag;
}
static inline uint16_t sa_f32_to_f16(float f) {
  const uint32_t x = sa_f32_to_bits(f), sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);
  if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 rounds to inf */
  if (ax < 0x38800000u) { /* f16 subnormal or zero, in units of 2^-24; ax = m 2^(e - 150), m = 2^23 + mantissa */
    const uint32_t e = ax >> 23;
    if (e < 102) return (uint16_t)sign; /* below 2^-25: rounds to 0 */

    /* value / 2^-24 = m >> shift, rounded to nearest even */
    const uint32_t m = (ax & 0x7fffffu) | 0x800000u, shift = 126 - e;
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return (uint16_t)(sign | q);
  }
  uint32_t h = (((ax >> 23) - 112u) << 10) | ((ax & 0x7fffffu) >> 13);
  const uint32_t rem = ax & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
  return (uint16_t)(sign | h);
}
SA_CODEC_16(f16, sa_f16_to_f32, sa_f32_to_f16)

#endif
