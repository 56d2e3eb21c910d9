/* src/validate.c: every check on a simdattn_problem, and its resolution into an sa_job.
 * Each failure names the field and the value; nothing here writes to out or lse. */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

#define BAD(...) sa_fail(SIMDATTN_ERR_INVALID, __VA_ARGS__)
#define SA_VIEW_INLINE static inline __attribute__((always_inline))

/* "SIMDATTN_F32 (f32), SIMDATTN_F16 (f16), ..." from the dtype table, for messages */
#define SA_DT_LIST_(E, name, blk, bb, sc, ...) "SIMDATTN_" #E " (" #name "), "
static const char sa_dtype_list[] = SA_DTYPES(SA_DT_LIST_, ~);

typedef struct {
  const char *name;     /* "q", "k", "v", "out", "lse", "mask", ... for messages */
  const char *row_name; /* "head_dim" or "head_dim_v" or "seq_kv" */
  const void *data;
  int64_t ext[3]; /* batch, heads, seq */
  int64_t stride[3];
  const char *stride_name[3];
  int64_t row;                /* contiguous elements per row */
  int64_t block, block_bytes; /* the dtype's storage unit (core/dtype.h): elements and bytes */
  int stride_min_row;         /* 1: strides of dims with extent > 1 must be >= row; 0: >= 0 */
  int required;               /* 1: q, k, v, out (the others may be NULL) */
  uintptr_t lo, hi;           /* byte range touched (empty when lo == hi) */
} tensor_view;

/* Validates strides and pointer of one tensor; computes its byte range. A required tensor
 * without data is an error when `buffers` (the data pointers are being checked); planning checks
 * the shape only, and then a required tensor's strides are checked whatever its pointer. */
static simdattn_status check_tensor(tensor_view *t, int buffers) {
  int64_t count = t->row;
  int empty = t->row == 0;
  for (int d = 0; d < 3; d++) {
    if (t->ext[d] == 0) empty = 1;
    else if (__builtin_mul_overflow(count, t->ext[d], &count))
      return BAD("%s: %" PRId64 " x %" PRId64 " x %" PRId64 " elements overflow int64", t->name, t->ext[0], t->ext[1],
                 t->ext[2]);
  }
  t->lo = t->hi = 0;
  if (empty) return SIMDATTN_OK;
  if (!t->data) {
    if (!t->required) return SIMDATTN_OK;
    if (buffers) return BAD("%s must not be NULL (it holds %" PRId64 " elements)", t->name, count);
  }
  int64_t span = t->row; /* one past the largest element offset */
  for (int d = 0; d < 3; d++) {
    if (t->ext[d] <= 1) continue;
    const int64_t s = t->stride[d];
    if (t->stride_min_row && s < t->row)
      return BAD("%s must be >= %s (%" PRId64 ") for rows of %" PRId64 " elements, got %" PRId64, t->stride_name[d],
                 t->row_name, t->row, t->row, s);
    if (!t->stride_min_row && s < 0) return BAD("%s must be >= 0, got %" PRId64, t->stride_name[d], s);
    int64_t off;
    if (__builtin_mul_overflow(t->ext[d] - 1, s, &off) || __builtin_add_overflow(span, off, &span))
      return BAD("%s: element offsets overflow int64 (%s %" PRId64 " x %" PRId64 ")", t->name, t->stride_name[d], s,
                 t->ext[d]);
  }
  int64_t bytes; /* span is a multiple of the block: rows and strides are (checked before) */
  if (__builtin_mul_overflow(span / t->block, t->block_bytes, &bytes) ||
      (uintptr_t)bytes > UINTPTR_MAX - (uintptr_t)t->data)
    return BAD("%s: element offsets overflow the address space (%" PRId64 " elements)", t->name, span);
  if (!t->data) return SIMDATTN_OK; /* planning: no address range yet */
  t->lo = (uintptr_t)t->data;
  t->hi = t->lo + (uintptr_t)bytes;
  return SIMDATTN_OK;
}

/* a buffer's byte range [lo, hi); empty when lo == hi */
typedef struct {
  uintptr_t lo, hi;
} sa_span;

static int overlap(const sa_span *a, const sa_span *b) {
  return a->lo < a->hi && b->lo < b->hi && a->lo < b->hi && b->lo < a->hi;
}
static inline int span_empty(const sa_span *a) { return a->lo >= a->hi; }

/* out's rows must not overlap each other: sort the dims by stride; each stride must clear the
 * span of the smaller ones (a sufficient condition, exact for every layout made of strides). */
static simdattn_status check_out_disjoint(const tensor_view *o) {
  if (o->ext[0] == 0 || o->ext[1] == 0 || o->ext[2] == 0) return SIMDATTN_OK; /* no rows */
  int idx[3] = {0, 1, 2};
  for (int a = 0; a < 3; a++)
    for (int b = a + 1; b < 3; b++)
      if (o->stride[idx[b]] < o->stride[idx[a]]) {
        const int t = idx[a];
        idx[a] = idx[b];
        idx[b] = t;
      }
  int64_t span = o->row;
  for (int a = 0; a < 3; a++) {
    const int d = idx[a];
    if (o->ext[d] <= 1) continue;
    if (o->stride[d] < span)
      return BAD("%s rows overlap: %s (%" PRId64 ") must be >= %" PRId64 " so that rows of %" PRId64
                 " floats do not share memory",
                 o->name, o->stride_name[d], o->stride[d], span, o->row);
    span = o->stride[d] * (o->ext[d] - 1) + span;
  }
  return SIMDATTN_OK;
}

