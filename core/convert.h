/* core/convert.h: each element format's scalar codec, portable C — what a row of the dtype table
 * (core/dtype.h) points at. Decoding is exact: every f16, bf16, fp8 value (subnormals, inf and NaN
 * included) and every q8_0 / q4_0 product d q is an f32 value, so the oracle, the reference and
 * every variant see the same numbers (an fp8 format's per-tensor scale is applied after, by the
 * caller: one f32 multiplication). Encoding rounds to nearest, ties to even; the block formats
 * follow ggml's reference quantizers' rules, written from their definitions (simdattn.h,
 * simdattn_quantize); fp8 saturates to its largest finite value.
 *
 *   float sa_decode_<name>(const void *base, int64_t idx)          element idx of a row at base
 *   void  sa_encode_<name>(void *base, int64_t idx, const float *src, int64_t n)
 *                                                                   elements idx .. idx + n - 1 */
#ifndef SA_CORE_CONVERT_H
#define SA_CORE_CONVERT_H

#include <math.h>
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

/* ---- fp8 (OCP OFP8): E4M3 (bias 7, no infinities, S.1111.111 NaN, max 448) and E5M2 (bias 15,
 * IEEE-like: the upper byte of an f16) ---- */
static inline float sa_fp8e5m2_to_f32(uint8_t x) { return sa_f16_to_f32((uint16_t)(x << 8)); }
static inline float sa_fp8e4m3_to_f32(uint8_t x) {
  const uint32_t e = (x >> 3) & 15u, m = x & 7u;
  float mag;
  if (e == 15u && m == 7u) mag = sa_bits_to_f32(0x7fc00000u);
  else if (e == 0) mag = (float)m * 0x1p-9f; /* subnormal: m 2^-9 */
  else mag = sa_bits_to_f32(((e + 120u) << 23) | (m << 20));
  return (x & 0x80u) ? -mag : mag;
}
/* |f| into a format of `man` mantissa bits, minimum normal exponent emin, largest finite code maxc
 * (its value maxv's f32 bits maxbits), NaN code nanc; round to nearest even, saturating */
static inline uint8_t sa_f32_to_fp8(float f, int man, int emin, uint32_t maxbits, uint8_t maxc, uint8_t nanc) {
  const uint32_t x = sa_f32_to_bits(f), ax = x & 0x7fffffffu;
  const uint8_t sign = (uint8_t)((x >> 24) & 0x80u);
  if (ax > 0x7f800000u) return (uint8_t)(sign | nanc);
  if (ax >= maxbits) return (uint8_t)(sign | maxc); /* beyond the largest finite value (inf too): saturate */
  const int e = (int)(ax >> 23) - 127;
  uint32_t code, rem, half;
  if (e >= emin) { /* normal: the exponent rebiased, the mantissa cut to man bits */
    const int shift = 23 - man;
    code = ((uint32_t)(e - emin + 1) << man) | ((ax & 0x7fffffu) >> shift);
    rem = ax & ((1u << shift) - 1u), half = 1u << (shift - 1);
  } else { /* subnormal (or 0): the value in units of 2^(emin - man) */
    if ((ax >> 23) == 0) return sign; /* an f32 subnormal is far below half a unit */
    const int shift = 23 + emin - man - e; /* >= 24 - man + 1 */
    if (shift > 24) return sign;           /* below half a unit: 0 */
    const uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    code = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
  }
  if (rem > half || (rem == half && (code & 1u))) code++; /* a carry into the exponent is right */
  return (uint8_t)(sign | code);
}
static inline uint8_t sa_f32_to_fp8e4m3(float f) { return sa_f32_to_fp8(f, 3, -6, 0x43e00000u, 0x7e, 0x7f); }
static inline uint8_t sa_f32_to_fp8e5m2(float f) { return sa_f32_to_fp8(f, 2, -14, 0x47600000u, 0x7b, 0x7e); }
#define SA_CODEC_8(name, to_f32, from_f32)                                                    \
  static inline float sa_decode_##name(const void *base, int64_t idx) {                       \
    return to_f32(((const uint8_t *)base)[idx]);                                              \
  }                                                                                           \
  static inline void sa_encode_##name(void *base, int64_t idx, const float *src, int64_t n) { \
    for (int64_t x = 0; x < n; x++) ((uint8_t *)base)[idx + x] = from_f32(src[x]);            \
  }
