/* avx512/avx512_bf16_flash_q6k64.c: variant avx512_bf16_flash_q6k64 (q, k, v all bf16).
 * Algorithm: core/flash_driver.inc, with S = Q K^T from AVX512_BF16 dot products (vdpbf16ps: two
 * bf16 products per lane, exact in f32, accumulated in f32), P.V in f32 on V converted once per
 * block. Tile: 6 rows x 64 keys (24 zmm accumulators), each instruction covering two head dims, so
 * S takes half the instructions of the f32 variant. vdpbf16ps treats subnormal inputs as zero and
 * flushes subnormal results whatever MXCSR says, so a block holding a subnormal or tiny K value
 * (|k| < 2^-56), or a row group with such a q, takes the f32 path instead (products of values
 * >= 2^-56 are >= 2^-112, exact multiples of 2^-126, so no partial sum can be subnormal).
 * ISA: AVX-512F/BW/DQ/VL + AVX512_BF16 + FMA; K pairs read with masked loads (no over-read). */
#include <math.h>
#include <string.h>

#include "avx512.h"

#ifndef __AVX512BF16__
#error "avx512_bf16_flash_q6k64.c must be built with -mavx512bf16 (its row in src/variants.inc says so)"
#endif

#define SA_MR 6
#define SA_NR 4
#define SA_BLOCK_Q 48
#define SA_BLOCK_KV 512
#define SA_CHUNK_KV 512
/* After each Q row: [flag, 15 pad][ceil(d/2) bf16 pairs]; after a block's f32 K^T panels: the
 * same flag, then panels of pairs: panel p = keys [64p, 64p+64), rows of 64 pairs (32-bit). */
#define SA_QX_FLOATS(d) (16 + ((d) + 1) / 2)
#define SA_KTX_FLOATS(d, keys) (16 + ((d) + 1) / 2 * (keys))
static void sa_bf16_q_prepare(const float *q, int64_t d, float *extra);
#define SA_Q_ROW_PREPARE(q, d, extra) sa_bf16_q_prepare(q, d, extra)
#define SA_KERNEL_DTYPES SA_DT_BF16 /* its only dtype: no other format's tiles are built (core/dtype.h) */
#define SA_HAVE_PACK_K 1
#define SA_HAVE_S_TILE 1
#include "../core/flash_driver.inc"

SA_FLASH_KERNEL(avx512_bf16_flash_q6k64);

#define SA_TINY_EXP 71 /* bf16 exponent field of 2^-56: below it (nonzero) is "tiny" */

/* q[0..d) holds exact bf16 values as f32: store their pairs and whether one is tiny. */
static void sa_bf16_q_prepare(const float *q, int64_t d, float *extra) {
  uint32_t *flag = (uint32_t *)extra, *pairs = (uint32_t *)(extra + 16), tiny = 0;
  for (int64_t x = 0; x < d; x += 2) {
    uint32_t lo, hi = 0;
    memcpy(&lo, &q[x], 4);
    if (x + 1 < d) memcpy(&hi, &q[x + 1], 4);
    const float a = fabsf(q[x]), b = x + 1 < d ? fabsf(q[x + 1]) : 0.0f;
    tiny |= (a != 0.0f && a < 0x1p-56f) || (b != 0.0f && b < 0x1p-56f);
    pairs[x / 2] = (lo >> 16) | (hi & 0xffff0000u);
  }
  *flag = tiny;
}

/* Both layouts of a bf16 K block: the f32 panels (the fallback path) and the pair panels, 16 keys
 * x 16 pairs at a time (32-bit units transposed in registers), noting any tiny or subnormal k. */
