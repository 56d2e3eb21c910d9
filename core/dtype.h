/* core/dtype.h: the dtype table — every element format the library reads, in one list.
 *
 *   X(ENUM, name, block, block_bytes, scaled, ...)
 *     ENUM         SIMDATTN_<ENUM> in include/simdattn.h
 *     name         its name everywhere: messages, attn-check case names, attn-bench rows
 *                  (f32-f16), the codec sa_decode_<name> / sa_encode_<name> (core/convert.h) and
 *                  each ISA's converting loader sa_vload_<name> (<folder>/<isa>.h)
 *     block        elements that share storage (1 for plain element types; 32 for a GGUF-style
 *                  block of 32 values with one scale): head dims and strides of a tensor in this
 *                  format must be multiples of it
 *     block_bytes  bytes of one block (element size for plain types)
 *     scaled       1: an element's value is fl(scale x), x its codec's value and scale the tensor's (or its kv
 *                  head's) float scale (fp8: the problem's k_scale / v_scale), applied after the loader
 *
 * Everything else derives from the table: validation (src/validate.c), byte offsets (a row at
 * element offset e starts e / block * block_bytes bytes in), names, the dispatch from a runtime
 * dtype to code specialised for it (SA_DTYPE_DISPATCH), the harness's test data. */
#ifndef SA_CORE_DTYPE_H
#define SA_CORE_DTYPE_H

#include <stdint.h>

#include "convert.h"
#include "simdattn.h"

// clang-format off
/* the formats q may have too (floating point); then the K/V-only ones (quantized) */
#define SA_DTYPES_FLOAT(X, ...)                  \
  X(F32,     f32,     1,  4,  0, __VA_ARGS__)    \
  X(F16,     f16,     1,  2,  0, __VA_ARGS__)    \
  X(BF16,    bf16,    1,  2,  0, __VA_ARGS__)
#define SA_DTYPES_QUANT(X, ...)                  \
  X(Q8_0,    q8_0,    32, 34, 0, __VA_ARGS__)    \
  X(Q4_0,    q4_0,    32, 18, 0, __VA_ARGS__)    \
  X(FP8E4M3, fp8e4m3, 1,  1,  1, __VA_ARGS__)    \
  X(FP8E5M2, fp8e5m2, 1,  1,  1, __VA_ARGS__)
#define SA_DTYPES(X, ...) SA_DTYPES_FLOAT(X, __VA_ARGS__) SA_DTYPES_QUANT(X, __VA_ARGS__)
/* the formats with a NaN code among finite ones (E4M3: S.1111.111, no inf), which a converting loader
 * spends operations on per vector: an ISA may give them lax loaders and row scans instead
 * (SA_VLOAD_LAX, core/flash_driver.inc) */
#define SA_DTYPES_NAN_CODE(X, ...)               \
  X(FP8E4M3, fp8e4m3, 1,  1,  1, __VA_ARGS__)
// clang-format on

/* accepted-dtype bit sets (sa_variant.dtypes): bit 1u << simdattn_dtype */
#define SA_DT_BIT(t) (1u << (unsigned)(t))
#define SA_DT_F32 SA_DT_BIT(SIMDATTN_F32)
#define SA_DT_BF16 SA_DT_BIT(SIMDATTN_BF16)
#define SA_DT_FLOAT (SA_DT_BIT(SIMDATTN_F32) | SA_DT_BIT(SIMDATTN_F16) | SA_DT_BIT(SIMDATTN_BF16))
#define SA_DT_QUANT                                                                                             \
  (SA_DT_BIT(SIMDATTN_Q8_0) | SA_DT_BIT(SIMDATTN_Q4_0) | SA_DT_BIT(SIMDATTN_FP8E4M3) | SA_DT_BIT(SIMDATTN_FP8E5M2))
#define SA_DT_ALL (SA_DT_FLOAT | SA_DT_QUANT)
/* The dtypes a kernel is specialised for (core/flash_driver.inc): a variant that accepts fewer defines
 * SA_KERNEL_DTYPES (SA_DT_* bits) before its includes, and the dispatch below never reaches code for
 * the others, which is then not built (avx512_bf16_*: bf16 alone, not every format's tiles). */