/* The shape: sizes, head dims, dtypes and their blocks, the score pipeline's fields. */
static simdattn_status check_shape(const simdattn_problem *p) {
  const struct {
    const char *name;
    int64_t value, min;
  } sizes[] = {{"batch", p->batch, 0},
               {"heads_q", p->heads_q, 0},
               {"heads_kv", p->heads_kv, 1},
               {"seq_q", p->seq_q, 0},
               {"seq_kv", p->seq_kv, 0}};
  for (size_t t = 0; t < SA_ARRAY_SIZE(sizes); t++)
    if (sizes[t].value < sizes[t].min)
      return BAD("%s must be >= %" PRId64 ", got %" PRId64, sizes[t].name, sizes[t].min, sizes[t].value);
  if (p->heads_q % p->heads_kv != 0)
    return BAD("heads_q (%" PRId64 ") must be a multiple of heads_kv (%" PRId64 ")", p->heads_q, p->heads_kv);
  if (p->head_dim < 1 || p->head_dim > SA_MAX_HEAD_DIM)
    return BAD("head_dim must be in [1, %d], got %" PRId64, SA_MAX_HEAD_DIM, p->head_dim);
  if (p->head_dim_v != 0 && (p->head_dim_v < 1 || p->head_dim_v > SA_MAX_HEAD_DIM))
    return BAD("head_dim_v must be 0 (= head_dim) or in [1, %d], got %" PRId64, SA_MAX_HEAD_DIM, p->head_dim_v);
  const simdattn_tensor *in[3] = {&p->q, &p->k, &p->v};
  static const char *const in_name[3] = {"q", "k", "v"};
  for (int t = 0; t < 3; t++)
    if (!sa_dtype_valid(in[t]->dtype))
      return BAD("%s.dtype must be one of %.*s, got %d", in_name[t], (int)sizeof sa_dtype_list - 3, sa_dtype_list,
                 (int)in[t]->dtype);
  if (!sa_dtype_float(p->q.dtype))
    return BAD("q.dtype must be f32, f16 or bf16 (a quantized format is for k and v only), got %s",
               sa_dtype_name(p->q.dtype));
  const simdattn_dtype kvdt[2] = {p->k.dtype, p->v.dtype};
  const float *const kvsc[2] = {p->k_scale, p->v_scale};
  for (int t = 0; t < 2; t++)
    if (kvsc[t] && !sa_dtype_scaled(kvdt[t]))
      return BAD("%s is set, but %s.dtype %s has no scale (only the fp8 formats take one)", t ? "v_scale" : "k_scale",
                 t ? "v" : "k", sa_dtype_name(kvdt[t]));
  if (p->kv_scale_stride < 0)
    return BAD("kv_scale_stride must be >= 0 (0: one scale per tensor), got %" PRId64, p->kv_scale_stride);
  const int64_t d = p->head_dim, dv = p->head_dim_v ? p->head_dim_v : p->head_dim;
  for (int t = 0; t < 3; t++) { /* a block format stores whole blocks: rows and strides hold whole blocks */
    const int64_t blk = sa_dtype_block(in[t]->dtype), row = t == 2 ? dv : d;
    if (row % blk != 0)
      return BAD("%s (%" PRId64 ") must be a multiple of %" PRId64 " for %s.dtype %s",
                 t == 2 ? "head_dim_v" : "head_dim", row, blk, in_name[t], sa_dtype_name(in[t]->dtype));
    const int64_t *st = &in[t]->stride_batch;
    const int64_t ext[3] = {p->batch, t == 0 ? p->heads_q : p->heads_kv, t == 0 ? p->seq_q : p->seq_kv};
    static const char *sn[3] = {"stride_batch", "stride_head", "stride_seq"};
    for (int a = 0; a < 3; a++)
      if (ext[a] > 1 && st[a] % blk != 0)
        return BAD("%s.%s (%" PRId64 ") must be a multiple of %" PRId64 " for %s.dtype %s", in_name[t], sn[a], st[a],
                   blk, in_name[t], sa_dtype_name(in[t]->dtype));
  }
  if ((unsigned)p->causal > SIMDATTN_CAUSAL_BOTTOM_RIGHT)
    return BAD("causal must be SIMDATTN_CAUSAL_NONE, _TOP_LEFT or _BOTTOM_RIGHT, got %d", (int)p->causal);
  if (!isfinite(p->scale) || p->scale < 0.0f)
    return BAD("scale must be finite and >= 0 (0 means 1/sqrt(head_dim)), got %g", (double)p->scale);
  if (!isfinite(p->softcap) || p->softcap < 0.0f)
    return BAD("softcap must be finite and >= 0 (0 means off), got %g", (double)p->softcap);
  if (p->window < 0) return BAD("window must be >= 0 (0 means unlimited), got %" PRId64, p->window);
  if (p->window > 0 && p->causal == SIMDATTN_CAUSAL_NONE)
    return BAD("window (%" PRId64 ") needs causal set (TOP_LEFT or BOTTOM_RIGHT), got SIMDATTN_CAUSAL_NONE", p->window);
  int64_t cnt; /* lse's strides are implied: check that its size fits before forming them */
  if (__builtin_mul_overflow(p->batch, p->heads_q, &cnt) || __builtin_mul_overflow(cnt, p->seq_q, &cnt))
    return BAD("batch x heads_q x seq_q (%" PRId64 " x %" PRId64 " x %" PRId64 ") overflows int64", p->batch,
               p->heads_q, p->seq_q);
  if (p->mask && p->mask_stride_q != 0 && p->mask_stride_q < p->seq_kv)
    return BAD("mask_stride_q must be 0 (broadcast) or >= seq_kv (%" PRId64 "), got %" PRId64, p->seq_kv,
               p->mask_stride_q);
  return SIMDATTN_OK;
}

enum { Q, K, V, OUT, LSE, MASK, ALIBI, SINKS, KSCALE, VSCALE, WS, N_VIEWS };
static const char *const view_name[N_VIEWS] = {"q",     "k",       "v",       "out",      "lse", "mask", "alibi_slopes",
                                               "sinks", "k_scale", "v_scale", "workspace"};

/* Tensor t of p as a view: pointer, extents (batch, heads, seq), strides, contiguous row, storage
 * unit, the stride rule, whether required, names for messages. The one description of each tensor:
 * planning checks it whole (check_tensor), execute takes its byte range (planned_span). Every
 * field is set (no zero fill: a compound literal's was a `rep stos` per view, half of a small
 * decode call's validation); inlined with a constant t, the fields a caller does not read go. */
