/* neon/neon.h: the AArch64 Advanced SIMD primitives of core/flash_driver.inc (4 f32 lanes, 32
 * registers), core/exp.h's inlined exp and exp2 built on them, and what core/probes.inc needs. Baseline ARMv8.0-A only
 * (no fp16 arithmetic, SVE, dot products): every AArch64 CPU runs it. Everything static inline. */
#ifndef SA_NEON_H
#define SA_NEON_H

#if !defined(__aarch64__) || !defined(__ARM_NEON)
#error "neon/ is built for AArch64 (Advanced SIMD is part of the baseline)"
#endif

#include <arm_neon.h>
#include <sleef.h>
#include <string.h>

#include "../core/dtype.h" /* the dtype table (the loaders below are its rows) */

typedef float32x4_t sa_vec;
#define SA_NREGS 32 /* vector registers */
#define SA_VL 4

static inline sa_vec sa_vzero(void) { return vdupq_n_f32(0.0f); }
static inline sa_vec sa_vset1(float x) { return vdupq_n_f32(x); }
static inline sa_vec sa_vload(const float *p) { return vld1q_f32(p); }
static inline void sa_vstore(float *p, sa_vec v) { vst1q_f32(p, v); }
static inline void sa_vstore_u(float *p, sa_vec v) { vst1q_f32(p, v); }
static inline sa_vec sa_vadd(sa_vec a, sa_vec b) { return vaddq_f32(a, b); }
static inline sa_vec sa_vsub(sa_vec a, sa_vec b) { return vsubq_f32(a, b); }
static inline sa_vec sa_vmul(sa_vec a, sa_vec b) { return vmulq_f32(a, b); }
static inline sa_vec sa_vdiv(sa_vec a, sa_vec b) { return vdivq_f32(a, b); }
static inline sa_vec sa_vfma(sa_vec a, sa_vec b, sa_vec c) { return vfmaq_f32(c, a, b); }
/* a > b ? a : b, so NaN in either gives b (fmax/fmaxnm would not) */
static inline sa_vec sa_vmax(sa_vec a, sa_vec b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
static inline sa_vec sa_vmin(sa_vec a, sa_vec b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
static inline sa_vec sa_vround(sa_vec v) { return vrndnq_f32(v); }
/* p 2^n for integral n in [-152, 129]: two exact power-of-two factors, so one rounding at most */
static inline sa_vec sa_vldexp(sa_vec p, sa_vec n) {
  const int32x4_t ni = vcvtq_s32_f32(n), n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
  const int32x4_t bias = vdupq_n_s32(127);
  const float32x4_t f1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
  const float32x4_t f2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
  return vmulq_f32(vmulq_f32(p, f1), f2);
}
#include "../core/exp.h"
#define SA_SCORES_LOG2 1 /* P = 2^(s - m): core/exp.h's sa_vexp2_lim */
static inline sa_vec sa_vexp(sa_vec v) { return sa_vexp_inline(v); }
static inline sa_vec sa_vexp_sleef(sa_vec v) { return Sleef_expf4_u10advsimd(v); } /* the yardstick */
static inline sa_vec sa_vexp2_sleef(sa_vec v) { return Sleef_exp2f4_u10advsimd(v); }
static inline sa_vec sa_vtanh(sa_vec v) { return Sleef_tanhf4_u10advsimd(v); }
static inline float sa_vreduce_max(sa_vec v) { return vmaxvq_f32(v); } /* never sees NaN here */
static inline float sa_vreduce_add(sa_vec v) { return vaddvq_f32(v); }

/* p[0 .. min(n, 4)), zeros after; never reads p[n] or beyond (no masked loads: lane by lane into
 * registers. A memcpy of n bytes here was a call, and values live across a call are kept in memory:
 * on AVX2 that put the GQA tiles' accumulators on the stack through their hot loops, avx2/avx2.h) */
static inline sa_vec sa_vloadu_n(const float *p, int64_t n) {
  if (n >= 4) return vld1q_f32(p);
  const float32x2_t z = vdup_n_f32(0.0f);
  if (n == 3) return vcombine_f32(vld1_f32(p), vset_lane_f32(p[2], z, 0));
  if (n == 2) return vcombine_f32(vld1_f32(p), z);
  if (n == 1) return vcombine_f32(vset_lane_f32(p[0], z, 0), z);
  return vdupq_n_f32(0.0f);
}
/* the n bytes at p (n < 8: a tail of bytes or of halfwords) into a 64-bit register, zeros after; no call */
static inline uint64_t sa_load_bytes_lt8(const char *p, int64_t n) {
  uint64_t x = 0;
  for (int64_t i = 0; i < n; i++) x |= (uint64_t)(uint8_t)p[i] << (8 * i);
  return x;
}
static inline uint16x4_t sa_load_u16x4(const char *p, int64_t n) {
  if (n >= 4) return vld1_u16((const uint16_t *)p);
  return vcreate_u16(sa_load_bytes_lt8(p, 2 * (n > 0 ? n : 0)));
}
/* 4 bytes at p (n >= 4) or n of them, in the low lanes of a 64-bit vector, zeros after */
static inline uint64_t sa_load_u8x4(const char *p, int64_t n) {
  if (n >= 4) {
    uint32_t u;
    memcpy(&u, p, 4);
    return u;
  }
  return sa_load_bytes_lt8(p, n > 0 ? n : 0);
}
/* The dtype table's converting loaders (core/dtype.h): elements idx .. idx + 3 of the row at base
 * as f32, n of them valid (zeros after; nothing past the n-th is read). f16 by FCVTL (ARMv8.0),
 * bf16 by a 16-bit shift: exact. */
static inline sa_vec sa_vload_f32(const char *base, int64_t idx, int64_t n) {
  return sa_vloadu_n((const float *)base + idx, n);
}
static inline sa_vec sa_vload_f16(const char *base, int64_t idx, int64_t n) {
  return vcvt_f32_f16(vreinterpret_f16_u16(sa_load_u16x4(base + 2 * idx, n)));
}
static inline sa_vec sa_vload_bf16(const char *base, int64_t idx, int64_t n) {
  return vreinterpretq_f32_u32(vshll_n_u16(sa_load_u16x4(base + 2 * idx, n), 16));
}
/* The quantized formats (exact: core/convert.h): a vector of 4 never straddles a GGUF block. q8_0
 * and q4_0 widen 4 int8 or nibbles to f32 times the block's f16 d; fp8 (ARMv8.0 has no fp8
 * conversion) by f16 bit patterns and FCVTL, as the x86 loaders do (avx2/avx2.h). */
static inline float sa_block_d16(const char *blk) {
  uint16_t h;
  memcpy(&h, blk, 2);
  return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}
static inline sa_vec sa_vload_q8_0(const char *base, int64_t idx, int64_t n) {
  const char *blk = base + (idx >> 5) * 34;
  const int32x4_t q = vmovl_s16(vget_low_s16(vmovl_s8(vcreate_s8(sa_load_u8x4(blk + 2 + (idx & 31), n)))));
  return vmulq_n_f32(vcvtq_f32_s32(q), sa_block_d16(blk));
}
static inline sa_vec sa_vload_q4_0(const char *base, int64_t idx, int64_t n) {
  const char *blk = base + (idx >> 5) * 18;
  uint8x8_t b = vcreate_u8(sa_load_u8x4(blk + 2 + (idx & 15), n));
  b = (idx & 16) ? vshr_n_u8(b, 4) : vand_u8(b, vdup_n_u8(15));
  const int32x4_t q = vsubq_s32(vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(vmovl_u8(b)))), vdupq_n_s32(8));
  return vmulq_n_f32(vcvtq_f32_s32(q), sa_block_d16(blk));
}
/* E5M2 is the upper byte of an f16 (inf and NaN included): one widening shift (SHLL #8), FCVTL, the
 * scale. Lanes fl(sc x), x exact in f32. */
