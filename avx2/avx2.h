/* avx2/avx2.h: the AVX2 + FMA (+ F16C) primitives of core/flash_driver.inc (8 f32 lanes, 16 ymm
 * registers), core/exp.h's inlined exp and exp2 built on them, and what core/probes.inc needs.
 * Everything static inline: a non-static inline built with AVX2 flags could be merged into
 * baseline code and SIGILL. */
#ifndef SA_AVX2_H
#define SA_AVX2_H

#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "avx2/ must be built with -mavx2 -mfma -mf16c"
#endif

#include <immintrin.h>
#include <sleef.h>
#include <stdint.h>
#include <string.h>

typedef __m256 sa_vec;
#define SA_NREGS 16 /* vector registers */
#define SA_VL 8

static inline sa_vec sa_vzero(void) { return _mm256_setzero_ps(); }
static inline sa_vec sa_vset1(float x) { return _mm256_set1_ps(x); }
static inline sa_vec sa_vload(const float *p) { return _mm256_load_ps(p); }
static inline void sa_vstore(float *p, sa_vec v) { _mm256_store_ps(p, v); }
static inline void sa_vstore_u(float *p, sa_vec v) { _mm256_storeu_ps(p, v); }
static inline sa_vec sa_vadd(sa_vec a, sa_vec b) { return _mm256_add_ps(a, b); }
static inline sa_vec sa_vsub(sa_vec a, sa_vec b) { return _mm256_sub_ps(a, b); }
static inline sa_vec sa_vmul(sa_vec a, sa_vec b) { return _mm256_mul_ps(a, b); }
static inline sa_vec sa_vdiv(sa_vec a, sa_vec b) { return _mm256_div_ps(a, b); }
static inline sa_vec sa_vfma(sa_vec a, sa_vec b, sa_vec c) { return _mm256_fmadd_ps(a, b, c); }
static inline sa_vec sa_vmax(sa_vec a, sa_vec b) { return _mm256_max_ps(a, b); } /* NaN in a or b -> b */
static inline sa_vec sa_vmin(sa_vec a, sa_vec b) { return _mm256_min_ps(a, b); } /* NaN in a or b -> b */
static inline sa_vec sa_vround(sa_vec v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
/* p 2^n for integral n in [-152, 129]: two exact power-of-two factors, so one rounding at most */
static inline sa_vec sa_vldexp(sa_vec p, sa_vec n) {
  const __m256i ni = _mm256_cvtps_epi32(n), n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 f1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 f2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, f1), f2);
}
/* p 2^n for the lanes with y > lim or NaN; the others scale p = +0 instead, exactly +0 as their
 * product would round to, without the underflow's microcode assist on Intel cores (core/exp.h) */
#define SA_HAVE_VLDEXP_LIVE 1
static inline sa_vec sa_vldexp_live(sa_vec p, sa_vec n, sa_vec y, float lim) {
  return sa_vldexp(_mm256_and_ps(p, _mm256_cmp_ps(y, _mm256_set1_ps(lim), _CMP_NLE_UQ)), n);
}
#include "../core/exp.h"
#define SA_SCORES_LOG2 1 /* P = 2^(s - m): core/exp.h's sa_vexp2_lim */
static inline sa_vec sa_vexp(sa_vec v) { return sa_vexp_inline(v); }
static inline sa_vec sa_vexp_sleef(sa_vec v) { return Sleef_expf8_u10avx2(v); } /* the yardstick */
static inline sa_vec sa_vexp2_sleef(sa_vec v) { return Sleef_exp2f8_u10avx2(v); }
static inline sa_vec sa_vtanh(sa_vec v) { return Sleef_tanhf8_u10avx2(v); }
/* p[0 .. min(n, 8)), zeros after; never reads p[n] or beyond */
static inline sa_vec sa_vloadu_n(const float *p, int64_t n) {
  if (n >= 8) return _mm256_loadu_ps(p);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lane));
}
/* 8 halfwords at p, n of them valid (a short tail halfword by halfword into registers: a memcpy of n
 * bytes was a call, which kept the tiles' accumulators in memory: sa_load_u8x8) */
