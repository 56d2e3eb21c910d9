/* ref/scalar_tiled.c: variant `scalar_tiled` — the portable scalar flash kernel.
 *
 * Algorithm: core/flash_driver.inc (FlashAttention-2 tiling + online softmax), instantiated
 * with a one-lane "vector" of plain float. This is the exact algorithm every SIMD variant
 * vectorises, in C anyone can step through: read core/flash_driver.inc top to bottom as its
 * specification. Tile: 4 rows x 4 keys register block, 32 packed rows per task, key blocks of
 * 64, keys split into chunks of >= 256 when a shape has few tasks (decode). ISA: none; it is
 * the fallback where no SIMD variant applies. */
#include <math.h>

#include "../core/softmax.h"

typedef float sa_vec;
#define SA_VL 1
static inline sa_vec sa_vzero(void) { return 0.0f; }
static inline sa_vec sa_vset1(float x) { return x; }
static inline sa_vec sa_vload(const float *p) { return *p; }
static inline void sa_vstore(float *p, sa_vec v) { *p = v; }
static inline sa_vec sa_vadd(sa_vec a, sa_vec b) { return a + b; }
static inline sa_vec sa_vsub(sa_vec a, sa_vec b) { return a - b; }
static inline sa_vec sa_vmul(sa_vec a, sa_vec b) { return a * b; }
static inline sa_vec sa_vdiv(sa_vec a, sa_vec b) { return a / b; }
static inline sa_vec sa_vfma(sa_vec a, sa_vec b, sa_vec c) { return a * b + c; } /* not fused: libm fmaf is slow without FMA hardware */
static inline sa_vec sa_vmax(sa_vec a, sa_vec b) { return a > b ? a : b; }
static inline sa_vec sa_vmin(sa_vec a, sa_vec b) { return a < b ? a : b; }
static inline sa_vec sa_vexp(sa_vec v) { return sa_expf(v); }
static inline sa_vec sa_vtanh(sa_vec v) { return sa_tanhf(v); }
static inline float sa_vreduce_max(sa_vec v) { return v; }
static inline float sa_vreduce_add(sa_vec v) { return v; }

#define SA_MR 4
#define SA_NR 4
#define SA_BLOCK_Q 32
#define SA_BLOCK_KV 64
#define SA_CHUNK_KV 256
#include "../core/flash_driver.inc"

const sa_kernel sa_kernel_scalar_tiled = {sa_flash_run, sa_flash_workspace, sa_flash_pack_block_bytes, SA_BLOCK_Q, SA_BLOCK_KV,
                                          SA_CHUNK_KV, SA_FLASH_LOG2};
