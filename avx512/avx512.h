/* avx512/avx512.h: the AVX-512F/BW/DQ/VL (+ FMA, F16C) primitives of core/flash_driver.inc (16 f32
 * lanes, 32 zmm registers), core/exp.h's inlined exp and exp2 built on them, and what
 * core/probes.inc needs.
 * Everything static inline: a non-static inline built with AVX-512 flags could be merged into
 * baseline code and SIGILL. */
#ifndef SA_AVX512_H
#define SA_AVX512_H

#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512DQ__) || !defined(__AVX512VL__) || \
    !defined(__FMA__) || !defined(__F16C__)
#error "avx512/ must be built with -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma -mf16c"
#endif

#include <immintrin.h>
#include <sleef.h>
#include <stdint.h>

typedef __m512 sa_vec;
#define SA_NREGS 32 /* vector registers */
#define SA_VL 16

static inline sa_vec sa_vzero(void) { return _mm512_setzero_ps(); }
static inline sa_vec sa_vset1(float x) { return _mm512_set1_ps(x); }
static inline sa_vec sa_vload(const float *p) { return _mm512_load_ps(p); }
static inline void sa_vstore(float *p, sa_vec v) { _mm512_store_ps(p, v); }
static inline void sa_vstore_u(float *p, sa_vec v) { _mm512_storeu_ps(p, v); }
static inline sa_vec sa_vadd(sa_vec a, sa_vec b) { return _mm512_add_ps(a, b); }
static inline sa_vec sa_vsub(sa_vec a, sa_vec b) { return _mm512_sub_ps(a, b); }
static inline sa_vec sa_vmul(sa_vec a, sa_vec b) { return _mm512_mul_ps(a, b); }
static inline sa_vec sa_vdiv(sa_vec a, sa_vec b) { return _mm512_div_ps(a, b); }
static inline sa_vec sa_vfma(sa_vec a, sa_vec b, sa_vec c) { return _mm512_fmadd_ps(a, b, c); }
static inline sa_vec sa_vmax(sa_vec a, sa_vec b) { return _mm512_max_ps(a, b); } /* NaN in a or b -> b */
static inline sa_vec sa_vmin(sa_vec a, sa_vec b) { return _mm512_min_ps(a, b); } /* NaN in a or b -> b */
static inline sa_vec sa_vround(sa_vec v) {
  return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline sa_vec sa_vldexp(sa_vec p, sa_vec n) { return _mm512_scalef_ps(p, n); } /* p 2^n, one rounding */
/* p 2^n for the lanes with y > lim or NaN, +0 for the others without scaling them (p 2^n would
 * round to +0 there: core/exp.h): a scaling that underflows takes a microcode assist on Intel
 * cores (Xeon, 6 heads d48, one key: the exp of the tile's 15 dead keys was 59% of the call) */
#define SA_HAVE_VLDEXP_LIVE 1
static inline sa_vec sa_vldexp_live(sa_vec p, sa_vec n, sa_vec y, float lim) {
  return _mm512_maskz_scalef_ps(_mm512_cmp_ps_mask(y, _mm512_set1_ps(lim), _CMP_NLE_UQ), p, n);
}
#include "../core/exp.h"
#define SA_SCORES_LOG2 1 /* P = 2^(s - m): core/exp.h's sa_vexp2_lim */
static inline sa_vec sa_vexp(sa_vec v) { return sa_vexp_inline(v); }
static inline sa_vec sa_vexp_sleef(sa_vec v) { return Sleef_expf16_u10avx512f(v); } /* the yardstick */
static inline sa_vec sa_vexp2_sleef(sa_vec v) { return Sleef_exp2f16_u10avx512f(v); }
static inline sa_vec sa_vtanh(sa_vec v) { return Sleef_tanhf16_u10avx512f(v); }
/* The dtype table's converting loaders (core/dtype.h): elements idx .. idx + 15 of the row at
 * base as f32, n of them valid (masked loads: zeros after, nothing past the n-th is read). f16
 * by F16C (vcvtph2ps), bf16 by a 16-bit shift: exact. */
static inline __mmask16 sa_mask_n(int64_t n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u); }
static inline sa_vec sa_vload_f32(const char *base, int64_t idx, int64_t n) {
  const float *p = (const float *)base + idx;
  return n >= 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(sa_mask_n(n), p);
}
static inline __m256i sa_load_u16x16(const char *p, int64_t n) {
  return n >= 16 ? _mm256_loadu_si256((const __m256i *)p) : _mm256_maskz_loadu_epi16(sa_mask_n(n), p);
}
static inline sa_vec sa_vload_f16(const char *base, int64_t idx, int64_t n) {
  return _mm512_cvtph_ps(sa_load_u16x16(base + 2 * idx, n));
}
static inline sa_vec sa_vload_bf16(const char *base, int64_t idx, int64_t n) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(sa_load_u16x16(base + 2 * idx, n)), 16));
}
/* The quantized formats (exact: core/convert.h). A vector never straddles a GGUF block (idx is a
 * multiple of 16, rows of whole blocks of 32): its 16 int8 (q8_0) or nibbles (q4_0: the low ones
 * for the block's first half, the high ones for its second) widened to f32 and times the block's
 * f16 d (an 8-byte vcvtph2ps from the block's start: sa_block_d_isa); q4_0's q - 8 exact in f32
 * (sa_vload_q4_0_d), then times d (exact, and d (q - 8) as the codec: an inf d gives NaN at q = 8
 * only). fp8 through F16C: E5M2 is an f16's upper byte; E4M3's bits placed in an f16 (sign to bit 15, the rest
 * one lower) are its value times 2^-8, normal and subnormal alike, so the scale's multiplication
 * takes sc 2^8 instead (an exact power-of-two step: the same real product, the same rounding; the
 * problem's scales are below 2^64) and leaves S.1111.111's lanes NaN in the same operation (no lax
 * loader here: core/flash_driver.inc, SA_VLOAD_LAX, says why). */