static inline __m128i sa_load_u16x8(const char *p, int64_t n) {
  if (n >= 8) return _mm_loadu_si128((const __m128i *)p);
  uint64_t w[2] = {0, 0};
  for (int64_t i = 0; i < n; i++) {
    uint16_t h;
    memcpy(&h, p + 2 * i, 2);
    w[i >> 2] |= (uint64_t)h << (16 * (i & 3));
  }
  return _mm_set_epi64x((long long)w[1], (long long)w[0]);
}
/* The dtype table's converting loaders (core/dtype.h): elements idx .. idx + 7 of the row at base
 * as f32, n of them valid (zeros after; nothing past the n-th is read). f16 by F16C
 * (vcvtph2ps), bf16 by a 16-bit shift: exact. */
static inline sa_vec sa_vload_f32(const char *base, int64_t idx, int64_t n) {
  return sa_vloadu_n((const float *)base + idx, n);
}
static inline sa_vec sa_vload_f16(const char *base, int64_t idx, int64_t n) {
  return _mm256_cvtph_ps(sa_load_u16x8(base + 2 * idx, n));
}
static inline sa_vec sa_vload_bf16(const char *base, int64_t idx, int64_t n) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(sa_load_u16x8(base + 2 * idx, n)), 16));
}
/* The quantized formats (exact: core/convert.h). A vector never straddles a GGUF block (idx is a
 * multiple of 8, rows of whole blocks of 32): its 8 int8 (q8_0) or nibbles (q4_0: low ones for the
 * block's first half, high ones for its second) widened to f32 and times the block's f16 d (from an
 * 8-byte load at the block's start); q4_0's q - 8 in integers, then times d (exact). fp8 through
 * F16C: E5M2 is an f16's upper byte; E4M3's bits placed in an f16 (sign to bit 15, the rest one
 * lower) are its value times 2^-8, normal and subnormal alike, so the scale's multiplication takes
 * sc 2^8 instead (the same real product, the same rounding: avx512.h), and S.1111.111 made NaN. */
static inline __m128i sa_load_u8x8(const char *p, int64_t n) {
  if (n >= 8) return _mm_loadl_epi64((const __m128i *)p);
  /* byte by byte into a register: a memcpy of n bytes was a call, and the tiles' accumulators live
   * across a call in a tail loop were kept in memory through their whole loops (AVX2's GQA S tile on
   * a quantized K stored and reloaded its 8 accumulators at every step) */
  uint64_t x = 0;
  for (int64_t i = 0; i < n; i++) x |= (uint64_t)(uint8_t)p[i] << (8 * i);
  return _mm_cvtsi64_si128((long long)x);
}
/* The same with the block's d given (the loaders above through them): SA_VLOAD_D, direct mode's GQA
 * tiles converting each key's d once per block (core/flash_driver.inc) */
#define SA_VLOAD_D 1
/* (vcvtph2ps from memory: GCC splits _mm_cvtph_ps(_mm_loadl_epi64(p)) into a load and the register
 * form, one shuffle-port operation more on Intel cores) */
static inline float sa_block_d_isa(const char *blk) {
  __m128 d;
  __asm__("vcvtph2ps %1, %0" : "=x"(d) : "m"(*(const struct { char b[8]; } *)blk));
  return _mm_cvtss_f32(d);
}
static inline sa_vec sa_vload_q8_0_d(const char *base, int64_t idx, int64_t n, float d) {
  const __m256i q = _mm256_cvtepi8_epi32(sa_load_u8x8(base + (idx >> 5) * 34 + 2 + (idx & 31), n));
  return _mm256_mul_ps(_mm256_cvtepi32_ps(q), _mm256_set1_ps(d));
}
static inline sa_vec sa_vload_q4_0_d(const char *base, int64_t idx, int64_t n, float d) {
  const __m256i b = _mm256_cvtepu8_epi32(sa_load_u8x8(base + (idx >> 5) * 18 + 2 + (idx & 15), n));
  const __m256i q = (idx & 16) ? _mm256_srli_epi32(b, 4) : _mm256_and_si256(b, _mm256_set1_epi32(15));
  return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q, _mm256_set1_epi32(8))), _mm256_set1_ps(d));
}
static inline sa_vec sa_vload_q8_0(const char *base, int64_t idx, int64_t n) {
  return sa_vload_q8_0_d(base, idx, n, sa_block_d_isa(base + (idx >> 5) * 34));
}
static inline sa_vec sa_vload_q4_0(const char *base, int64_t idx, int64_t n) {
  return sa_vload_q4_0_d(base, idx, n, sa_block_d_isa(base + (idx >> 5) * 18));
}
/* E5M2: each byte the upper byte of a halfword, the lower zero, in one byte interleave */
static inline sa_vec sa_vload_fp8e5m2(const char *base, int64_t idx, int64_t n, float sc) {
  const sa_vec x = _mm256_cvtph_ps(_mm_unpacklo_epi8(_mm_setzero_si128(), sa_load_u8x8(base + idx, n)));
  return _mm256_mul_ps(x, _mm256_set1_ps(sc));
}
/* E4M3: x sign-extended to 16 bits and shifted left 7 holds the sign in bit 15, a copy of it in bit
 * 14 and EEEE.MMM in bits 13-7: clearing bit 14 leaves the f16 placement. S.1111.111 (bits 13-7 all
 * set) becomes all ones, an f16 NaN, before the conversion: three operations where a widening with a
 * shift pair and a NaN blend after the conversion took six. */