SA_VIEW_INLINE void make_view(const simdattn_problem *p, int t, tensor_view *x) {
  static const char *const names[N_VIEWS][3] = {{"q.stride_batch", "q.stride_head", "q.stride_seq"},
                                                {"k.stride_batch", "k.stride_head", "k.stride_seq"},
                                                {"v.stride_batch", "v.stride_head", "v.stride_seq"},
                                                {"out_stride_batch", "out_stride_head", "out_stride_seq"},
                                                {"", "", ""},
                                                {"mask_stride_batch", "mask_stride_head", "mask_stride_q"},
                                                {"", "", ""},
                                                {"", "", ""},
                                                {"", "", "kv_scale_stride"},
                                                {"", "", "kv_scale_stride"},
                                                {"", "", ""}};
  const int64_t d = p->head_dim, dv = p->head_dim_v ? p->head_dim_v : p->head_dim;
  x->name = view_name[t];
  for (int a = 0; a < 3; a++) x->stride_name[a] = names[t][a];
  x->required = t <= OUT, x->stride_min_row = t <= OUT;
  x->block = 1, x->block_bytes = 4; /* f32 but for q, k, v */
  const int64_t bhs[3] = {p->batch, t == Q || t >= OUT ? p->heads_q : p->heads_kv,
                          t == Q || t >= OUT ? p->seq_q : p->seq_kv};
  for (int a = 0; a < 3; a++) x->ext[a] = bhs[a];
  if (t <= V) {
    const simdattn_tensor *in = t == Q ? &p->q : t == K ? &p->k : &p->v;
    x->data = in->data;
    x->stride[0] = in->stride_batch, x->stride[1] = in->stride_head, x->stride[2] = in->stride_seq;
    x->row = t == V ? dv : d, x->row_name = t == V ? "head_dim_v" : "head_dim";
    x->block = sa_dtype_block(in->dtype), x->block_bytes = sa_dtype_block_bytes(in->dtype);
  } else if (t == OUT) {
    x->data = p->out;
    x->stride[0] = p->out_stride_batch, x->stride[1] = p->out_stride_head, x->stride[2] = p->out_stride_seq;
    x->row = dv, x->row_name = "head_dim_v";
  } else if (t == LSE) {
    x->data = p->lse;
    x->stride[0] = p->heads_q * p->seq_q, x->stride[1] = p->seq_q, x->stride[2] = 1;
    x->row = 1, x->row_name = "1";
  } else if (t == MASK) {
    x->data = p->mask;
    x->stride[0] = p->mask_stride_batch, x->stride[1] = p->mask_stride_head, x->stride[2] = p->mask_stride_q;
    x->row = p->seq_kv, x->row_name = "seq_kv";
  } else if (t == KSCALE || t == VSCALE) { /* one float per kv head, kv_scale_stride apart (0: one) */
    x->data = t == KSCALE ? p->k_scale : p->v_scale;
    x->ext[0] = x->ext[1] = 1, x->ext[2] = p->heads_kv;
    x->stride[0] = x->stride[1] = 0, x->stride[2] = p->kv_scale_stride;
    x->row = 1, x->row_name = "1";
  } else { /* ALIBI, SINKS: one float per query head */
    x->data = t == ALIBI ? (const void *)p->alibi_slopes : (const void *)p->sinks;
    x->ext[0] = x->ext[1] = 1, x->ext[2] = p->heads_q;
    x->stride[0] = x->stride[1] = 0, x->stride[2] = 1;
    x->row = 1, x->row_name = "1";
  }
}

/* The fp8 scales' values: finite, magnitude at most 2^64 (the loaders may carry an E4M3 scale times 2^8:
 * avx512/avx512.h), the pointers and ranges are views, checked with the others */
static simdattn_status check_scale_values(const simdattn_problem *p) {
  const float *const sc[2] = {p->k_scale, p->v_scale};
  for (int t = 0; t < 2; t++)
    if (sc[t])
      for (int64_t h = 0; h < (p->kv_scale_stride ? p->heads_kv : 1); h++)
        if (!(fabsf(sc[t][h * p->kv_scale_stride]) <= 0x1p64f))
          return BAD("%s[%" PRId64 "] (kv head %" PRId64 ") must be finite, at most 2^64 in magnitude, got %g",
                     t ? "v_scale" : "k_scale", h * p->kv_scale_stride, h, (double)sc[t][h * p->kv_scale_stride]);
  return SIMDATTN_OK;
}

/* No output overlapping an input, the other output or the workspace [ws, ws + ws_size): r[Q..SINKS]
 * are the tensors' byte ranges (r[WS] is set here). */
static simdattn_status check_overlaps(sa_span r[N_VIEWS], const void *ws, size_t ws_size) {
  r[WS].lo = (uintptr_t)ws;
  r[WS].hi = ws && ws_size <= UINTPTR_MAX - (uintptr_t)ws ? (uintptr_t)ws + ws_size : (uintptr_t)ws;
  for (int t = 0; t < N_VIEWS; t++) {
    if (span_empty(&r[t])) continue; /* absent (most optional tensors): overlaps nothing */
    if (t != OUT && overlap(&r[OUT], &r[t]))
      return BAD("out overlaps %s: outputs must not alias any input%s", view_name[t],
                 t == WS ? " or the workspace" : "");
    if (t != LSE && t != OUT && overlap(&r[LSE], &r[t]))
      return BAD("lse overlaps %s: outputs must not alias any input%s", view_name[t],
                 t == WS ? " or the workspace" : "");
    if (t < WS && overlap(&r[WS], &r[t]))
      return BAD("workspace overlaps %s: it must not alias any input or output", view_name[t]);
  }
  if (overlap(&r[OUT], &r[LSE])) return BAD("out overlaps lse");
  return SIMDATTN_OK;
}

/* Strides, offsets and (with `buffers`) pointers of every tensor; out's rows disjoint; with
 * `buffers`, no output overlapping an input or the other output. */
static simdattn_status check_tensors(const simdattn_problem *p, int buffers, const int64_t *kv_ext, const void *ws,
                                     size_t ws_size) {
  tensor_view tv[N_VIEWS];
  simdattn_status st;
  for (int t = Q; t < WS; t++) {
    make_view(p, t, &tv[t]);
    if (kv_ext && (t == K || t == V)) /* a ragged batch's K/V: the packed rows or the paged cache */
      for (int a = 0; a < 3; a++) tv[t].ext[a] = kv_ext[a];
    if ((st = check_tensor(&tv[t], buffers)) != SIMDATTN_OK) return st;
  }
  if ((st = check_out_disjoint(&tv[OUT])) != SIMDATTN_OK) return st;
  if (!buffers) return SIMDATTN_OK;
  sa_span r[N_VIEWS];
  for (int t = 0; t < WS; t++) r[t].lo = tv[t].lo, r[t].hi = tv[t].hi;
  return check_overlaps(r, ws, ws_size);
}

/* The job of a valid problem: defaults applied, strides of extent-1 dimensions zeroed (never
 * used, so no offset can overflow), the inputs' strides in bytes (whole blocks: checked). */