static inline __m128i sa_load_u8x16(const char *p, int64_t n) {
  return n >= 16 ? _mm_loadu_si128((const __m128i *)p) : _mm_maskz_loadu_epi8(sa_mask_n(n), p);
}
/* The same with the block's d given (SA_VLOAD_D: direct mode's GQA tiles convert each block's d
 * once, core/flash_driver.inc); the loaders above through them */
#define SA_VLOAD_D 1
/* (vcvtph2ps from memory: GCC splits _mm_cvtph_ps(_mm_loadl_epi64(p)) into a load and the register
 * form, one shuffle-port operation more on Intel cores) */
static inline float sa_block_d_isa(const char *blk) {
  __m128 d;
  __asm__("vcvtph2ps %1, %0" : "=x"(d) : "m"(*(const struct { char b[8]; } *)blk));
  return _mm_cvtss_f32(d);
}
/* a block format's values before the multiplication by d: q (q8_0), q - 8 (q4_0), exact in f32 */
static inline sa_vec sa_vload_q8_0_raw(const char *base, int64_t idx, int64_t n) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(sa_load_u8x16(base + (idx >> 5) * 34 + 2 + (idx & 31), n)));
}
static inline sa_vec sa_vload_q8_0_d(const char *base, int64_t idx, int64_t n, float d) {
  return _mm512_mul_ps(sa_vload_q8_0_raw(base, idx, n), _mm512_set1_ps(d));
}
/* q4_0 in four operations (widening, the nibble, q - 8 and conversion took four before the
 * multiplication): vpshufb puts byte e of the block's 16 (broadcast to every 128-bit lane by the
 * load: no ALU operation) in byte 1 of f32 lane e, and one and-not with a constant keeps the
 * complemented nibble under an exponent, making the f32 B + 15 - nibble exactly: the low nibble in
 * bits 8-11 under 2^15, the high one in bits 12-15 under 2^11 (one constant per half, where a mask and
 * an exponent took two: fewer registers for the GQA tiles). B + 7 minus it gives q - 8 exactly, then
 * times d: the same values and the same operations as the integer route's last two (the same bits,
 * zeros' signs and inf d's NaN at q = 8 included). */