static inline sa_vec sa_vload_fp8e5m2(const char *base, int64_t idx, int64_t n, float sc) {
  const uint16x8_t h = vshll_n_u8(vcreate_u8(sa_load_u8x4(base + idx, n)), 8);
  return vmulq_n_f32(vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(h))), sc);
}
/* E4M3 sign-extended and shifted left 7 (SSHLL #7) holds the sign in bit 15, a copy of it in bit 14
 * and EEEE.MMM in bits 13-7: bit 14 cleared, that is x times 2^-8 as an f16 (E4M3's subnormals f16
 * subnormals, which FCVTL converts exactly whatever FPCR.FZ says), and on S.1111.111, E4M3's NaN, set,
 * an f16 NaN: bit 14 flipped by (y + 0x80) & 0x4000, which carries into it exactly on that code
 * (avx512/avx512.h). Times sc 256 (exact: a power of 2): fl(sc x). */
static inline sa_vec sa_vload_fp8e4m3(const char *base, int64_t idx, int64_t n, float sc) {
  const int16x8_t s = vshll_n_s8(vreinterpret_s8_u8(vcreate_u8(sa_load_u8x4(base + idx, n))), 7);
  const uint16x4_t u = vreinterpret_u16_s16(vget_low_s16(s));
  const uint16x4_t t = vand_u16(vadd_u16(u, vdup_n_u16(0x80)), vdup_n_u16(0x4000));
  return vmulq_n_f32(vcvt_f32_f16(vreinterpret_f16_u16(veor_u16(u, t))), sc * 256.0f);
}
static inline __attribute__((always_inline)) void sa_prefetch(const void *p) { /* see avx2.h */
  __builtin_prefetch(p, 0, 2);
}
static inline __attribute__((always_inline)) void sa_prefetch_l2(const void *p) { __builtin_prefetch(p, 0, 2); }
/* lane k = the sum of v[k]'s 4 lanes, in a fixed pairwise order */
static inline sa_vec sa_vhsum(const sa_vec v[4]) { return vpaddq_f32(vpaddq_f32(v[0], v[1]), vpaddq_f32(v[2], v[3])); }
/* sa_vhsum's lane k for one vector (v as v[k]): (e0 + e1) + (e2 + e3) */
static inline float sa_vhsum1(sa_vec v) {
  const float32x4_t a = vpaddq_f32(v, v);
  return vgetq_lane_f32(a, 0) + vgetq_lane_f32(a, 1);
}
/* In-register 4x4 transpose: r[i] holds row i; afterwards r[k] holds column k. */
static inline void sa_vtranspose(sa_vec r[4]) {
  const float32x4_t t0 = vtrn1q_f32(r[0], r[1]), t1 = vtrn2q_f32(r[0], r[1]);
  const float32x4_t t2 = vtrn1q_f32(r[2], r[3]), t3 = vtrn2q_f32(r[2], r[3]);
  r[0] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
  r[1] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
  r[2] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
  r[3] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
}
#define SA_DIRECT_CH 4 /* q vectors per row held while the keys stream by */

#endif