SA_CODEC_8(fp8e4m3, sa_fp8e4m3_to_f32, sa_f32_to_fp8e4m3)
SA_CODEC_8(fp8e5m2, sa_fp8e5m2_to_f32, sa_f32_to_fp8e5m2)

/* ---- GGUF blocks of 32: q8_0 (f16 d, 32 int8: value d q) and q4_0 (f16 d, 16 bytes of nibbles,
 * elements 0-15 low, 16-31 high: value d (q - 8)). d q is exact in f32 (11 x 8 bits). The
 * encoders are ggml's reference quantizers' rules (quantize_row_q8_0_ref, quantize_row_q4_0_ref):
 * the scale from the block's largest magnitude, each element times the f32 inverse (never a
 * division per element), q8_0 rounded half away from zero (roundf), q4_0 truncated after + 8.5;
 * finite input (simdattn_quantize checks). ---- */
#define SA_QK 32
static inline float sa_block_d(const uint8_t *blk) {
  uint16_t h;
  memcpy(&h, blk, 2);
  return sa_f16_to_f32(h);
}
static inline float sa_decode_q8_0(const void *base, int64_t idx) {
  const uint8_t *blk = (const uint8_t *)base + idx / SA_QK * 34;
  return sa_block_d(blk) * (float)(int8_t)blk[2 + idx % SA_QK];
}
static inline float sa_decode_q4_0(const void *base, int64_t idx) {
  const uint8_t *blk = (const uint8_t *)base + idx / SA_QK * 18;
  const int i = (int)(idx % SA_QK);
  const int q = i < 16 ? (blk[2 + i] & 15) : (blk[2 + i - 16] >> 4);
  return sa_block_d(blk) * (float)(q - 8);
}
/* Where a block's largest magnitude is so small that 1 / d overflows (d below 2^-128), x id is +-inf or
 * NaN: ggml's conversion of it to an integer is undefined in C, and on x86 (cvttss2si: 0x80000000,
 * whose low byte is 0) stores 0 — the value the encoders define there (its d is then 0 in f16, so
 * every element decodes to 0 either way). */
/* q4_0's nibble of t = x id + 8.5 (>= 0.5 for a finite id: truncation is floor), at most 15 */
static inline int sa_q4_nibble(float t) { return t >= 0.0f && t < 16.0f ? (int)t : t >= 16.0f && t < 0x1p31f ? 15 : 0; }
static inline void sa_encode_q8_0(void *base, int64_t idx, const float *src, int64_t n) {
  for (int64_t b0 = 0; b0 < n; b0 += SA_QK) {
    uint8_t *blk = (uint8_t *)base + (idx + b0) / SA_QK * 34;
    const float *x = src + b0;
    float amax = 0.0f;
    for (int i = 0; i < SA_QK; i++) amax = amax > fabsf(x[i]) ? amax : fabsf(x[i]);
    const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t h = sa_f32_to_f16(d);
    memcpy(blk, &h, 2);
    for (int i = 0; i < SA_QK; i++) { /* |x id| <= 127 unless id overflowed (below) */
      const float r = roundf(x[i] * id);
      blk[2 + i] = (uint8_t)(r >= -128.0f && r <= 127.0f ? (int8_t)r : 0);
    }
  }
}
static inline void sa_encode_q4_0(void *base, int64_t idx, const float *src, int64_t n) {
  for (int64_t b0 = 0; b0 < n; b0 += SA_QK) {
    uint8_t *blk = (uint8_t *)base + (idx + b0) / SA_QK * 18;
    const float *x = src + b0;
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < SA_QK; i++)
      if (amax < fabsf(x[i])) amax = fabsf(x[i]), max = x[i];
    const float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t h = sa_f32_to_f16(d);
    memcpy(blk, &h, 2);
    for (int i = 0; i < SA_QK / 2; i++) {
      const float x0 = x[i] * id, x1 = x[i + SA_QK / 2] * id;
      blk[2 + i] = (uint8_t)(sa_q4_nibble(x0 + 8.5f) | sa_q4_nibble(x1 + 8.5f) << 4);
    }
  }
}

#endif