static inline sa_vec sa_vload_q4_0_raw(const char *base, int64_t idx, int64_t n) {
#define SA_B1_(e) ((int)(0x80800080u | ((unsigned)(e) << 8))) /* byte e to byte 1, zeros elsewhere */
  const __m512i ix = _mm512_set_epi32(SA_B1_(15), SA_B1_(14), SA_B1_(13), SA_B1_(12), SA_B1_(11), SA_B1_(10), SA_B1_(9),
                                      SA_B1_(8), SA_B1_(7), SA_B1_(6), SA_B1_(5), SA_B1_(4), SA_B1_(3), SA_B1_(2),
                                      SA_B1_(1), SA_B1_(0));
#undef SA_B1_
  const int hi = (idx & 16) != 0;
  const __m512i b = _mm512_shuffle_epi8(_mm512_broadcast_i32x4(sa_load_u8x16(base + (idx >> 5) * 18 + 2, 16)), ix);
  const __m512 f = _mm512_castsi512_ps(_mm512_andnot_si512(b, _mm512_set1_epi32(hi ? 0x4500f000 : 0x47000f00)));
  const sa_vec v = _mm512_sub_ps(_mm512_set1_ps(hi ? 2055.0f : 32775.0f), f);
  return n >= 16 ? v : _mm512_maskz_mov_ps(sa_mask_n(n), v);
}
static inline sa_vec sa_vload_q4_0_d(const char *base, int64_t idx, int64_t n, float d) {
  return _mm512_mul_ps(sa_vload_q4_0_raw(base, idx, n), _mm512_set1_ps(d));
}
/* SA_VLOAD_DP (core/flash_driver.inc), for q4_0 only: q8_0's tiles, with two q vectors per row
 * (SA_DIRECT_CH_DT), ran 0.94x with it, and 0.96-0.99x with one (Zen 5, 32x8 heads d128 seq_kv 512-32768,
 * 1 thread, scripts/bench-pair). The d's of a q4_0 row's first nb <= 8 blocks as f32: one or two masked
 * loads (no byte read but the d's, words 0, 9, 18, 27, ...), one word permutation and one conversion; and the
 * multiplication of the raw loaders above by a d read from memory (a broadcast operand: no register
 * holds d, no shuffle broadcasts it) */
