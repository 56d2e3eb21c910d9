/* src/append.c: simdattn_kv_append — new K/V rows into a paged cache at given slots, converted
 * to the cache's dtype through the dtype table's codecs (core/convert.h: round to nearest even,
 * a NaN stays NaN, beyond the format's range inf; q8_0 and q4_0 by ggml's reference rules, fp8
 * divided by its scale and saturated: simdattn_quantize). Every check comes first: nothing is
 * written unless the whole call is valid. */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define BAD(...) sa_fail(SIMDATTN_ERR_INVALID, __VA_ARGS__)

typedef struct {
  uintptr_t lo, hi;
} span;

/* The byte range of ext[0] x ext[1] x ext[2] rows of `row` elements (strides in elements, each >= 0),
 * or an error naming the tensor; rows of a cache must not overlap (then `disjoint`). */
static simdattn_status extent(const char *name, const void *data, simdattn_dtype dt, const int64_t ext[3],
                              const int64_t stride[3], const char *const sname[3], int64_t row, int disjoint, span *s) {
  s->lo = s->hi = 0;
  if (ext[0] == 0 || ext[1] == 0 || ext[2] == 0) return SIMDATTN_OK;
  if (!data) return BAD("%s must not be NULL", name);
  const int64_t blk = sa_dtype_block(dt);
  int64_t span_el = row;
  int idx[3] = {0, 1, 2};
  for (int a = 0; a < 3; a++)
    for (int b = a + 1; b < 3; b++)
      if (stride[idx[b]] < stride[idx[a]]) {
        const int t = idx[a];
        idx[a] = idx[b], idx[b] = t;
      }
  for (int a = 0; a < 3; a++) {
    const int d = idx[a];
    if (ext[d] <= 1) continue;
    if (stride[d] < 0) return BAD("%s must be >= 0, got %" PRId64, sname[d], stride[d]);
    if (stride[d] % blk != 0)
      return BAD("%s (%" PRId64 ") must be a multiple of %" PRId64 " for dtype %s", sname[d], stride[d], blk,
                 sa_dtype_name(dt));
    if (disjoint && stride[d] < span_el)
      return BAD("%s rows overlap: %s (%" PRId64 ") must be >= %" PRId64, name, sname[d], stride[d], span_el);
    int64_t off;
    if (__builtin_mul_overflow(ext[d] - 1, stride[d], &off) || __builtin_add_overflow(span_el, off, &span_el))
      return BAD("%s: element offsets overflow int64", name);
  }
  if (!disjoint)
    for (int d = 0; d < 3; d++)
      if (ext[d] > 1 && stride[d] < row && d != 0)
        return BAD("%s must be >= %" PRId64 " (a row), got %" PRId64, sname[d], row, stride[d]);
  const int64_t bytes = sa_dtype_bytes(dt, span_el);
  if ((uintptr_t)bytes > UINTPTR_MAX - (uintptr_t)data) return BAD("%s: offsets overflow the address space", name);
  s->lo = (uintptr_t)data;
  s->hi = s->lo + (uintptr_t)bytes;
  return SIMDATTN_OK;
}

static int overlaps(const span *a, const span *b) {
  return a->lo < a->hi && b->lo < b->hi && a->lo < b->hi && b->lo < a->hi;
}

