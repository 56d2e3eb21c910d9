/* avx2/avx2_pack.h: the AVX2 packers of core/flash_driver.inc — K transposed into the driver's
 * panels 8x8 in registers, V copied with a non-finite check — reading the caller's rows with
 * masked loads (vmaskmovps), so a tail never reads past the last element the strides name.
 * Include after avx2.h and the variant's tile macros, before core/flash_driver.inc. */
#ifndef SA_AVX2_PACK_H
#define SA_AVX2_PACK_H

#include "../core/convert.h"
#include "../core/kernel.h"

/* Elements [x, x + 8) of an f32 row, lanes past `valid` zero and never read. */
static inline __m256 sa_avx2_load_row(const char *row, int64_t x, int64_t valid) {
  const float *p = (const float *)row + x;
  if (valid >= 8) return _mm256_loadu_ps(p);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)valid), lane));
}

/* In-register transpose: r[i] holds row i; afterwards r[k] holds column k. */
static inline void sa_avx2_transpose8(__m256 r[8]) {
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

static void sa_pack_k_scalar(const sa_job *j, int64_t b, int64_t hk, int64_t j0, int64_t n, int64_t ncols,
                             float *kt, float *tmp);
static int sa_pack_v_scalar(const sa_job *j, int64_t b, int64_t hk, int64_t j0, int64_t n, int64_t ncols,
                            int64_t vs, float *v);

/* K^T[x][key] = K[j0 + key][x] into the driver's panels (SA_KT_AT): 8 keys x 8 dims at a time. */
static void sa_pack_k(const sa_job *j, int64_t b, int64_t hk, int64_t j0, int64_t n, int64_t ncols, float *kt,
                      float *tmp) {
  if (j->kv_dtype != SIMDATTN_F32) {
    sa_pack_k_scalar(j, b, hk, j0, n, ncols, kt, tmp);
    return;
  }
  const int64_t d = j->d;
  for (int64_t k0 = 0; k0 < ncols; k0 += 8) {
    const char *rows[8];
    for (int i = 0; i < 8; i++) rows[i] = k0 + i < n ? sa_k_row(j, b, hk, j0 + k0 + i) : NULL;
    for (int64_t x0 = 0; x0 < d; x0 += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; i++) r[i] = rows[i] ? sa_avx2_load_row(rows[i], x0, d - x0) : _mm256_setzero_ps();
      sa_avx2_transpose8(r);
      const int64_t nx = d - x0 < 8 ? d - x0 : 8;
      for (int64_t c = 0; c < nx; c++) _mm256_store_ps(SA_KT_AT(kt, d, x0 + c, k0), r[c]);
    }
  }
}
#define SA_HAVE_PACK_K 1

/* V[key * vs + x] = V[j0 + key][x], zero padded; reports a non-finite value (x - x is NaN). */
static int sa_pack_v(const sa_job *j, int64_t b, int64_t hk, int64_t j0, int64_t n, int64_t ncols, int64_t vs,
                     float *v) {
  if (j->kv_dtype != SIMDATTN_F32) return sa_pack_v_scalar(j, b, hk, j0, n, ncols, vs, v);
  const int64_t dv = j->dv;
  __m256 bad = _mm256_setzero_ps();
  for (int64_t key = 0; key < ncols; key++) {
    float *dst = v + key * vs;
    if (key < n) {
      const char *row = sa_v_row(j, b, hk, j0 + key);
      for (int64_t x = 0; x < vs; x += 8) {
        const __m256 e = x < dv ? sa_avx2_load_row(row, x, dv - x) : _mm256_setzero_ps();
        bad = _mm256_or_ps(bad, _mm256_sub_ps(e, e)); /* 0, or NaN for inf and NaN */
        _mm256_store_ps(dst + x, e);
      }
    } else {
      for (int64_t x = 0; x < vs; x += 8) _mm256_store_ps(dst + x, _mm256_setzero_ps());
    }
  }
  return _mm256_movemask_ps(_mm256_cmp_ps(bad, bad, _CMP_UNORD_Q)) != 0;
}
#define SA_HAVE_PACK_V 1

#endif