static inline sa_vec sa_vload_fp8e4m3(const char *base, int64_t idx, int64_t n, float sc) {
  /* avx512/avx512.h's placement: bit 14 of y flipped by (y + 0x80) & 0x4000, a NaN exactly on the code */
  const __m128i y = _mm_slli_epi16(_mm_cvtepi8_epi16(sa_load_u8x8(base + idx, n)), 7);
  const __m128i t = _mm_and_si128(_mm_add_epi16(y, _mm_set1_epi16(0x80)), _mm_set1_epi16(0x4000));
  return _mm256_mul_ps(_mm256_cvtph_ps(_mm_xor_si128(y, t)), _mm256_set1_ps(sc * 256.0f));
}
/* Lax E4M3 (core/flash_driver.inc, SA_VLOAD_LAX, measured there): the NaN code left as 480 sc, for a
 * row scan to find. Four operations, no F16C: x sign-extended to 32 bits and shifted left 20 holds the
 * sign in bit 31 (copies of it in bits 30-27, cleared) and EEEE.MMM in bits 26-20, an f32 whose value
 * is x's times 2^-120, normal and subnormal alike (a subnormal E4M3 an f32 subnormal: library work
 * runs with DAZ off, src/fpenv.h), so the multiplication takes sc 2^120: the same real product as
 * the exact loader's, the same rounding. Exact while sc 2^120 is finite (|sc| < 2^8) or sc is not
 * (SA_LAX_SCALE_OK: a head with a larger scale goes to the staged tiles). Zen 4 (family 25 model 17),
 * scripts/bench-pair against the f16 placement (vpmovsxbw, a shift, an AND, vcvtph2ps, the
 * multiplication: five), 32x8 heads d128 BHSD fp8e4m3, 1 thread: seq_kv 32768 1.12-1.13x, 2048 1.14x.
 * The scan: a byte is the code when it is 0xff once its sign is set, 32 bytes to a maximum. */
#define SA_VLOAD_LAX 1
#define SA_LAX_SCALE_OK(sc) (!(__builtin_fabsf(sc) <= __FLT_MAX__) || __builtin_fabsf((sc)*0x1p120f) <= __FLT_MAX__)
/* (the multiplier once per tile, an opaque value: GCC recomputed sc 2^120 at every key of a P.V tile) */
static inline float sa_lax_scale_avx2(float sc) {
  float m = sc * 0x1p120f;
  __asm__("" : "+x"(m));
  return m;
}
#define SA_LAX_SCALE(sc) sa_lax_scale_avx2(sc)
static inline sa_vec sa_vload_fp8e4m3_lax(const char *base, int64_t idx, int64_t n, float m) {
  const __m256i s = _mm256_slli_epi32(_mm256_cvtepi8_epi32(sa_load_u8x8(base + idx, n)), 20);
  const __m256 y = _mm256_castsi256_ps(_mm256_and_si256(s, _mm256_set1_epi32((int)0x87f00000u)));
  return _mm256_mul_ps(y, _mm256_set1_ps(m));
}
/* The row scan in two parts: sa_nan_acc_<name> folds a row's bytes into an accumulator (the bytewise
 * maximum of each byte with its sign set: 0xff for the code), sa_nan_found_<name> tests it, once for
 * all the rows a tile or a block scans (a test and a branch per row, as one row's scan has, cost AVX2's
 * GQA decode on an fp8e4m3 cache more than the scan's loads and operations: core/flash_driver.inc) */