#ifndef SA_KERNEL_DTYPES
#define SA_KERNEL_DTYPES SA_DT_ALL
#endif
#define SA_DT_KERNEL(E) (((SA_KERNEL_DTYPES) & SA_DT_BIT(SIMDATTN_##E)) != 0)

#define SA_DT_CASE_VALID_(E, name, blk, bb, sc, ...) case SIMDATTN_##E:
static inline int sa_dtype_valid(simdattn_dtype t) {
  switch (t) {
    SA_DTYPES(SA_DT_CASE_VALID_, ~)
    return 1;
  }
  return 0;
}

#define SA_DT_CASE_NAME_(E, name, blk, bb, sc, ...) \
  case SIMDATTN_##E:                            \
    return #name;
#define SA_DT_CASE_BLOCK_(E, name, blk, bb, sc, ...) \
  case SIMDATTN_##E:                             \
    return blk;
#define SA_DT_CASE_BLOCK_BYTES_(E, name, blk, bb, sc, ...) \
  case SIMDATTN_##E:                                   \
    return bb;
static inline const char *sa_dtype_name(simdattn_dtype t) {
  switch (t) { SA_DTYPES(SA_DT_CASE_NAME_, ~) }
  return "?";
}
static inline int64_t sa_dtype_block(simdattn_dtype t) {
  switch (t) { SA_DTYPES(SA_DT_CASE_BLOCK_, ~) }
  return 1;
}
static inline int64_t sa_dtype_block_bytes(simdattn_dtype t) {
  switch (t) { SA_DTYPES(SA_DT_CASE_BLOCK_BYTES_, ~) }
  return 0;
}
#define SA_DT_CASE_SCALED_(E, name, blk, bb, sc, ...) \
  case SIMDATTN_##E:                                 \
    return sc;