static inline int64_t stride_of(int64_t ext, int64_t stride) { return ext > 1 ? stride : 0; }
static inline int64_t stride_bytes(int64_t ext, int64_t stride, simdattn_dtype dt) {
  return stride_of(ext, stride) / sa_dtype_block(dt) * sa_dtype_block_bytes(dt);
}
static inline sa_strides strides_bytes(const simdattn_tensor *x, int64_t e0, int64_t e1, int64_t e2) {
  return (sa_strides){stride_bytes(e0, x->stride_batch, x->dtype), stride_bytes(e1, x->stride_head, x->dtype),
                      stride_bytes(e2, x->stride_seq, x->dtype)};
}
/* scale: the resolved scale when the caller's is 0 (the default, 1 / sqrt(head_dim)); < 0: compute it */
static void resolve(const simdattn_problem *p, sa_job *j, float scale) {
  const int64_t d = p->head_dim, dv = p->head_dim_v ? p->head_dim_v : p->head_dim;
  /* field by field, no memset (a `rep stos`, slow to start, once per call) */
  j->batch = p->batch;
  j->heads_q = p->heads_q;
  j->heads_kv = p->heads_kv;
  j->group = p->heads_q / p->heads_kv;
  j->seq_q = p->seq_q;
  j->seq_kv = p->seq_kv;
  j->d = d;
  j->dv = dv;
  j->diag = p->causal == SIMDATTN_CAUSAL_TOP_LEFT ? 0 : p->seq_kv - p->seq_q;
  j->q = (const char *)p->q.data;
  j->k = (const char *)p->k.data;
  j->v = (const char *)p->v.data;
  j->q_dtype = p->q.dtype;
  j->k_dtype = p->k.dtype;
  j->v_dtype = p->v.dtype;
  j->qs = strides_bytes(&p->q, p->batch, p->heads_q, p->seq_q);
  j->ks = strides_bytes(&p->k, p->batch, p->heads_kv, p->seq_kv);
  j->vs = strides_bytes(&p->v, p->batch, p->heads_kv, p->seq_kv);
  j->o_sb = stride_of(p->batch, p->out_stride_batch), j->o_sh = stride_of(p->heads_q, p->out_stride_head);
  j->o_ss = stride_of(p->seq_q, p->out_stride_seq);
  j->m_sb = stride_of(p->batch, p->mask_stride_batch), j->m_sh = stride_of(p->heads_q, p->mask_stride_head);
  j->m_sq = stride_of(p->seq_q, p->mask_stride_q);
  j->out = p->out;
  j->lse = p->lse;
  j->l_sh = p->seq_q;
  j->scale = p->scale != 0.0f ? p->scale : scale >= 0.0f ? scale : 1.0f / sqrtf((float)d);
  j->causal = p->causal;
  j->window = p->window;
  j->mask = p->mask;
  j->softcap = p->softcap;
  j->alibi = p->alibi_slopes;
  j->sinks = p->sinks;
  j->k_scale = p->k_scale;
  j->v_scale = p->v_scale;
  j->kv_scale_stride = p->kv_scale_stride;
  /* the task grid, filled by sa_plan; the harness's order; shared packing, filled by the run */
  j->rows = j->block_rows = j->n_row_blocks = j->chunk_len = j->max_chunks = 0;
  j->n_chunks = j->heads_per_task = j->chunks_per_task = 1;
  j->heads_as_rows = 0;
  j->kv_bytes = 0.0;
  j->partial = NULL;
  j->ref_order = 0;
  j->heads_prefetch = 0;
  j->group_v_ahead = 0;
  j->k_near = 0;
  j->direct_short = 0;
  j->pack = NULL;
  j->pack_state = NULL;
  j->n_kv_blocks = 0;
  j->pack_block_bytes = 0;
  j->pages = NULL;
  j->page_size = 0;
  j->page_shift = -1;
  j->packed_only = 0;
}
#if UINTPTR_MAX == UINT64_MAX && !defined(__ILP32__)
_Static_assert(sizeof(sa_job) == 496, "sa_job changed: resolve() sets every field, set the new one there");
#endif

/* The shape, then every tensor; with `buffers` also their pointers and overlaps. */
static simdattn_status validate(const simdattn_problem *p, int buffers, sa_job *j) {
  if (!p) return BAD("problem must not be NULL");
  simdattn_status st;
  if (p->varlen) return sa_fail(SIMDATTN_ERR_INVALID, "internal: a ragged problem reached the dense validation");
  if ((st = check_shape(p)) != SIMDATTN_OK || (st = check_tensors(p, buffers, NULL, NULL, 0)) != SIMDATTN_OK) return st;
  if (buffers && (st = check_scale_values(p)) != SIMDATTN_OK) return st;
  resolve(p, j, -1.0f);
  return SIMDATTN_OK;
}

/* ---- ragged batches (problem.varlen) ---- */
/* The problem as one dense sequence of seq_q packed rows (batch 1, no varlen): what q, out, lse and
 * the score pipeline are checked and resolved as. */
static void varlen_shadow(const simdattn_problem *p, simdattn_problem *d) {
  *d = *p;
  d->varlen = NULL;
  d->batch = 1;
}