static inline sa_vec sa_nan_acc_fp8e4m3(sa_vec acc, const char *row, int64_t n) {
  const __m256i sign = _mm256_set1_epi8((char)0x80);
  __m256i m = _mm256_castps_si256(acc);
  int64_t i = 0;
  /* 128 bytes to a step, each with its sign set before the maximum (x | 0x80 is not monotonic: 0x7f
   * gives 0xff, 0x80 0x80). A d128 row in one step: the loop's own operations were half the scan's;
   * scripts/bench-pair against 32 bytes to a step, Zen 4, 32x8 heads d128 seq_kv 32768 fp8e4m3, 1
   * thread: 1.02-1.03x */
  for (; i + 128 <= n; i += 128) {
    const __m256i *r = (const __m256i *)(row + i);
    const __m256i x0 = _mm256_or_si256(_mm256_loadu_si256(r), sign);
    const __m256i x1 = _mm256_or_si256(_mm256_loadu_si256(r + 1), sign);
    const __m256i x2 = _mm256_or_si256(_mm256_loadu_si256(r + 2), sign);
    const __m256i x3 = _mm256_or_si256(_mm256_loadu_si256(r + 3), sign);
    m = _mm256_max_epu8(m, _mm256_max_epu8(_mm256_max_epu8(x0, x1), _mm256_max_epu8(x2, x3)));
  }
  for (; i + 32 <= n; i += 32)
    m = _mm256_max_epu8(m, _mm256_or_si256(_mm256_loadu_si256((const __m256i *)(row + i)), sign));
  for (; i < n; i += 8) /* (the bytes past n load as zeros: 0x80, not the code) */
    m = _mm256_max_epu8(m, _mm256_zextsi128_si256(
                               _mm_or_si128(sa_load_u8x8(row + i, n - i), _mm256_castsi256_si128(sign))));
  return _mm256_castsi256_ps(m);
}
static inline int sa_nan_found_fp8e4m3(sa_vec acc) {
  return _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_castps_si256(acc), _mm256_set1_epi8(-1))) != 0;
}
/* always_inline: GCC 12 finds a prefetch-only function "looping const" and may drop its calls
 * (measured: no prefetch left in the objects, decode at half speed) */
static inline __attribute__((always_inline)) void sa_prefetch(const void *p) {
  _mm_prefetch((const char *)p, _MM_HINT_T0); /* into L1 and L2: T0 beat T1 by 13-17% out of L3 (A/B) */
}
static inline __attribute__((always_inline)) void sa_prefetch_l2(const void *p) {
  _mm_prefetch((const char *)p, _MM_HINT_T1);
}
/* lane k = the sum of v[k]'s 8 lanes, in a fixed tree order (always inlined: with a staged tile more
 * in sa_s_direct, GCC called it out of line from the GQA S tile on an fp8 K, 0.79x: scripts/bench-pair) */
static inline __attribute__((always_inline)) sa_vec sa_vhsum(const sa_vec v[8]) {
  __m256 u[4];
  for (int i = 0; i < 4; i++)
    u[i] = _mm256_add_ps(_mm256_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm256_unpackhi_ps(v[2 * i], v[2 * i + 1]));
  const __m256 w0 = _mm256_add_ps(_mm256_shuffle_ps(u[0], u[1], 0x44), _mm256_shuffle_ps(u[0], u[1], 0xee));
  const __m256 w1 = _mm256_add_ps(_mm256_shuffle_ps(u[2], u[3], 0x44), _mm256_shuffle_ps(u[2], u[3], 0xee));
  return _mm256_add_ps(_mm256_permute2f128_ps(w0, w1, 0x20), _mm256_permute2f128_ps(w0, w1, 0x31));
}
/* sa_vhsum's lane k for one vector (v as v[k]): the same tree, q0 + q1 over the 128-bit halves'
 * sums qL = (e0 + e2) + (e1 + e3) */