#define SA_DT_CASE_FLOAT_(E, name, blk, bb, sc, ...) case SIMDATTN_##E:
/* its values are fl(scale x) with the tensor's scale (fp8) */
static inline int sa_dtype_scaled(simdattn_dtype t) {
  switch (t) { SA_DTYPES(SA_DT_CASE_SCALED_, ~) }
  return 0;
}
/* a floating-point format (what q may be); the others are K/V formats only */
static inline int sa_dtype_float(simdattn_dtype t) {
  switch (t) {
    SA_DTYPES_FLOAT(SA_DT_CASE_FLOAT_, ~)
    return 1;
  default:
    return 0;
  }
}
/* Bytes of n elements (n a multiple of the block): the byte offset of element n of a row. */
static inline int64_t sa_dtype_bytes(simdattn_dtype t, int64_t n) {
  return n / sa_dtype_block(t) * sa_dtype_block_bytes(t);
}
/* The dtype called `name`, or -1. */
#define SA_DT_CASE_NAMED_(E, name, blk, bb, sc, s) \
  if (!strcmp(s, #name)) return (int)SIMDATTN_##E;
static inline int sa_dtype_named(const char *s) {
  SA_DTYPES(SA_DT_CASE_NAMED_, s)
  return -1;
}

/* Element idx of a row at base, as f32 (exact), and f32 values encoded into elements
 * idx .. idx + n - 1 (for a block format, idx and n are multiples of its block: fewer than a block
 * encode nothing). */
#define SA_DT_CASE_DECODE_(E, name, blk, bb, sc, ...) \
  case SIMDATTN_##E:                              \
    return sa_decode_##name(__VA_ARGS__);
static inline float sa_load_f32(const void *base, simdattn_dtype t, int64_t idx) {
  switch (t) { SA_DTYPES(SA_DT_CASE_DECODE_, base, idx) }
  return 0.0f;
}
#define SA_DT_CASE_ENCODE_(E, name, blk, bb, sc, ...) \
  case SIMDATTN_##E:                                  \
    if (blk == 1 || n >= blk) sa_encode_##name(__VA_ARGS__); \
    return;
static inline void sa_store_f32(void *base, simdattn_dtype t, int64_t idx, const float *src, int64_t n) {
  switch (t) { SA_DTYPES(SA_DT_CASE_ENCODE_, base, idx, src, n) }
}
/* dst[0..n) = row[0..n) as f32 (one loop per dtype) */
#define SA_DT_CASE_ROW_(E, name, blk, bb, sc, ...)                         \
  case SIMDATTN_##E:                                                   \
    for (int64_t x = 0; x < n; x++) dst[x] = sa_decode_##name(row, x); \
    return;
static inline void sa_row_to_f32(const void *row, simdattn_dtype t, int64_t n, float *dst) {
  switch (t) { SA_DTYPES(SA_DT_CASE_ROW_, ~) }
}
/* the same for a K or V row with its scale (1 for a format that has none): the exact element values */
static inline void sa_kv_row_to_f32(const void *row, simdattn_dtype t, int64_t n, float scale, float *dst) {
  sa_row_to_f32(row, t, n, dst);
  if (sa_dtype_scaled(t))
    for (int64_t x = 0; x < n; x++) dst[x] = scale * dst[x];
}

/* A converting loader sa_vload_<name>(base, idx, n) for an ISA without a fast one: the scalar
 * codec, element by element, into an aligned buffer (expanded inside an ISA header, after its
 * sa_vec, SA_VL and sa_vload). */
#define SA_VLOAD_VIA_SCALAR(name)                                                                 \
  static inline sa_vec sa_vload_##name(const char *base, int64_t idx, int64_t n) {                \
    float t_[SA_VL] __attribute__((aligned(64)));                                                 \
    for (int k_ = 0; k_ < SA_VL; k_++) t_[k_] = k_ < n ? sa_decode_##name(base, idx + k_) : 0.0f; \
    return sa_vload(t_);                                                                          \
  }

/* The same for a scaled format: its loader takes the scale, lanes fl(sc x) */
#define SA_VLOAD_VIA_SCALAR_SCALED(name)                                                          \
  static inline sa_vec sa_vload_##name(const char *base, int64_t idx, int64_t n, float sc) {      \
    float t_[SA_VL] __attribute__((aligned(64)));                                                 \
    for (int k_ = 0; k_ < SA_VL; k_++) t_[k_] = k_ < n ? sa_decode_##name(base, idx + k_) : 0.0f; \
    return sa_vmul(sa_vload(t_), sa_vset1(sc));                                                   \
  }

/* Run fn(args..., DT) with DT the compile-time constant of runtime dtype t, so code specialised
 * for each dtype is chosen once per call, not per element (fn is normally always_inline).
 * SA_DTYPE_DISPATCH_FLOAT: the same over the floating-point formats only (q). */
#define SA_DT_CASE_CALL_(E, name, blk, bb, sc, fn, ...)     \
  case SIMDATTN_##E:                                    \
    if (SA_DT_KERNEL(E)) fn(__VA_ARGS__, SIMDATTN_##E); \
    break;
#define SA_DTYPE_DISPATCH(t, fn, ...)                           \
  do {                                                          \
    switch (t) { SA_DTYPES(SA_DT_CASE_CALL_, fn, __VA_ARGS__) } \
  } while (0)
#define SA_DTYPE_DISPATCH_FLOAT(t, fn, ...)                           \
  do {                                                                \
    switch (t) {                                                      \
      SA_DTYPES_FLOAT(SA_DT_CASE_CALL_, fn, __VA_ARGS__)              \
    default:                                                          \
      break;                                                          \
    }                                                                 \
  } while (0)
#define SA_DT_CASE_RETURN_(E, name, blk, bb, sc, fn, ...)      \
  case SIMDATTN_##E:                                        \
    if (SA_DT_KERNEL(E)) return fn(__VA_ARGS__, SIMDATTN_##E); \
    break;
/* the same, returning fn's value (the caller returns something after it for invalid t) */
#define SA_DTYPE_DISPATCH_RETURN(t, fn, ...) \
  switch (t) { SA_DTYPES(SA_DT_CASE_RETURN_, fn, __VA_ARGS__) }

#endif
