/* avx512/avx512_pack.h: the AVX-512 packers of core/flash_driver.inc — K transposed into the
 * driver's panels 16x16 in registers, V copied with a non-finite check — reading the caller's
 * rows with masked loads, so a tail never reads past the last element the strides name.
 * Include after avx512.h and the variant's tile macros, before core/flash_driver.inc. */
#ifndef SA_AVX512_PACK_H
#define SA_AVX512_PACK_H

#include "../core/convert.h"
#include "../core/kernel.h"

/* The first n (0..16) lanes. */
static inline __mmask16 sa_avx512_head(int64_t n) {
  return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u);
}

/* In-register transpose: r[i] holds row i; afterwards r[k] holds column k. */
static inline void sa_avx512_transpose16(__m512 r[16]) {
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

/* Elements [x, x + 16) of an f32 row, lanes past `valid` zero and never read. */
static inline __m512 sa_avx512_load_row(const char *row, int64_t x, int64_t valid) {
  return _mm512_maskz_loadu_ps(sa_avx512_head(valid), (const float *)row + x);
}

static void sa_pack_k_scalar(const sa_job *j, int64_t b, int64_t hk, int64_t j0, int64_t n, int64_t ncols,
                             float *kt, float *tmp);
static int sa_pack_v_scalar(const sa_job *j, int64_t b, int64_t hk, int64_t j0, int64_t n, int64_t ncols,
                            int64_t vs, float *v);

/* K^T[x][key] = K[j0 + key][x] into the driver's panels (SA_KT_AT, panel width a multiple of
 * 16): 16 keys x 16 dims at a time, transposed in registers. */
static void sa_pack_k(const sa_job *j, int64_t b, int64_t hk, int64_t j0, int64_t n, int64_t ncols, float *kt,
                      float *tmp) {
  if (j->kv_dtype != SIMDATTN_F32) {
    sa_pack_k_scalar(j, b, hk, j0, n, ncols, kt, tmp);
    return;
  }
  const int64_t d = j->d;
  for (int64_t k0 = 0; k0 < ncols; k0 += 16) {
    const char *rows[16];
    for (int i = 0; i < 16; i++) rows[i] = k0 + i < n ? sa_k_row(j, b, hk, j0 + k0 + i) : NULL;
    /* the 16 rows are read 64 bytes at a time, interleaved, which hardware prefetchers do not
     * follow: fetch the next group's rows now (decode reads K straight from DRAM) */
    for (int64_t i = k0 + 16; i < k0 + 32 && i < n; i++) {
      const char *nr = sa_k_row(j, b, hk, j0 + i);
      for (int64_t off = 0; off < d * 4; off += 64) _mm_prefetch(nr + off, _MM_HINT_T0);
    }
    for (int64_t x0 = 0; x0 < d; x0 += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; i++) r[i] = rows[i] ? sa_avx512_load_row(rows[i], x0, d - x0) : _mm512_setzero_ps();
      sa_avx512_transpose16(r);
      const int64_t nx = d - x0 < 16 ? d - x0 : 16;
      for (int64_t c = 0; c < nx; c++) _mm512_store_ps(SA_KT_AT(kt, d, x0 + c, k0), r[c]);
    }
  }
}
#define SA_HAVE_PACK_K 1

/* V[key * vs + x] = V[j0 + key][x], zero padded; reports a non-finite value (fpclass). */
static int sa_pack_v(const sa_job *j, int64_t b, int64_t hk, int64_t j0, int64_t n, int64_t ncols, int64_t vs,
                     float *v) {
  if (j->kv_dtype != SIMDATTN_F32) return sa_pack_v_scalar(j, b, hk, j0, n, ncols, vs, v);
  const int64_t dv = j->dv;
  __mmask16 bad = 0;
  for (int64_t key = 0; key < ncols; key++) {
    float *dst = v + key * vs;
    if (key < n) {
      const char *row = sa_v_row(j, b, hk, j0 + key);
      if (key + 8 < n) { /* 8 rows ahead */
        const char *nr = sa_v_row(j, b, hk, j0 + key + 8);
        for (int64_t off = 0; off < dv * 4; off += 64) _mm_prefetch(nr + off, _MM_HINT_T0);
      }
      for (int64_t x = 0; x < vs; x += 16) {
        const __m512 e = x < dv ? sa_avx512_load_row(row, x, dv - x) : _mm512_setzero_ps();
        bad |= _mm512_fpclass_ps_mask(e, 0x99); /* QNaN | +inf | -inf | SNaN */
        _mm512_store_ps(dst + x, e);
      }
    } else {
      for (int64_t x = 0; x < vs; x += 16) _mm512_store_ps(dst + x, _mm512_setzero_ps());
    }
  }
  return bad != 0;
}
#define SA_HAVE_PACK_V 1

#endif