static simdattn_status append(const simdattn_kv_append_args *a) {
  if (!a) return BAD("args must not be NULL");
  /* 0.3's args end at struct_size (no scales) */
  const size_t size_0_3 = offsetof(simdattn_kv_append_args, k_scale);
  if (a->struct_size != SIMDATTN_KV_APPEND_SIZE && a->struct_size != size_0_3)
    return BAD("struct_size must be SIMDATTN_KV_APPEND_SIZE (%u), got %u", (unsigned)SIMDATTN_KV_APPEND_SIZE,
               (unsigned)a->struct_size);
  const int scaled_args = a->struct_size == SIMDATTN_KV_APPEND_SIZE;
  const float *const kv_scale[2] = {scaled_args ? a->k_scale : NULL, scaled_args ? a->v_scale : NULL};
  const int64_t sc_stride = scaled_args ? a->kv_scale_stride : 0;
  const int64_t n = a->n_rows, hkv = a->heads_kv, d = a->head_dim, dv = a->head_dim_v ? a->head_dim_v : a->head_dim;
  if (n < 0) return BAD("n_rows must be >= 0, got %" PRId64, n);
  if (hkv < 1) return BAD("heads_kv must be >= 1, got %" PRId64, hkv);
  if (d < 1 || d > SA_MAX_HEAD_DIM) return BAD("head_dim must be in [1, %d], got %" PRId64, SA_MAX_HEAD_DIM, d);
  if (a->head_dim_v != 0 && (dv < 1 || dv > SA_MAX_HEAD_DIM))
    return BAD("head_dim_v must be 0 (= head_dim) or in [1, %d], got %" PRId64, SA_MAX_HEAD_DIM, a->head_dim_v);
  if (a->block_size < 1) return BAD("block_size must be >= 1, got %" PRId64, a->block_size);
  if (a->num_blocks < 0) return BAD("num_blocks must be >= 0, got %" PRId64, a->num_blocks);
  const struct {
    const char *name;
    simdattn_dtype dt;
    int64_t row;
  } dts[4] = {{"k.dtype", a->k.dtype, d},
              {"v.dtype", a->v.dtype, dv},
              {"k_cache.dtype", a->k_cache.dtype, d},
              {"v_cache.dtype", a->v_cache.dtype, dv}};
  for (int t = 0; t < 4; t++) {
    if (!sa_dtype_valid(dts[t].dt)) return BAD("%s must be a simdattn_dtype, got %d", dts[t].name, (int)dts[t].dt);
    if (t < 2 && !sa_dtype_float(dts[t].dt))
      return BAD("%s must be f32, f16 or bf16 (the new rows), got %s", dts[t].name, sa_dtype_name(dts[t].dt));
    if (dts[t].row % sa_dtype_block(dts[t].dt) != 0)
      return BAD("%s (%" PRId64 ") must be a multiple of %" PRId64 " for %s %s", t % 2 ? "head_dim_v" : "head_dim",
                 dts[t].row, sa_dtype_block(dts[t].dt), dts[t].name, sa_dtype_name(dts[t].dt));
  }
  if (sc_stride < 0) return BAD("kv_scale_stride must be >= 0 (0: one scale per cache), got %" PRId64, sc_stride);
  for (int kv = 0; kv < 2; kv++) {
    if (!kv_scale[kv]) continue;
    const simdattn_dtype cdt = kv ? a->v_cache.dtype : a->k_cache.dtype;
    if (!sa_dtype_scaled(cdt))
      return BAD("%s is set, but %s.dtype %s has no scale (only the fp8 formats take one)", kv ? "v_scale" : "k_scale",
                 kv ? "v_cache" : "k_cache", sa_dtype_name(cdt));
    for (int64_t h = 0; h < (sc_stride ? hkv : 1); h++) {
      const float sc = kv_scale[kv][h * sc_stride];
      if (!isfinite(sc) || sc == 0.0f)
        return BAD("%s[%" PRId64 "] (kv head %" PRId64 ") must be finite and nonzero, got %g",
                   kv ? "v_scale" : "k_scale", h * sc_stride, h, (double)sc);
    }
  }
  int64_t cap;
  if (__builtin_mul_overflow(a->num_blocks, a->block_size, &cap)) return BAD("num_blocks x block_size overflows int64");
  if (n > 0 && !a->slots) return BAD("slots must not be NULL (n_rows %" PRId64 ")", n);
  for (int64_t t = 0; t < n; t++)
    if (a->slots[t] != -1 && (a->slots[t] < 0 || a->slots[t] >= cap))
      return BAD("slots[%" PRId64 "] = %d is outside [0, %" PRId64 ") (num_blocks %" PRId64 " x block_size %" PRId64
                 "; -1 skips a row)",
                 t, a->slots[t], cap, a->num_blocks, a->block_size);
  static const char *const ksrc[3] = {"k.stride_batch", "k.stride_head", "k.stride_seq"};
  static const char *const vsrc[3] = {"v.stride_batch", "v.stride_head", "v.stride_seq"};
  static const char *const kc[3] = {"k_cache.stride_block", "k_cache.stride_head", "k_cache.stride_slot"};
  static const char *const vc[3] = {"v_cache.stride_block", "v_cache.stride_head", "v_cache.stride_slot"};
  span r[4];
  const int64_t src_ext[3] = {1, hkv, n}, cache_ext[3] = {a->num_blocks, hkv, a->block_size};
  const int64_t ks[3] = {0, a->k.stride_head, a->k.stride_seq}, vs[3] = {0, a->v.stride_head, a->v.stride_seq};
  const int64_t kcs[3] = {a->k_cache.stride_block, a->k_cache.stride_head, a->k_cache.stride_slot};
  const int64_t vcs[3] = {a->v_cache.stride_block, a->v_cache.stride_head, a->v_cache.stride_slot};
  simdattn_status st;
  if ((st = extent("k", a->k.data, a->k.dtype, src_ext, ks, ksrc, d, 0, &r[0])) != SIMDATTN_OK ||
      (st = extent("v", a->v.data, a->v.dtype, src_ext, vs, vsrc, dv, 0, &r[1])) != SIMDATTN_OK ||
      (st = extent("k_cache", a->k_cache.data, a->k_cache.dtype, cache_ext, kcs, kc, d, 1, &r[2])) != SIMDATTN_OK ||
      (st = extent("v_cache", a->v_cache.data, a->v_cache.dtype, cache_ext, vcs, vc, dv, 1, &r[3])) != SIMDATTN_OK)
    return st;
  static const char *const nm[4] = {"k", "v", "k_cache", "v_cache"};
  for (int c = 2; c < 4; c++)
    for (int o = 0; o < 4; o++)
      if (o != c && overlaps(&r[c], &r[o])) return BAD("%s overlaps %s", nm[c], nm[o]);
  /* a block format's scale needs finite rows */
  for (int64_t t = 0; t < n; t++) {
    if (a->slots[t] < 0) continue;
    for (int64_t h = 0; h < hkv; h++)
      for (int kv = 0; kv < 2; kv++) {
        const simdattn_tensor *src = kv ? &a->v : &a->k;
        const int64_t se = h * src->stride_head + t * src->stride_seq;
        char what[64];
        snprintf(what, sizeof what, "%s row %" PRId64 " head %" PRId64, kv ? "v" : "k", t, h);
        const simdattn_status fs =
            sa_quantize_check(what, kv ? a->v_cache.dtype : a->k_cache.dtype,
                              (const char *)src->data + sa_dtype_bytes(src->dtype, se), src->dtype, kv ? dv : d);
        if (fs != SIMDATTN_OK) return fs;
      }
  }
  /* the rows */
  for (int64_t t = 0; t < n; t++) {
    const int64_t slot = a->slots[t];
    if (slot < 0) continue;
    const int64_t blk = slot / a->block_size, off = slot % a->block_size;
    for (int64_t h = 0; h < hkv; h++)
      for (int kv = 0; kv < 2; kv++) {
        const simdattn_tensor *src = kv ? &a->v : &a->k;
        const simdattn_cache *dst = kv ? &a->v_cache : &a->k_cache;
        const int64_t len = kv ? dv : d;
        const int64_t se = h * src->stride_head + t * src->stride_seq;
        const int64_t de = blk * dst->stride_block + h * dst->stride_head + off * dst->stride_slot;
        const float sc = kv_scale[kv] ? kv_scale[kv][h * sc_stride] : 1.0f;
        sa_quantize_run(dst->data, dst->dtype, (const char *)src->data + sa_dtype_bytes(src->dtype, se), src->dtype, de,
                        len, sc);
      }
  }
  return SIMDATTN_OK;
}

simdattn_status simdattn_kv_append(const simdattn_kv_append_args *a) {
  const simdattn_status st = append(a);
  if (st == SIMDATTN_OK) sa_clear_error();
  return st;
}