#define SA_VLOAD_DP 1
#define SA_BLOCK_DS_MAX 8
#define SA_VLOAD_DP_DT(dt) ((dt) == SIMDATTN_Q4_0)
static inline void sa_block_ds_isa(const char *row, int64_t bb, int nb, float *out) {
  (void)bb; /* 18: q4_0 (SA_VLOAD_DP_DT) */
  const __m512i lo = _mm512_maskz_loadu_epi16((__mmask32)(nb >= 4 ? 0x08040201u : 0x08040201u & ((1u << (9 * nb)) - 1)), row);
  if (nb <= 4) {
    const __m512i x = _mm512_permutexvar_epi16(_mm512_castsi128_si512(_mm_setr_epi16(0, 9, 18, 27, 0, 0, 0, 0)), lo);
    _mm_store_ps(out, _mm_cvtph_ps(_mm512_castsi512_si128(x)));
  } else { /* blocks 4-7: words 36, 45, 54, 63, 4, 13, 22 and 31 of the next 64 bytes */
    const __m512i hi = _mm512_maskz_loadu_epi16((__mmask32)(nb >= 8 ? 0x80402010u : 0x80402010u & ((1u << (9 * nb - 32)) - 1)), row + 64);
    const __m512i x =
        _mm512_permutex2var_epi16(lo, _mm512_castsi128_si512(_mm_setr_epi16(0, 9, 18, 27, 36, 45, 54, 63)), hi);
    _mm256_store_ps(out, _mm256_cvtph_ps(_mm512_castsi512_si128(x)));
  }
}
static inline sa_vec sa_vmul_mem_bcast(sa_vec x, const float *dp) {
  __m512 v;
  __asm__("vmulps %1%{1to16%}, %2, %0" : "=v"(v) : "m"(*dp), "v"(x));
  return v;
}
static inline sa_vec sa_vload_q8_0(const char *base, int64_t idx, int64_t n) {
  return sa_vload_q8_0_d(base, idx, n, sa_block_d_isa(base + (idx >> 5) * 34));
}
static inline sa_vec sa_vload_q4_0(const char *base, int64_t idx, int64_t n) {
  return sa_vload_q4_0_d(base, idx, n, sa_block_d_isa(base + (idx >> 5) * 18));
}
/* E5M2: each byte the upper byte of a halfword, the lower zero: the 16 bytes broadcast to both 128-bit
 * lanes by the load (no ALU operation), then one byte shuffle (bytes 0-7 into the low lane's
 * halfwords, 8-15 into the high lane's) where a widening and a shift took two */
static inline sa_vec sa_vload_fp8e5m2(const char *base, int64_t idx, int64_t n, float sc) {
  const __m256i ix = _mm256_set_epi8(15, -128, 14, -128, 13, -128, 12, -128, 11, -128, 10, -128, 9, -128, 8, -128, 7,
                                     -128, 6, -128, 5, -128, 4, -128, 3, -128, 2, -128, 1, -128, 0, -128);
  const __m256i h = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(sa_load_u8x16(base + idx, n)), ix);
  return _mm512_mul_ps(_mm512_cvtph_ps(h), _mm512_set1_ps(sc));
}
/* E4M3: x sign-extended to 16 bits and shifted left 7 (y) holds the sign in bit 15, a copy of it in
 * bit 14 and EEEE.MMM in bits 13-7, the f16 placement of x 2^-8 once bit 14 is 0, and of a NaN (f16
 * exponent 11111, mantissa 1110000000) when bit 14 is 1 on the NaN code S.1111.111. Adding 1 at bit 7
 * carries through EEEE.MMM into bit 14 exactly on that code: bit 14 of y + 0x80 differs from y's on
 * the NaN code and equals it on every other, so y ^ ((y + 0x80) & 0x4000) is the f16 of x 2^-8 or of
 * a NaN: two operations for the NaN, where a mask, a compare and a masked multiply took three */
static inline sa_vec sa_vload_fp8e4m3(const char *base, int64_t idx, int64_t n, float sc) {
  const __m256i y = _mm256_slli_epi16(_mm256_cvtepi8_epi16(sa_load_u8x16(base + idx, n)), 7);
  const __m256i t = _mm256_add_epi16(y, _mm256_set1_epi16(0x80));
  const __m256i h = _mm256_ternarylogic_epi32(y, t, _mm256_set1_epi16(0x4000), 0x78); /* y ^ (t & 0x4000) */
  return _mm512_mul_ps(_mm512_cvtph_ps(h), _mm512_set1_ps(sc * 256.0f));
}
/* always_inline: GCC 12 finds a prefetch-only function "looping const" and may drop its calls
 * (measured: no prefetch left in the objects, decode at half speed) */