simdattn_status sa_validate_varlen(const simdattn_problem *p, int buffers, sa_job *j, int64_t *kv_rows, const void *ws,
                                   size_t ws_size) {
  const simdattn_varlen *vl = p->varlen;
  const int64_t R = p->batch;
  *kv_rows = 0;
  if (R < 0) return BAD("batch (the number of sequences with varlen) must be >= 0, got %" PRId64, R);
  if (p->mask)
    return BAD(
        "mask must be NULL with varlen (a ragged batch has no one [seq_q][seq_kv] mask; causal, window, "
        "alibi_slopes and softcap apply per sequence)");
  if (vl->block_size < 0)
    return BAD("varlen.block_size must be >= 0 (0: contiguous K/V), got %" PRId64, vl->block_size);
  const int paged = vl->block_size > 0;
  if (paged && vl->num_blocks < 0) return BAD("varlen.num_blocks must be >= 0, got %" PRId64, vl->num_blocks);
  if (paged && vl->block_table_stride < 0)
    return BAD("varlen.block_table_stride must be >= 0, got %" PRId64, vl->block_table_stride);
  if (paged && vl->cu_seqlens_kv)
    return BAD("varlen.cu_seqlens_kv must be NULL for a paged cache (block_size %" PRId64
               "): keys come from "
               "block_table and seqlens_kv",
               vl->block_size);
  simdattn_problem d;
  varlen_shadow(p, &d);
  simdattn_status st;
  if ((st = check_shape(&d)) != SIMDATTN_OK) return st;
  int64_t kv_ext[3] = {1, p->heads_kv, p->seq_kv};
  if (buffers && R > 0) { /* the index arrays, before anything is read through them */
    const int32_t *cq = vl->cu_seqlens_q, *lk = vl->seqlens_kv, *ck = vl->cu_seqlens_kv;
    if (!cq) return BAD("varlen.cu_seqlens_q must not be NULL (batch %" PRId64 ")", R);
    if (cq[0] < 0) return BAD("varlen.cu_seqlens_q[0] must be >= 0, got %d", cq[0]);
    if (paged && !lk) return BAD("varlen.seqlens_kv must not be NULL for a paged cache");
    if (!paged && !ck) return BAD("varlen.cu_seqlens_kv must not be NULL for contiguous K/V (block_size 0)");
    if (!paged && ck[0] < 0) return BAD("varlen.cu_seqlens_kv[0] must be >= 0, got %d", ck[0]);
    for (int64_t r = 0; r < R; r++) {
      if (cq[r + 1] < cq[r])
        return BAD("varlen.cu_seqlens_q must be non-decreasing: sequence %" PRId64 " has cu_seqlens_q[%" PRId64
                   "] = %d < cu_seqlens_q[%" PRId64 "] = %d",
                   r, r + 1, cq[r + 1], r, cq[r]);
      if (cq[r + 1] > p->seq_q)
        return BAD("sequence %" PRId64 ": its query rows [%d, %d) pass the %" PRId64
                   " packed rows (seq_q): cu_seqlens_q[%" PRId64 "] = %d",
                   r, cq[r], cq[r + 1], p->seq_q, r + 1, cq[r + 1]);
      int64_t kv;
      if (!paged) {
        if (ck[r + 1] < ck[r])
          return BAD("varlen.cu_seqlens_kv must be non-decreasing: sequence %" PRId64 " has cu_seqlens_kv[%" PRId64
                     "] = %d < cu_seqlens_kv[%" PRId64 "] = %d",
                     r, r + 1, ck[r + 1], r, ck[r]);
        kv = (int64_t)ck[r + 1] - ck[r];
        if (lk && (lk[r] < 0 || lk[r] > kv))
          return BAD("sequence %" PRId64 ": varlen.seqlens_kv[%" PRId64 "] must be in [0, %" PRId64
                     "] (its rows in cu_seqlens_kv), got %d",
                     r, r, kv, lk[r]);
        if (lk) kv = lk[r];
        if ((int64_t)ck[r + 1] > *kv_rows) *kv_rows = ck[r + 1];
      } else {
        kv = lk[r];
        if (kv < 0)
          return BAD("sequence %" PRId64 ": varlen.seqlens_kv[%" PRId64 "] must be >= 0, got %d", r, r, lk[r]);
      }
      if (kv > p->seq_kv)
        return BAD("sequence %" PRId64 ": kv_len %" PRId64 " passes seq_kv (%" PRId64 ", the most keys a sequence has)",
                   r, kv, p->seq_kv);
      if (paged && kv > 0) {
        const int64_t nb = (kv + vl->block_size - 1) / vl->block_size;
        if (nb > vl->block_table_stride)
          return BAD("sequence %" PRId64 ": kv_len %" PRId64 " needs %" PRId64 " blocks of %" PRId64
                     ", but a row of block_table holds %" PRId64 " (block_table_stride)",
                     r, kv, nb, vl->block_size, vl->block_table_stride);
        if (!vl->block_table) return BAD("varlen.block_table must not be NULL (sequence %" PRId64 " has keys)", r);
        const int32_t *row = vl->block_table + r * vl->block_table_stride;
        for (int64_t b = 0; b < nb; b++)
          if (row[b] < 0 || row[b] >= vl->num_blocks)
            return BAD("sequence %" PRId64 ": block_table[%" PRId64 "][%" PRId64 "] = %d is outside [0, %" PRId64
                       ") (num_blocks)",
                       r, r, b, row[b], vl->num_blocks);
      }
    }
  }
  if (paged) kv_ext[0] = vl->num_blocks, kv_ext[2] = vl->block_size;
  else kv_ext[2] = buffers ? *kv_rows : p->seq_kv;
  if ((st = check_tensors(&d, buffers, kv_ext, ws, ws_size)) != SIMDATTN_OK) return st;
  if (buffers && (st = check_scale_values(&d)) != SIMDATTN_OK) return st;
  resolve(&d, j, -1.0f);
  /* K and V strides of the cache (or the packed rows), whatever a sequence's own seq_kv */
  j->ks = strides_bytes(&p->k, kv_ext[0], p->heads_kv, kv_ext[2]);
  j->vs = strides_bytes(&p->v, kv_ext[0], p->heads_kv, kv_ext[2]);
  if (!paged)
    j->ks.s = stride_bytes(2, p->k.stride_seq, p->k.dtype), j->vs.s = stride_bytes(2, p->v.stride_seq, p->v.dtype);
  j->page_size = vl->block_size;
  j->page_shift = -1;
  if (paged && (vl->block_size & (vl->block_size - 1)) == 0)
    j->page_shift = __builtin_ctzll((unsigned long long)vl->block_size);
  return SIMDATTN_OK;
}

/* Sequence r of a validated ragged problem as a job of batch 1 (base: sa_validate_varlen's) */
void sa_varlen_job(const simdattn_problem *p, const sa_job *base, int64_t r, sa_job *j) {
  const simdattn_varlen *vl = p->varlen;
  const int64_t q0 = vl->cu_seqlens_q[r], q_len = vl->cu_seqlens_q[r + 1] - q0;
  const int paged = vl->block_size > 0;
  const int64_t kv = vl->seqlens_kv ? vl->seqlens_kv[r] : (int64_t)vl->cu_seqlens_kv[r + 1] - vl->cu_seqlens_kv[r];
  *j = *base;
  j->batch = 1;
  j->seq_q = q_len;
  j->seq_kv = kv;
  j->diag = p->causal == SIMDATTN_CAUSAL_TOP_LEFT ? 0 : kv - q_len;
  j->q = base->q + q0 * base->qs.s;
  j->out = base->out + q0 * base->o_ss;
  j->lse = base->lse ? base->lse + q0 : NULL; /* [heads_q][seq_q]: l_sh = the packed rows */
  if (paged) {
    j->pages = kv > 0 ? vl->block_table + r * vl->block_table_stride : NULL;
    if (!j->pages) j->ks.b = j->vs.b = 0;
  } else {
    j->k = base->k + (int64_t)vl->cu_seqlens_kv[r] * base->ks.s;
    j->v = base->v + (int64_t)vl->cu_seqlens_kv[r] * base->vs.s;
  }
}
simdattn_status sa_validate(const simdattn_problem *p, sa_job *j) { return validate(p, 1, j); }
simdattn_status sa_validate_shape(const simdattn_problem *p, sa_job *j) { return validate(p, 0, j); }