static inline float sa_vhsum1(sa_vec v) {
  const __m256 a = _mm256_add_ps(v, _mm256_permute_ps(v, 0x4e));
  const __m256 b = _mm256_add_ps(a, _mm256_permute_ps(a, 0xb1));
  return _mm256_cvtss_f32(_mm256_add_ps(b, _mm256_permute2f128_ps(b, b, 0x01)));
}
/* In-register transpose: r[i] holds row i; afterwards r[k] holds column k. */
static inline void sa_vtranspose(sa_vec r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int g = 0; g < 8; g += 4) { /* per 128-bit lane L: u[g + c] = column 4L + c of rows g..g+3 */
    u[g + 0] = _mm256_shuffle_ps(t[g], t[g + 2], 0x44);
    u[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], 0xee);
    u[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0x44);
    u[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0xee);
  }
  for (int c = 0; c < 4; c++) {
    r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
}

#define SA_DIRECT_CH 1 /* q vectors per row held while the keys stream by */
/* q in a register, loaded once, not folded into each FMA as a memory operand (10 loads per 8 FMAs
 * otherwise; README.md, "What makes the SIMD variants fast") */
#define SA_VKEEP(v) __asm__("" : "+x"(v))
/* but not on a block format's K (q8_0, q4_0): the GQA tile's 8 accumulators and 4 pinned q vectors
 * left the loader (its bytes, the block's d of each key, its constants) 4 of the 16 registers, and GCC
 * spilled accumulators and the widened bytes at every step; unpinned, it reads q as the FMAs' memory
 * operands and spills nothing. Zen 4 (family 25 model 17), scripts/bench-pair against pinned q, 32x8
 * heads d128 BHSD seq_kv 32768, paired medians at 1 / 2 threads: q4_0 1.24x / 1.21x, q8_0 1.07x / 1.08x,
 * q8_0+q4_0 1.07x / 1.07x (seq_kv 2048: q4_0 1.24x, q8_0 1.10x); fp8 (no block d) unpinned 0.86x, so
 * pinned. Not measured on Zen 5. */
#define SA_DIRECT_QKEEP_DT(dt) (sa_dtype_block((simdattn_dtype)(dt)) == 1)
/* one-row direct P.V (plain multi-head decode): V vectors per pass, 2 x 6 accumulators and the
 * broadcast p in 16 registers (a d48 row in one pass; only rows of at most 6 + SA_NR vectors, longer
 * ones in passes of SA_NR: core/flash_direct.inc). Zen 3,
 * scripts/bench-pair against passes of 2 vectors (SA_NR) throughout, BHSD t1: 6x6 heads d48 seq_kv
 * 256 f32 1.16x, f16 1.04x; 4x4 d128 seq_kv 64 f32 1.0x (passes of 6 up to the row's end, each rest
 * its own copy of the micro kernel: 1.09x, but 1.6x the AVX2 variant's build time under clang + ASan);
 * passes of 4: 0.92-0.95x of 6. */
#ifndef SA_DIRECT_NV1_AVX2
#define SA_DIRECT_NV1_AVX2 6
#endif
#define SA_DIRECT_NV1 SA_DIRECT_NV1_AVX2
/* GQA groups fetch no narrow V (q8_0, q4_0, fp8) ahead during P.V (core/flash_direct.inc): V's rows
 * there still come during S (2), and the passes' prefetches and their tests per key cost more than
 * they gave. Zen 4 (family 25 model 17), scripts/bench-pair against fetching them, 32x8 heads d128
 * BHSD seq_kv 32768, paired medians at 1 / 2 threads: q4_0 1.048x / 1.045x, q8_0 1.052x / 1.054x,
 * fp8e4m3 1.028x / 0.999x, fp8e5m2 1.068x / 1.064x, q8_0+q4_0 1.044x / 1.050x; seq_kv 8192 q4_0
 * 1.036x, fp8e4m3 1.042x; a paged cache (block 16) q4_0 0.998x, fp8e4m3 0.990x. On AVX-512 there
 * 0.996-1.015x: not taken. Not measured on Zen 5 (whose GQA groups fetch no V during S). */
#define SA_DIRECT_PV_AHEAD_NARROW 0
static inline float sa_vreduce_max(sa_vec v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}
static inline float sa_vreduce_add(sa_vec v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

#endif
