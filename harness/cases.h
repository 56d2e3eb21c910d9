/* harness/cases.h: attn-check's case grid and seeded test data, shared with tests/.
 * A case is a problem shape plus features, layout, value distribution and dtypes; its data
 * comes from a PRNG seeded by (seed, case name), so a case is the same in every grid. Outputs
 * live inside guard regions filled with a sentinel NaN, so stray writes are caught. */
#ifndef SA_HARNESS_CASES_H
#define SA_HARNESS_CASES_H

#include <stddef.h>
#include <stdint.h>

#include "simdattn.h"

typedef enum {
  DIST_NORMAL,
  DIST_LARGE,
  DIST_TINY,
  DIST_DOMINANT,
  DIST_CONST,
  DIST_SOFTCAP,
  DIST_RANGE,    /* V near the f16 range limit (+-30000..60000), q and k moderate */
  DIST_EXPO,     /* large exponents: q ~ 2^e N(0,1), k ~ 2^-e N(0,1), V ~ 2^e, e = 40 for f32 and bf16
                  * tensors, 7 for f16 ones: they cancel within a dtype, and give scores near 1e10
                  * when q and K/V differ */
  DIST_SUBN,     /* f16/bf16 subnormal magnitudes mixed into q, k and v */
  DIST_SINKDOM,  /* N(0, 1) data, sinks 88..92: every row dominated by its sink, outputs near 1e-39
                  * (f32's subnormal range) */
  DIST_SINKREPRO /* q = 371.692238, k = v = 37.1692238, sinks 111.5077: scalar_tiled's doubled output */
} case_dist;
typedef enum { LAYOUT_BHSD, LAYOUT_BSHD, LAYOUT_BHSD_PAD, LAYOUT_BSHD_PAD } case_layout;
typedef enum { MASK_NONE, MASK_FULL, MASK_BCAST, MASK_ROWS } case_mask;
typedef enum {
  NAN_NONE,
  NAN_Q,
  NAN_K,
  NAN_V,
  INF_V /* +inf (not NaN) in one V element: its column is +inf in every row that sees the key,
         * however small the key's weight (with DIST_LARGE it underflows in f32, even in double) */
} case_nan;

typedef struct {
  const char *group; /* "seq", "cross", "dims", ... */
  int64_t batch, heads_q, heads_kv, seq_q, seq_kv, d, dv;
  simdattn_causal causal;
  int64_t window;
  case_mask mask;
  float softcap;
  int alibi, sinks, lse;
  case_layout layout;
  case_dist dist;
  case_nan nan;
  simdattn_dtype qt, kvt;
  /* quantized K/V (README, "Quantized KV caches"): V in its own format (mixed_v; else kvt), fp8 scales
   * (kvscale 0: none, 1: one per tensor, 2: one per kv head, one of them 0), adversarial blocks and
   * encodings patched into the quantized data (qadv) */
  int mixed_v;
  simdattn_dtype vt;
  int kvscale, qadv;
} case_spec;
/* V's dtype */
static inline simdattn_dtype case_vt(const case_spec *s) { return s->mixed_v ? s->vt : s->kvt; }
/* a case on a quantized cache (K or V): its data is encoded from f32 data kept beside it */
int case_quantized(const case_spec *s);

typedef struct {
  case_spec spec;
  char name[160];
  simdattn_problem p; /* out and lse point inside guarded buffers */
  void *q, *k, *v;
  float *k_f32, *v_f32;     /* quantized cases: K and V before quantization (f32, the same element layout) */
  float *k_scale, *v_scale; /* fp8 scales */
  float *mask, *alibi, *sinks;
  float *out_buf, *lse_buf;
  size_t out_len, lse_len;              /* floats in the buffers, guards included */
  size_t out_at, lse_at;                /* where out / lse start in them */
  int64_t nan_b, nan_h, nan_pos, nan_x; /* where a NaN was injected (h: q head, or kv head) */
} case_data;

#define CASE_GUARD 64 /* floats of guard before and after each output */

/* A default spec: 1 batch, 2x2 heads, d 64, contiguous BHSD, N(0,1), f32, lse on. */
case_spec case_default(const char *group, int64_t seq_q, int64_t seq_kv);
/* The grid: quick (CI-sized) or full, with every registry row's tile edges (harness/cases.c,
 * grid_tiles). Returns the count; *out is malloc'ed. */
int case_grid(int quick, case_spec **out);
void case_name(const case_spec *s, char *buf, size_t size);
/* Allocates and fills the inputs; 0 on success. */
int case_build(const case_spec *s, uint64_t seed, case_data *cd);
/* n N(0, 1) values from the cases' PRNG seeded by (seed, key) (a backward case's dout) */
void case_fill_normal(uint64_t seed, const char *key, float *dst, size_t n);
/* Fills out/lse and their guards with the sentinel. */
void case_reset_outputs(case_data *cd);
/* 1 when nothing outside the out rows and lse entries was written. */
int case_guards_intact(const case_data *cd);
void case_free(case_data *cd);

/* Flat index of out element (b, h, i, x) and of lse element (b, h, i). */
float case_out(const case_data *cd, int64_t b, int64_t h, int64_t i, int64_t x);
float case_lse(const case_data *cd, int64_t b, int64_t h, int64_t i);

/* Fits s to a variant accepting `dtypes` (bits 1u << simdattn_dtype): unchanged when it accepts
 * s's dtypes; an f32 case for a variant without f32 becomes its twin, q, k and v in the variant's
 * first dtype (as attn-check does). 0 when s can run on the variant, -1 when not. */
int case_fit_dtypes(case_spec *s, unsigned dtypes);

#endif