/* A view's byte range on execute, as check_tensor computes it: the planned shape's checks hold
 * (no product or offset overflows int64), so only the pointer is checked: present when the
 * tensor is required and not empty, and its last byte inside the address space. */
SA_VIEW_INLINE simdattn_status planned_span(const tensor_view *x, sa_span *r) {
  r->lo = r->hi = 0;
  if (x->row == 0 || x->ext[0] == 0 || x->ext[1] == 0 || x->ext[2] == 0) return SIMDATTN_OK;
  if (!x->data)
    return x->required ? BAD("%s must not be NULL (it holds %" PRId64 " elements)", x->name,
                             x->row * x->ext[0] * x->ext[1] * x->ext[2])
                       : SIMDATTN_OK;
  int64_t span = x->row;
  for (int a = 0; a < 3; a++)
    if (x->ext[a] > 1) span += (x->ext[a] - 1) * x->stride[a];
  const int64_t bytes = span / x->block * x->block_bytes;
  if ((uintptr_t)bytes > UINTPTR_MAX - (uintptr_t)x->data)
    return BAD("%s: element offsets overflow the address space (%" PRId64 " elements)", x->name, span);
  r->lo = (uintptr_t)x->data;
  r->hi = r->lo + (uintptr_t)bytes;
  return SIMDATTN_OK;
}