static inline __attribute__((always_inline)) void sa_prefetch(const void *p) {
#ifndef SA_PREFETCH_HINT
#define SA_PREFETCH_HINT _MM_HINT_T0
#endif
  _mm_prefetch((const char *)p, SA_PREFETCH_HINT); /* into L1 and L2: T0 beat T1 by 13-17% out of L3 (A/B) */
}
static inline __attribute__((always_inline)) void sa_prefetch_l2(const void *p) {
  _mm_prefetch((const char *)p, _MM_HINT_T1);
}
/* lane k = the sum of v[k]'s 16 lanes, in a fixed tree order (30 shuffles, 15 adds) */
static inline sa_vec sa_vhsum(const sa_vec v[16]) {
  __m512 u[8], w[4];
  for (int i = 0; i < 8; i++)
    u[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
  for (int i = 0; i < 4; i++)
    w[i] =
        _mm512_add_ps(_mm512_shuffle_ps(u[2 * i], u[2 * i + 1], 0x44), _mm512_shuffle_ps(u[2 * i], u[2 * i + 1], 0xee));
  const __m512 x0 = _mm512_add_ps(_mm512_shuffle_f32x4(w[0], w[1], 0x88), _mm512_shuffle_f32x4(w[0], w[1], 0xdd));
  const __m512 x1 = _mm512_add_ps(_mm512_shuffle_f32x4(w[2], w[3], 0x88), _mm512_shuffle_f32x4(w[2], w[3], 0xdd));
  return _mm512_add_ps(_mm512_shuffle_f32x4(x0, x1, 0x88), _mm512_shuffle_f32x4(x0, x1, 0xdd));
}
/* sa_vhsum's lane k for one vector (v as v[k]): the same tree, ((q0 + q1) + (q2 + q3)) over the
 * 128-bit quarters' sums qL = (e0 + e2) + (e1 + e3); 4 shuffles where sa_vhsum takes 30 for 16 */
static inline float sa_vhsum1(sa_vec v) {
  const __m512 a = _mm512_add_ps(v, _mm512_permute_ps(v, 0x4e));
  const __m512 b = _mm512_add_ps(a, _mm512_permute_ps(a, 0xb1));
  const __m512 c = _mm512_add_ps(b, _mm512_shuffle_f32x4(b, b, 0xb1));
  return _mm512_cvtss_f32(_mm512_add_ps(c, _mm512_shuffle_f32x4(c, c, 0x4e)));
}
/* In-register transpose: r[i] holds row i; afterwards r[k] holds column k. */
static inline void sa_vtranspose(sa_vec r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int g = 0; g < 16; g += 4) { /* per 128-bit lane L: u[g + c] = column 4L + c of rows g..g+3 */
    u[g + 0] = _mm512_shuffle_ps(t[g], t[g + 2], 0x44);
    u[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], 0xee);
    u[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0x44);
    u[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0xee);
  }
  for (int c = 0; c < 4; c++) {
    const __m512 v = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), w = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);
    const __m512 v2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
    const __m512 w2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
    r[c] = _mm512_shuffle_f32x4(v, v2, 0x88);
    r[4 + c] = _mm512_shuffle_f32x4(w, w2, 0x88);
    r[8 + c] = _mm512_shuffle_f32x4(v, v2, 0xdd);
    r[12 + c] = _mm512_shuffle_f32x4(w, w2, 0xdd);
  }
}

#define SA_DIRECT_CH 2 /* q vectors per row held while the keys stream by */
/* but one on a q4_0 K: its loader's six constants and the 16 accumulators of a GQA group's tile left
 * no room for 8 q vectors (GCC spilled them, every FMA read one back from the stack): 32x8 heads, d128,
 * seq_kv 32768 decode 1.10-1.12x on Zen 5 (q8_0's lighter loader was 0.92x so at 1 thread) */
#define SA_DIRECT_CH_DT(dt) ((dt) == SIMDATTN_Q4_0 ? 1 : SA_DIRECT_CH)
static inline float sa_vreduce_max(sa_vec v) { return _mm512_reduce_max_ps(v); }
static inline float sa_vreduce_add(sa_vec v) { return _mm512_reduce_add_ps(v); }

#endif