static void sa_pack_k(const sa_job *j, int64_t b, int64_t hk, int64_t j0, int64_t n, int64_t ncols, float *kt) {
  sa_pack_k_f32(j, b, hk, j0, n, ncols, kt);
  const int64_t d = j->d, d2 = (d + 1) / 2;
  uint32_t *flag = (uint32_t *)(kt + d * SA_BLOCK_KV), *pairs = flag + 16;
  const __m512i expo = _mm512_set1_epi16(0x7f80), mag = _mm512_set1_epi16(0x7fff);
  const __m512i tiny_exp = _mm512_set1_epi16(SA_TINY_EXP << 7);
  __mmask32 tiny = 0;
  for (int64_t k0 = 0; k0 < ncols; k0 += 16) {
    const uint16_t *rows[16];
    for (int i = 0; i < 16; i++) rows[i] = k0 + i < n ? (const uint16_t *)sa_k_row(j, b, hk, j0 + k0 + i) : NULL;
    for (int64_t p0 = 0; p0 < d2; p0 += 16) { /* pairs p0 .. p0 + 16: bf16 elements 2 p0 .. 2 p0 + 32 */
      const int64_t left = d - 2 * p0;
      const __mmask32 m = left >= 32 ? 0xffffffffu : (__mmask32)((1ull << left) - 1u);
      __m512 r[16];
      for (int i = 0; i < 16; i++) {
        const __m512i h = rows[i] ? _mm512_maskz_loadu_epi16(m, rows[i] + 2 * p0) : _mm512_setzero_si512();
        tiny |= _mm512_cmplt_epu16_mask(_mm512_and_si512(h, expo), tiny_exp) &
                _mm512_cmpneq_epu16_mask(_mm512_and_si512(h, mag), _mm512_setzero_si512());
        r[i] = _mm512_castsi512_ps(h);
      }
      sa_vtranspose(r); /* r[c] = pair p0 + c of the 16 keys */
      const int64_t np = d2 - p0 < 16 ? d2 - p0 : 16;
      for (int64_t c = 0; c < np; c++)
        _mm512_store_ps((float *)(pairs + (k0 / SA_PW) * d2 * SA_PW + (p0 + c) * SA_PW + k0 % SA_PW), r[c]);
    }
  }
  *flag = tiny != 0;
}

/* register tiles: one unrolled loop nest per line */
// clang-format off
/* s[r][0 .. nv*16) = sum over pairs of q-pair . k-pair, 2 head dims per vdpbf16ps */
SA_ALWAYS_INLINE void sa_s_micro_bf16(const uint32_t *qp, int64_t qs, const uint32_t *kp, int64_t d2, float *s,
                                      const int nv) {
  __m512 acc[SA_MR][SA_NR];
  SA_UNROLL for (int r = 0; r < SA_MR; r++) SA_UNROLL for (int c = 0; c < nv; c++) acc[r][c] = _mm512_setzero_ps();
  for (int64_t x2 = 0; x2 < d2; x2++) {
    __m512bh kv[SA_NR];
    SA_UNROLL for (int c = 0; c < nv; c++) kv[c] = (__m512bh)_mm512_load_si512(kp + x2 * SA_PW + c * 16);
    SA_UNROLL for (int r = 0; r < SA_MR; r++) {
      const __m512bh qb = (__m512bh)_mm512_set1_epi32((int)qp[r * qs + x2]);
      SA_UNROLL for (int c = 0; c < nv; c++) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], qb, kv[c]);
    }
  }
  SA_UNROLL for (int r = 0; r < SA_MR; r++)
    SA_UNROLL for (int c = 0; c < nv; c++) _mm512_store_ps(s + r * SA_BLOCK_KV + c * 16, acc[r][c]);
}

// clang-format on
/* S for a 6-row group: bf16 dot products, or the f32 path when the block or a row is tiny */
static void sa_s_tile(const float *q, int64_t qs, const float *kt, int64_t d, int64_t c0, int64_t c1, float *s) {
  const uint32_t *flag = (const uint32_t *)(kt + d * SA_BLOCK_KV), *pairs = flag + 16;
  const int64_t qf = sa_round_up(d, 16), d2 = (d + 1) / 2;
  int tiny = (int)*flag;
  for (int r = 0; r < SA_MR; r++) tiny |= (int)((const uint32_t *)(q + r * qs + qf))[0];
  if (tiny) {
    sa_s_tile_f32(q, qs, kt, d, c0, c1, s);
    return;
  }
  const uint32_t *qp = (const uint32_t *)(q + qf + 16);
  int64_t x = c0;
  for (; x + SA_PW <= c1; x += SA_PW) sa_s_micro_bf16(qp, qs, pairs + (x / SA_PW) * d2 * SA_PW, d2, s + x, SA_NR);
  for (; x < c1; x += 16) sa_s_micro_bf16(qp, qs, pairs + (x / SA_PW) * d2 * SA_PW + x % SA_PW, d2, s + x, 1);
}