/* A planned problem's field that must not change on execute */
#define SA_SAME(field, fmt)                                                                                       \
  do {                                                                                                            \
    if (p->field != planned->field)                                                                               \
      return BAD("%s differs from the plan's: planned " fmt ", got " fmt " (simdattn_plan_create plans a shape)", \
                 #field, planned->field, p->field);                                                               \
  } while (0)
#define SA_SAME_PRESENCE(field)                                                                       \
  do {                                                                                                \
    if (!p->field != !planned->field)                                                                 \
      return BAD("%s is %s, but the plan was made %s it (its presence is part of the shape)", #field, \
                 p->field ? "set" : "NULL", planned->field ? "with" : "without");                     \
  } while (0)

/* The job of p, a problem of the plan's shape (SA_SAME: every field but the pointers and seq_kv
 * equals the planned one), from the plan's resolved job j0: what resolve() would make of p, without
 * its strides and defaults computed again (callgrind, 6x6 heads d48 seq_kv 1: sa_validate_planned
 * 825 -> 726 instructions per call). */
static void resolve_planned(const sa_job *j0, const simdattn_problem *p, sa_job *j) {
  *j = *j0;
  j->seq_kv = p->seq_kv;
  j->diag = p->causal == SIMDATTN_CAUSAL_TOP_LEFT ? 0 : p->seq_kv - p->seq_q;
  if (p->seq_kv <= 1) j->ks.s = j->vs.s = 0; /* stride_of: no seq stride for a single key */
  j->q = (const char *)p->q.data;
  j->k = (const char *)p->k.data;
  j->v = (const char *)p->v.data;
  j->out = p->out;
  j->lse = p->lse;
  j->mask = p->mask;
  j->alibi = p->alibi_slopes;
  j->sinks = p->sinks;
  j->k_scale = p->k_scale;
  j->v_scale = p->v_scale;
}

/* The fields every plan fixes, dense or ragged (SA_SAME: equal to the planned problem's) */
static inline __attribute__((always_inline)) simdattn_status same_shape(const simdattn_problem *planned,
                                                                        const simdattn_problem *p) {
  SA_SAME(heads_q, "%" PRId64);
  SA_SAME(heads_kv, "%" PRId64);
  SA_SAME(head_dim, "%" PRId64);
  SA_SAME(head_dim_v, "%" PRId64);
  SA_SAME(q.dtype, "%d");
  SA_SAME(k.dtype, "%d");
  SA_SAME(v.dtype, "%d");
  SA_SAME(q.stride_head, "%" PRId64);
  SA_SAME(q.stride_seq, "%" PRId64);
  SA_SAME(k.stride_batch, "%" PRId64);
  SA_SAME(k.stride_head, "%" PRId64);
  SA_SAME(k.stride_seq, "%" PRId64);
  SA_SAME(v.stride_batch, "%" PRId64);
  SA_SAME(v.stride_head, "%" PRId64);
  SA_SAME(v.stride_seq, "%" PRId64);
  SA_SAME(out_stride_head, "%" PRId64);
  SA_SAME(out_stride_seq, "%" PRId64);
  SA_SAME(scale, "%g");
  SA_SAME(causal, "%d");
  SA_SAME(window, "%" PRId64);
  SA_SAME(softcap, "%g");
  SA_SAME_PRESENCE(lse);
  SA_SAME_PRESENCE(alibi_slopes);
  SA_SAME_PRESENCE(sinks);
  SA_SAME_PRESENCE(k_scale);
  SA_SAME_PRESENCE(v_scale);
  SA_SAME(kv_scale_stride, "%" PRId64);
  return SIMDATTN_OK;
}

simdattn_status sa_validate_planned(const simdattn_problem *planned, const sa_job *j0, const simdattn_problem *p,
                                    const void *ws, size_t ws_size, sa_job *j) {
  if (!p) return BAD("problem must not be NULL");
  SA_SAME(batch, "%" PRId64);
  SA_SAME(seq_q, "%" PRId64);
  if (p->seq_kv < 0 || p->seq_kv > planned->seq_kv)
    return BAD("seq_kv must be in [0, %" PRId64 "] (the plan's largest), got %" PRId64, planned->seq_kv, p->seq_kv);
  SA_SAME(q.stride_batch, "%" PRId64);
  SA_SAME(out_stride_batch, "%" PRId64);
  SA_SAME(mask_stride_batch, "%" PRId64);
  SA_SAME(mask_stride_head, "%" PRId64);
  SA_SAME(mask_stride_q, "%" PRId64);
  SA_SAME_PRESENCE(mask);
  SA_SAME_PRESENCE(varlen);
  simdattn_status st = same_shape(planned, p);
  if (st != SIMDATTN_OK) return st;
  if (p->mask && p->mask_stride_q != 0 && p->mask_stride_q < p->seq_kv) /* can only hold more: seq_kv shrank */
    return BAD("mask_stride_q must be 0 (broadcast) or >= seq_kv (%" PRId64 "), got %" PRId64, p->seq_kv,
               p->mask_stride_q);
  /* the plan checked the shape (strides, and every offset of any seq_kv up to its maximum fits
   * int64): what is new is the pointers, so only their ranges are checked (the views whole and
   * check_tensor per call were a third of a small decode call's fixed cost) */
  sa_span r[N_VIEWS];
#pragma GCC unroll 10
  for (int t = Q; t < WS; t++) { /* unrolled: each view's make_view folds to the fields read */
    tensor_view x;
    make_view(p, t, &x);
    if ((st = planned_span(&x, &r[t])) != SIMDATTN_OK) return st;
  }
  if ((st = check_overlaps(r, ws, ws_size)) != SIMDATTN_OK) return st;
  if (j0->k_scale || j0->v_scale) /* (the plan's: present in both or in neither) */
    if ((st = check_scale_values(p)) != SIMDATTN_OK) return st;
  resolve_planned(j0, p, j);
  return SIMDATTN_OK;
}

/* A ragged problem executed on a plan made for `planned` (both with varlen): the same shape but
 * for batch, seq_q and seq_kv, each at most the planned one, and the same block_size; then every
 * check of sa_validate_varlen (the index arrays are new on every call). */
simdattn_status sa_validate_varlen_planned(const simdattn_problem *planned, const simdattn_problem *p, const void *ws,
                                           size_t ws_size, sa_job *j) {
  if (!p) return BAD("problem must not be NULL");
  if (!p->varlen) return BAD("varlen is NULL, but the plan was made with it (its presence is part of the shape)");
  static const char *const what[3] = {"batch", "seq_q", "seq_kv"};
  const int64_t want[3] = {planned->batch, planned->seq_q, planned->seq_kv}, got[3] = {p->batch, p->seq_q, p->seq_kv};
  for (int a = 0; a < 3; a++)
    if (got[a] < 0 || got[a] > want[a])
      return BAD("%s must be in [0, %" PRId64 "] (the plan's largest), got %" PRId64, what[a], want[a], got[a]);
  SA_SAME(varlen->block_size, "%" PRId64);
  const simdattn_status st = same_shape(planned, p);
  if (st != SIMDATTN_OK) return st;
  int64_t kv_rows;
  return sa_validate_varlen(p, 1, j, &kv_rows, ws, ws_size);
}

/* ---- ABI: the caller's structs as this library reads them (include/simdattn.h, "ABI") ---- */
#if UINTPTR_MAX == UINT64_MAX /* the 0.1 layouts on LP64: struct_size sits in their padding */
_Static_assert(offsetof(simdattn_problem, softcap) == 264 && offsetof(simdattn_problem, struct_size) == 268 &&
                   offsetof(simdattn_problem, alibi_slopes) == 272 && offsetof(simdattn_problem, sinks) == 280,
               "simdattn_problem's 0.1 members moved: the ABI is frozen");
_Static_assert(sizeof(simdattn_tensor) == 40 && offsetof(simdattn_options, flags) == 32 &&
                   offsetof(simdattn_problem, varlen) == 288,
               "frozen 0.1 and 0.2 layouts changed");
#endif
#define SA_PROBLEM_SIZE_0_1 ((size_t)offsetof(simdattn_problem, sinks) + sizeof(const float *))

simdattn_status sa_import_problem(const simdattn_problem *in, simdattn_problem *buf, const simdattn_problem **use) {
  if (!in) return BAD("problem must not be NULL");
  if (in->struct_size == sizeof *buf) { /* this header's layout: read in place (no copy per call) */
    *use = in;
    return SIMDATTN_OK;
  }
  simdattn_problem *out = buf;
  *use = buf;
  size_t size = in->struct_size ? in->struct_size : SA_PROBLEM_SIZE_0_1;
  if (size < SA_PROBLEM_SIZE_0_1)
    return BAD("struct_size must be 0 (a 0.1 caller) or at least %zu (SIMDATTN_PROBLEM_SIZE), got %u",
               SA_PROBLEM_SIZE_0_1, (unsigned)in->struct_size);
  if (size > sizeof *out) { /* a newer header: fine while it sets nothing this library does not know */
    const unsigned char *tail = (const unsigned char *)in;
    for (size_t b = sizeof *out; b < size; b++)
      if (tail[b])
        return sa_fail(SIMDATTN_ERR_UNSUPPORTED,
                       "the caller's simdattn.h (struct_size %zu) sets a member at byte %zu that this library "
                       "(%s, struct_size %zu) does not know",
                       size, b, SIMDATTN_VERSION_STRING, sizeof *out);
    size = sizeof *out;
  }
  memcpy(out, in, size);
  if (size < sizeof *out) memset((char *)out + size, 0, sizeof *out - size);
  return SIMDATTN_OK;
}

/* 0.1 and 0.2 options end at parallel_pool; 0.3 (a problem that holds varlen) adds flags */
#define SA_PROBLEM_SIZE_0_2 ((size_t)offsetof(simdattn_problem, varlen))
#define SA_OPTIONS_SIZE_0_2 ((size_t)offsetof(simdattn_options, flags))
void sa_import_options(const simdattn_problem *p, const simdattn_options *in, simdattn_options *out) {
  /* versioned with the problem (p->struct_size: 0 is the 0.1 layout) */
  memset(out, 0, sizeof *out);
  const size_t size = p && p->struct_size > SA_PROBLEM_SIZE_0_2 ? sizeof *out : SA_OPTIONS_SIZE_0_2;
  if (in) memcpy(out, in, size);
}

/* ---- the backward pass (simdattn_backward) ---- */
enum { G_DOUT, G_DQ, G_DK, G_DV, G_DSINKS, G_N };
static const char *const grad_name[G_N] = {"dout", "dq", "dk", "dv", "d_sinks"};

static void make_grad_view(const simdattn_problem *p, const simdattn_grad *g, int t, tensor_view *x) {
  static const char *const names[G_N][3] = {{"dout_stride_batch", "dout_stride_head", "dout_stride_seq"},
                                            {"dq_stride_batch", "dq_stride_head", "dq_stride_seq"},
                                            {"dk_stride_batch", "dk_stride_head", "dk_stride_seq"},
                                            {"dv_stride_batch", "dv_stride_head", "dv_stride_seq"},
                                            {"", "", ""}};
  const int64_t d = p->head_dim, dv = p->head_dim_v ? p->head_dim_v : p->head_dim;
  x->name = grad_name[t];
  for (int a = 0; a < 3; a++) x->stride_name[a] = names[t][a];
  x->required = t != G_DSINKS, x->stride_min_row = t != G_DSINKS;
  x->block = 1, x->block_bytes = 4;
  const int kv = t == G_DK || t == G_DV;
  x->ext[0] = p->batch, x->ext[1] = kv ? p->heads_kv : p->heads_q, x->ext[2] = kv ? p->seq_kv : p->seq_q;
  x->row = t == G_DOUT || t == G_DV ? dv : d;
  x->row_name = t == G_DOUT || t == G_DV ? "head_dim_v" : "head_dim";
  const void *data[G_N] = {g ? g->dout : NULL, g ? g->dq : NULL, g ? g->dk : NULL, g ? g->dv : NULL,
                           g ? g->d_sinks : NULL};
  const int64_t zero[3] = {0, 0, 0};
  const int64_t *st = !g                ? zero
                      : t == G_DOUT     ? &g->dout_stride_batch
                      : t == G_DQ       ? &g->dq_stride_batch
                      : t == G_DK       ? &g->dk_stride_batch
                      : t == G_DV       ? &g->dv_stride_batch
                                        : zero;
  x->data = data[t];
  for (int a = 0; a < 3; a++) x->stride[a] = st[a];
  if (t == G_DSINKS) {
    x->ext[0] = x->ext[1] = 1, x->ext[2] = p->heads_q;
    x->stride[0] = x->stride[1] = 0, x->stride[2] = 1;
    x->row = 1, x->row_name = "1";
  }
}

simdattn_status sa_validate_backward(const simdattn_problem *p, const simdattn_grad *g, int buffers, const void *ws,
                                     size_t ws_size, sa_bwd_job *J) {
  if (!p) return BAD("problem must not be NULL");
  if (buffers && !g) return BAD("grad must not be NULL (it names dout and the gradients' buffers)");
  if (g && g->struct_size != 0 && g->struct_size != SIMDATTN_GRAD_SIZE)
    return BAD("grad.struct_size must be SIMDATTN_GRAD_SIZE (%u) or 0, got %u", SIMDATTN_GRAD_SIZE, g->struct_size);
  if (p->varlen) return BAD("varlen is set: the backward pass takes dense problems only (varlen must be NULL)");
  simdattn_status st;
  if ((st = check_shape(p)) != SIMDATTN_OK) return st;
  const simdattn_dtype kvdt[2] = {p->k.dtype, p->v.dtype};
  for (int t = 0; t < 2; t++)
    if (!sa_dtype_float(kvdt[t]))
      return BAD("%s.dtype is %s: the backward pass takes f32, f16 or bf16 inputs (no gradient of a quantized cache)",
                 t ? "v" : "k", sa_dtype_name(kvdt[t]));
  if (buffers && !p->lse)
    return BAD("lse must not be NULL: the backward pass reads the forward's lse (and out) from the problem");
  if ((st = check_tensors(p, buffers, NULL, NULL, 0)) != SIMDATTN_OK) return st;
  if (buffers && g && !g->d_sinks != !p->sinks)
    return BAD(p->sinks ? "d_sinks must not be NULL: the problem has sinks, whose gradient it receives"
                        : "d_sinks must be NULL: the problem has no sinks");
  tensor_view gv[G_N];
  for (int t = 0; t < G_N && g; t++) { /* (planning without g: the gradients are execute's to check) */
    make_grad_view(p, g, t, &gv[t]);
    if ((st = check_tensor(&gv[t], buffers)) != SIMDATTN_OK) return st;
    if (t != G_DOUT && t != G_DSINKS && (st = check_out_disjoint(&gv[t])) != SIMDATTN_OK) return st;
  }
  if (buffers && g) {
    tensor_view tv[N_VIEWS];
    sa_span in[N_VIEWS + 1], out[G_N];
    for (int t = Q; t < WS; t++) {
      make_view(p, t, &tv[t]);
      if ((st = check_tensor(&tv[t], 1)) != SIMDATTN_OK) return st;
      in[t].lo = tv[t].lo, in[t].hi = tv[t].hi;
    }
    in[WS].lo = (uintptr_t)ws;
    in[WS].hi = ws && ws_size <= UINTPTR_MAX - (uintptr_t)ws ? (uintptr_t)ws + ws_size : (uintptr_t)ws;
    in[N_VIEWS].lo = gv[G_DOUT].lo, in[N_VIEWS].hi = gv[G_DOUT].hi;
    for (int t = G_DQ; t < G_N; t++) {
      out[t].lo = gv[t].lo, out[t].hi = gv[t].hi;
      for (int u = 0; u <= N_VIEWS; u++)
        if (overlap(&out[t], &in[u]))
          return BAD("%s overlaps %s: gradients must not alias any input%s", grad_name[t],
                     u == N_VIEWS ? "dout" : view_name[u], u == WS ? " or the workspace" : "");
      for (int u = G_DQ; u < t; u++)
        if (overlap(&out[t], &out[u])) return BAD("%s overlaps %s", grad_name[t], grad_name[u]);
    }
    if ((st = check_scale_values(p)) != SIMDATTN_OK) return st;
  }
  resolve(p, &J->f, -1.0f);
  J->f.rows = J->f.group * J->f.seq_q;
  J->dout = g ? g->dout : NULL;
  J->dq = g ? g->dq : NULL, J->dk = g ? g->dk : NULL, J->dv = g ? g->dv : NULL, J->d_sinks = g ? g->d_sinks : NULL;
  const int64_t b = p->batch, hq = p->heads_q, hkv = p->heads_kv, sq = p->seq_q, skv = p->seq_kv;
  J->do_sb = g ? stride_of(b, g->dout_stride_batch) : 0, J->do_sh = g ? stride_of(hq, g->dout_stride_head) : 0;
  J->do_ss = g ? stride_of(sq, g->dout_stride_seq) : 0;
  J->dq_sb = g ? stride_of(b, g->dq_stride_batch) : 0, J->dq_sh = g ? stride_of(hq, g->dq_stride_head) : 0;
  J->dq_ss = g ? stride_of(sq, g->dq_stride_seq) : 0;
  J->dk_sb = g ? stride_of(b, g->dk_stride_batch) : 0, J->dk_sh = g ? stride_of(hkv, g->dk_stride_head) : 0;
  J->dk_ss = g ? stride_of(skv, g->dk_stride_seq) : 0;
  J->dv_sb = g ? stride_of(b, g->dv_stride_batch) : 0, J->dv_sh = g ? stride_of(hkv, g->dv_stride_head) : 0;
  J->dv_ss = g ? stride_of(skv, g->dv_stride_seq) : 0;
  J->block_kv = J->n_kv_blocks = J->n_parts = J->dpad = 0;
  J->D = J->Ds = J->dq_part = NULL;
  J->ref_order = 0;
  return SIMDATTN_OK;
}
