/* ref/scalar.h: the primitives of core/flash_driver.inc on one-lane "vectors" of plain float, so
 * the driver compiles to the plain scalar algorithm (ref/scalar_tiled.c): every primitive is the
 * obvious one-lane operation, exp and tanh are SLEEF's scalar u10 functions (core/softmax.h), the
 * converting loaders decode one element with the dtype table's codec. Portable C, no flags. */
#ifndef SA_REF_SCALAR_H
#define SA_REF_SCALAR_H

#include <stdint.h>

#include "../core/dtype.h"
#include "../core/softmax.h"

typedef float sa_vec;
#define SA_VL 1
static inline sa_vec sa_vzero(void) { return 0.0f; }
static inline sa_vec sa_vset1(float x) { return x; }
static inline sa_vec sa_vload(const float *p) { return *p; }
static inline void sa_vstore(float *p, sa_vec v) { *p = v; }
static inline void sa_vstore_u(float *p, sa_vec v) { *p = v; }
static inline sa_vec sa_vadd(sa_vec a, sa_vec b) { return a + b; }
static inline sa_vec sa_vsub(sa_vec a, sa_vec b) { return a - b; }
static inline sa_vec sa_vmul(sa_vec a, sa_vec b) { return a * b; }
static inline sa_vec sa_vdiv(sa_vec a, sa_vec b) { return a / b; }
/* not fused: fmaf is a slow library call without FMA hardware, and this is the portable kernel */
static inline sa_vec sa_vfma(sa_vec a, sa_vec b, sa_vec c) { return a * b + c; }
static inline sa_vec sa_vmax(sa_vec a, sa_vec b) { return a > b ? a : b; }
static inline sa_vec sa_vmin(sa_vec a, sa_vec b) { return a < b ? a : b; }
static inline sa_vec sa_vexp(sa_vec v) { return sa_expf(v); }
static inline sa_vec sa_vtanh(sa_vec v) { return sa_tanhf(v); }
static inline float sa_vreduce_max(sa_vec v) { return v; }
static inline float sa_vreduce_add(sa_vec v) { return v; }
static inline sa_vec sa_vhsum(const sa_vec v[1]) { return v[0]; }
static inline float sa_vhsum1(sa_vec v) { return v; }
static inline void sa_vtranspose(sa_vec r[1]) { (void)r; }
static inline __attribute__((always_inline)) void sa_prefetch(const void *p) { (void)p; }
static inline __attribute__((always_inline)) void sa_prefetch_l2(const void *p) { (void)p; }
/* one element of any dtype of the table, 0 when none is valid (a scaled format's times its scale) */
#define SA_SCALAR_VLOAD_0(name)                                                    \
  static inline sa_vec sa_vload_##name(const char *base, int64_t idx, int64_t n) { \
    return n > 0 ? sa_decode_##name(base, idx) : 0.0f;                             \
  }
#define SA_SCALAR_VLOAD_1(name)                                                              \
  static inline sa_vec sa_vload_##name(const char *base, int64_t idx, int64_t n, float sc) { \
    return n > 0 ? sc * sa_decode_##name(base, idx) : 0.0f;                                  \
  }
#define SA_SCALAR_VLOAD_(E, name, blk, bb, sc, ...) SA_SCALAR_VLOAD_##sc(name)
SA_DTYPES(SA_SCALAR_VLOAD_, ~)
#define SA_DIRECT_MR 1 /* one row per direct tile: a one-lane vector holds one key's dot product */
#define SA_DIRECT_CH 4 /* head dims per step of a direct dot product */

#endif
