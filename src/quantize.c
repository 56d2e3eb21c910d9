/* src/quantize.c: simdattn_quantize — f32, f16 or bf16 elements into any format of the dtype
 * table, through its codecs (core/convert.h: ggml's reference rules for q8_0 and q4_0, round to
 * nearest even with saturation for fp8). Every check comes first: nothing is written unless the
 * whole call is valid. */
#include <inttypes.h>
#include <math.h>

#include "internal.h"

#define BAD(...) sa_fail(SIMDATTN_ERR_INVALID, __VA_ARGS__)

/* Elements [0, n) of src as f32, divided by the scale when it is not 1, encoded into dst, a chunk
 * of whole blocks at a time (the caller checked everything). */
void sa_quantize_run(void *dst, simdattn_dtype dt, const void *src, simdattn_dtype st, int64_t dst0, int64_t n,
                     float scale) {
  enum { CHUNK = 256 }; /* a multiple of every block */
  float tmp[CHUNK];
  for (int64_t x0 = 0; x0 < n; x0 += CHUNK) {
    const int64_t m = n - x0 < CHUNK ? n - x0 : CHUNK;
    for (int64_t x = 0; x < m; x++) tmp[x] = sa_load_f32(src, st, x0 + x);
    if (scale != 1.0f)
      for (int64_t x = 0; x < m; x++) tmp[x] = tmp[x] / scale;
    sa_store_f32(dst, dt, dst0 + x0, tmp, m);
  }
}

/* The checks of a quantization of n elements of src into dtype dt (scale already resolved: 1 for a
 * format without one): non-finite input to a block format names the element. */
simdattn_status sa_quantize_check(const char *what, simdattn_dtype dt, const void *src, simdattn_dtype st, int64_t n) {
  if (sa_dtype_block(dt) > 1)
    for (int64_t x = 0; x < n; x++)
      if (!isfinite(sa_load_f32(src, st, x)))
        return BAD("%s[%" PRId64 "] is %g: a %s block's scale needs finite values", what, x,
                   (double)sa_load_f32(src, st, x), sa_dtype_name(dt));
  return SIMDATTN_OK;
}

static simdattn_status quantize(void *dst, simdattn_dtype dt, const void *src, simdattn_dtype st, int64_t n,
                                float scale) {
  if (!sa_dtype_valid(dt)) return BAD("dst_dtype must be a simdattn_dtype, got %d", (int)dt);
  if (!sa_dtype_valid(st) || !sa_dtype_float(st))
    return BAD("src_dtype must be SIMDATTN_F32, SIMDATTN_F16 or SIMDATTN_BF16, got %d", (int)st);
  if (n < 0) return BAD("n must be >= 0, got %" PRId64, n);
  if (n % sa_dtype_block(dt) != 0)
    return BAD("n (%" PRId64 ") must be a multiple of %" PRId64 " for dst_dtype %s", n, sa_dtype_block(dt),
               sa_dtype_name(dt));
  if (!isfinite(scale)) return BAD("scale must be finite, got %g", (double)scale);
  if (sa_dtype_scaled(dt)) {
    if (scale == 0.0f) scale = 1.0f;
  } else if (scale != 0.0f && scale != 1.0f) {
    return BAD("scale must be 0 or 1 for dst_dtype %s (only the fp8 formats take one), got %g", sa_dtype_name(dt),
               (double)scale);
  } else {
    scale = 1.0f;
  }
  if (n == 0) return SIMDATTN_OK;
  if (!dst) return BAD("dst must not be NULL (n %" PRId64 ")", n);
  if (!src) return BAD("src must not be NULL (n %" PRId64 ")", n);
  const uintptr_t d0 = (uintptr_t)dst, s0 = (uintptr_t)src;
  const uintptr_t d1 = d0 + (uintptr_t)sa_dtype_bytes(dt, n), s1 = s0 + (uintptr_t)sa_dtype_bytes(st, n);
  if (d0 < s1 && s0 < d1) return BAD("dst overlaps src");
  simdattn_status status = sa_quantize_check("src", dt, src, st, n);
  if (status != SIMDATTN_OK) return status;
  sa_quantize_run(dst, dt, src, st, 0, n, scale);
  return SIMDATTN_OK;
}

simdattn_status simdattn_quantize(void *dst, simdattn_dtype dst_dtype, const void *src, simdattn_dtype src_dtype,
                                  int64_t n, float scale) {
  const simdattn_status st = quantize(dst, dst_dtype, src, src_dtype, n, scale);
  if (st == SIMDATTN_OK) sa_clear_error();
  return st;
}

int64_t simdattn_dtype_bytes(simdattn_dtype t, int64_t n) {
  if (!sa_dtype_valid(t)) return (void)BAD("t must be a simdattn_dtype, got %d", (int)t), -1;
  if (n < 0) return (void)BAD("n must be >= 0, got %" PRId64, n), -1;
  if (n % sa_dtype_block(t) != 0)
    return (void)BAD("n (%" PRId64 ") must be a multiple of %" PRId64 " for %s", n, sa_dtype_block(t), sa_dtype_name(t)),
           -1;
  if (n / sa_dtype_block(t) > INT64_MAX / sa_dtype_block_bytes(t))
    return (void)BAD("n (%" PRId64 ") elements of %s exceed INT64_MAX bytes", n, sa_dtype_name(t)), -1;
  sa_clear_error();
  return sa_dtype_bytes(t, n);
}
