/* core/kernel.h: the kernel contract — what a variant is handed and what it must do.
 *
 * src/ validates a simdattn_problem and resolves it into an sa_job (defaults applied, input
 * strides in bytes). The work of a job is a grid of tasks; a task is
 * one (batch b, kv head hk, block of packed query rows [r0, r1), key chunk c) — or, in direct mode
 * (decode), of nh consecutive kv heads, each head's arithmetic exactly that of its own one-head task
 * (sa_kernel.max_heads_per_task): run side by side (an interleaved cache, beyond L2), or, when a head
 * has one packed row (plain multi-head decode), as the task's rows, each reading its own head's K
 * and V and run stage by stage over the rows (job->heads_as_rows: the task's setup and block loop
 * serve all its heads, and their dependency chains overlap). A variant's
 * run() computes one task with the workspace it is handed. Tasks never share memory they
 * write, so they run in any order on any thread; the arithmetic a row sees depends only on
 * the job's shape (block sizes, key chunks), never on the thread count.
 *
 * Packed rows: for kv head hk, the group = heads_q / heads_kv query heads that read it are
 * interleaved as r = i * group + g (query row i of query head hk * group + g). Rows that share
 * a position also share their causal range, and every row of a task reads the same K/V, so a
 * packed K/V block serves the whole group (GQA/MQA) at once.
 *
 * Output: with one key chunk (n_chunks == 1) a task writes its rows' out and lse; with several,
 * it writes its rows' partial (m, l, O) to job->partial and src/ merges the chunks in a fixed
 * order (sa_merge_rows in core/softmax.h). Nothing in core/ knows the registry or the API. */
#ifndef SA_CORE_KERNEL_H
#define SA_CORE_KERNEL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "simdattn.h"

#define SA_MAX_HEAD_DIM 512
#define SA_ALIGN 64 /* every workspace section starts on a cache line */

typedef struct sa_strides {
  int64_t b, h, s; /* batch, head, sequence */
} sa_strides;

typedef struct sa_job {
  /* shape */
  int64_t batch, heads_q, heads_kv, group, seq_q, seq_kv;
  int64_t d, dv; /* head_dim and head_dim_v (resolved) */
  int64_t diag;  /* aligned query position i' = i + diag (0 for TOP_LEFT, seq_kv - seq_q otherwise) */
  /* inputs: base pointers and strides, both in bytes (the dtype table converts the caller's
   * element strides: sa_dtype_bytes), and each input's dtype */
  const char *q, *k, *v;
  simdattn_dtype q_dtype, k_dtype, v_dtype;
  sa_strides qs, ks, vs;
  const float *k_scale, *v_scale; /* a scaled (fp8) K or V: kv head hk's scale at [hk kv_scale_stride]; NULL: 1 */
  int64_t kv_scale_stride;
  /* outputs (strides in floats) */
  float *out;
  int64_t o_sb, o_sh, o_ss;
  float *lse;   /* may be NULL */
  int64_t l_sh; /* lse floats between query heads (rows are 1 apart, batches heads_q l_sh): seq_q, or a ragged
                 * batch's packed row count */
  /* score pipeline */
  float scale; /* resolved: never 0 */
  simdattn_causal causal;
  int64_t window; /* 0 = unlimited */
  const float *mask;
  int64_t m_sb, m_sh, m_sq;
  float softcap;
  const float *alibi, *sinks;
  /* task grid (src/ fills it from the variant's tile parameters and the shape only) */
  int64_t rows;         /* group * seq_q packed rows per (b, hk) */
  int64_t block_rows;   /* packed rows per task */
  int64_t n_row_blocks; /* ceil(rows / block_rows) */
  int64_t n_chunks;     /* key chunks (split-KV); 1 = unsplit */
  int64_t chunk_len;    /* keys per chunk (the last may be shorter) */
  int64_t max_chunks;   /* chunks the split aimed at (n_chunks <= it; no shorter seq_kv aims higher) */
  int64_t chunks_per_task; /* consecutive key chunks of one (heads, b, row block) a task runs one after the other */
  int64_t heads_per_task; /* consecutive kv heads one task runs (src/ sa_group_heads: only in direct mode,
                           * for kernels that accept it); 1 otherwise */
  int64_t heads_as_rows;  /* heads_per_task > 1 and rows == 1: a task's heads are its rows (row r: head
                           * hk + r, packed row 0), else its heads run side by side */
  double kv_bytes;        /* the K and V bytes the job reads: batch heads_kv seq_kv (a K row + a V row) (sa_plan) */
  float *partial;       /* n_chunks > 1: [batch][heads_kv][n_chunks][rows][SA_PARTIAL_STRIDE(dv)] */
  int ref_order;        /* the naive reference's operation order (harness only; 0 = the `ref` variant) */
  int direct_short;     /* plain multi-head decode within L2 may take the short path (src/ sa_group_heads from the
                         * size; core/flash_direct.inc sa_direct_short checks the shape) */
  int heads_prefetch;   /* heads side by side beyond L2: prefetch K and V ahead (src/ sa_group_heads, from the
                         * CPU's tuning: the hardware prefetchers of some cores do not follow that order) */
  int group_v_ahead;    /* GQA groups beyond L2: V prefetched during P.V only (src/ sa_group_heads, from the
                         * CPU's tuning) */
  int k_near;           /* beyond L2: K prefetched nearer, no V during S (src/ sa_group_heads, from the CPU's
                         * tuning) */
  /* Shared packing (src/ enables it when a head has several row blocks): every (b, hk, key block)
   * is packed once, by the first task that needs it, into pack + index * pack_block_bytes;
   * pack_state[index] is 0 (empty), SA_PACK_BUSY, or SA_PACK_READY (| SA_PACK_NONFINITE).
   * NULL: each task packs into its own workspace. */
  char *pack;
  atomic_int *pack_state;
  int64_t n_kv_blocks; /* ceil(seq_kv / block_kv); key blocks start at multiples of block_kv */
  size_t pack_block_bytes;
  /* A paged K/V cache (src/ resolves one sequence of a ragged batch into a job of batch 1): key
   * `key` of kv head hk lies in cache block pages[key / page_size] at slot key % page_size, the
   * block ks.b (vs.b) bytes from the previous one (sa_k_row). NULL: rows key * ks.s apart. */
  const int32_t *pages;
  int64_t page_size;
  int page_shift;  /* log2(page_size) when it is a power of two, else -1 */
  int packed_only; /* chunk-invariant mode (SIMDATTN_CHUNK_INVARIANT): every row through the packed path, keys
                    * never split, so a row's arithmetic is a function of its own position and keys only */
} sa_job;

/* a direct-mode task's several kv heads run side by side, each with its own state (not as rows) */
static inline int sa_heads_side_by_side(const sa_job *j) { return j->heads_per_task > 1 && !j->heads_as_rows; }

/* Softcap, alibi, a mask or sinks: such a job's scores are built in natural units with the
 * reference's own operations, never in a kernel's log2 units (core/flash_driver.inc, Score
 * units): a term converted on its own would carry a rounding the others do not. Likewise a
 * scale so large that scale log2 e is past FLT_MAX. */
static inline int sa_job_natural(const sa_job *j) {
  return j->softcap != 0.0f || j->alibi != NULL || j->mask != NULL || j->sinks != NULL || j->scale > 0x1p126f;
}

enum { SA_PACK_BUSY = 1, SA_PACK_READY = 2, SA_PACK_NONFINITE = 4 };

/* A partial row: m, l, then dv floats of unnormalised O (see core/softmax.h). */
#define SA_PARTIAL_STRIDE(dv) ((dv) + 2)

typedef struct sa_task {
  int64_t b, hk;    /* batch, (first) kv head */
  int64_t nh;       /* kv heads hk .. hk + nh - 1 (1 unless job->heads_per_task > 1) */
  int64_t r0, r1;   /* packed rows [r0, r1) */
  int64_t c;        /* key chunk index */
  int64_t kv0, kv1; /* keys [kv0, kv1) of that chunk */
} sa_task;

/* A variant's tiles: what the task grid is cut from (src/), and the edges attn-check derives
 * its tile-edge cases from (harness/cases.c: t - 1, t, t + 1 and 2t + 1 of each). */
typedef struct sa_tiles {
  int64_t block_q;     /* packed query rows per task */
  int64_t block_kv;    /* keys per block (the driver's tiling; 0: a whole row at once) */
  int64_t chunk_kv;    /* minimum keys per split-KV chunk; 0 = this variant never splits keys */
  int64_t mr, nr;      /* register tile: rows x keys */
  int64_t vl;          /* f32 lanes of a vector (head-dim edges) */
  int64_t direct_rows; /* direct (unpacked) mode for a shape of at most this many packed rows */
} sa_tiles;

/* The backward pass (src/backward.c, core/flash_bwd.inc). A job is the forward job (out and lse
 * read as inputs) plus the gradients' tensors (strides in floats). Its work is three phases:
 *   1. per row: D = rowsum(dout o out) into job->D (and a sink's share of d_sinks into job->Ds);
 *   2. tasks (b, hk, part): the key blocks of partition `part` of kv head hk's keys; a task owns
 *      its keys' dk and dv (written once, whole) and its own dQ partial, dq_part[b][hk][part]
 *      (rows x dpad floats, every row of the group, zeroed by the task);
 *   3. per row: dq = the partials summed in the order part = 0, 1, ...; d_sinks per head, rows
 *      summed in order.
 * The partitions are a function of the shape only (src/), so every bit is. */
typedef struct sa_bwd_job {
  sa_job f; /* the forward problem (its task grid unused) */
  const float *dout;
  int64_t do_sb, do_sh, do_ss;
  float *dq, *dk, *dv, *d_sinks;
  int64_t dq_sb, dq_sh, dq_ss, dk_sb, dk_sh, dk_ss, dv_sb, dv_sh, dv_ss;
  /* grid and shared workspace (src/) */
  int64_t block_kv;    /* keys per key block (the kernel's bwd_block_kv) */
  int64_t n_kv_blocks; /* ceil(seq_kv / block_kv) */
  int64_t n_parts;     /* key partitions per (b, hk) */
  int64_t dpad;        /* dq_part row stride: d rounded up to the kernel's vector length */
  float *D;            /* [batch][heads_q][seq_q] */
  float *Ds;           /* [batch][heads_q][seq_q]: -exp(sink - lse) D, each row's share of d_sinks (sinks only) */
  float *dq_part;      /* [batch][heads_kv][n_parts][rows][dpad] */
  int ref_order;       /* the naive reference's operation order (harness only) */
} sa_bwd_job;

static inline float *sa_bwd_dq_part(const sa_bwd_job *j, int64_t b, int64_t hk, int64_t part) {
  return j->dq_part + ((b * j->f.heads_kv + hk) * j->n_parts + part) * j->f.rows * j->dpad;
}
/* a partition's key blocks [*b0, *b1) */
static inline void sa_bwd_part_blocks(const sa_bwd_job *j, int64_t part, int64_t *b0, int64_t *b1) {
  *b0 = part * j->n_kv_blocks / j->n_parts;
  *b1 = (part + 1) * j->n_kv_blocks / j->n_parts;
}

typedef struct sa_kernel {
  void (*run)(const sa_job *job, const sa_task *task, void *workspace);
  size_t (*workspace)(const sa_job *job);        /* bytes one worker needs; 64-byte aligned by the caller */
  size_t (*pack_block_bytes)(const sa_job *job); /* one packed K/V block; NULL: never shared */
  sa_tiles tiles;
  int max_heads_per_task; /* run() takes tasks of several kv heads (direct mode); 0 or 1: one head per task */
  int log2_scores; /* plain jobs' partial states (m) are in log2 units; never sa_job_natural ones (core/softmax.h) */
  /* the backward pass's phase 2 (sa_bwd_job): one task (b, hk, part); NULL: the variant has none */
  void (*bwd_run)(const sa_bwd_job *job, int64_t b, int64_t hk, int64_t part, void *workspace);
  size_t (*bwd_workspace)(const sa_bwd_job *job); /* bytes one worker needs */
  int64_t bwd_block_kv;                           /* keys per backward key block (0: all keys, one block) */
  int64_t bwd_vl;                                 /* f32 lanes (dq_part rows are padded to a multiple) */
  /* sum over x < n of a[x] b[x] with the ISA's multiply-add, x in order: D = dout . out in the
   * arithmetic of the kernel's dP (dout . v), so that dP - D is exactly 0 where out is v (one
   * visible key); NULL: fmaf */
  float (*bwd_rowdot)(const float *a, const float *b, int64_t n);
} sa_kernel;

/* Everything a kernel needs to know about one packed row. */
typedef struct sa_row {
  int64_t h, i;      /* query head and query row */
  int64_t qpos;      /* aligned position i' */
  int64_t lo, hi;    /* keys [lo, hi) pass the causal rule and the window (may be empty) */
  const char *q;     /* the row's q (bytes) */
  float *out;        /* the row's out (dv floats) */
  float *lse;        /* its lse entry or NULL */
  const float *mask; /* its mask row (seq_kv floats) or NULL */
  float slope;       /* alibi slope (0 without alibi) */
  float sink;        /* sink logit */
  int has_sink;
} sa_row;

static inline int64_t sa_min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t sa_max64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t sa_round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
static inline size_t sa_align_bytes(size_t x) { return (x + SA_ALIGN - 1) & ~(size_t)(SA_ALIGN - 1); }

static inline void sa_row_setup(const sa_job *j, int64_t b, int64_t hk, int64_t r, sa_row *row) {
  const int64_t g = j->group, i = g == 1 ? r : r / g, h = g == 1 ? hk : hk * g + r % g;
  row->h = h;
  row->i = i;
  row->qpos = i + j->diag;
  if (j->causal != SIMDATTN_CAUSAL_NONE) {
    row->hi = sa_max64(0, sa_min64(j->seq_kv, row->qpos + 1));
    row->lo = j->window > 0 ? sa_min64(row->hi, sa_max64(0, row->qpos - j->window + 1)) : 0;
  } else {
    row->lo = 0;
    row->hi = j->seq_kv;
  }
  row->q = j->q + b * j->qs.b + h * j->qs.h + i * j->qs.s;
  row->out = j->out + b * j->o_sb + h * j->o_sh + i * j->o_ss;
  row->lse = j->lse ? j->lse + (b * j->heads_q + h) * j->l_sh + i : NULL;
  row->mask = j->mask ? j->mask + b * j->m_sb + h * j->m_sh + i * j->m_sq : NULL;
  row->slope = j->alibi ? j->alibi[h] : 0.0f;
  row->has_sink = j->sinks != NULL;
  row->sink = j->sinks ? j->sinks[h] : 0.0f;
}

/* The byte offset of key `key`'s row in a paged cache (j->pages set; key < seq_kv: the table is
 * read only for the blocks that hold the sequence's keys), block stride bs and slot stride ss */
/* key's block (the table's index) and its slot in that block; a shift and a mask for a power-of-two block size */
static inline int64_t sa_page_split(const sa_job *j, int64_t key, int64_t *slot) {
  if (j->page_shift >= 0) {
    *slot = key & (j->page_size - 1);
    return key >> j->page_shift;
  }
  const int64_t blk = key / j->page_size;
  *slot = key - blk * j->page_size;
  return blk;
}
static inline int64_t sa_page_offset(const sa_job *j, int64_t key, int64_t bs, int64_t ss) {
  int64_t slot;
  const int64_t blk = sa_page_split(j, key, &slot);
  return (int64_t)j->pages[blk] * bs + slot * ss;
}
/* rows[i] = the row of key key0 + i (i < n) in a paged cache, base the head's first row's block 0
 * (j->k + hk * ks.h, or V's), bs and ss the block and slot strides: the table read once per block
 * the keys touch, not once per key (every key < seq_kv) */
static inline void sa_page_rows(const sa_job *j, const char *base, int64_t bs, int64_t ss, int64_t key0, int64_t n,
                                const char **rows) {
  for (int64_t i = 0; i < n;) {
    int64_t slot;
    const int64_t blk = sa_page_split(j, key0 + i, &slot);
    const char *p = base + (int64_t)j->pages[blk] * bs + slot * ss;
    const int64_t run = n - i < j->page_size - slot ? n - i : j->page_size - slot;
    for (int64_t e = 0; e < run; e++, p += ss) rows[i + e] = p;
    i += run;
  }
}
/* Row `key` of K or V for (b, hk). */
static inline const char *sa_k_row(const sa_job *j, int64_t b, int64_t hk, int64_t key) {
  if (j->pages) return j->k + hk * j->ks.h + sa_page_offset(j, key, j->ks.b, j->ks.s);
  return j->k + b * j->ks.b + hk * j->ks.h + key * j->ks.s;
}
static inline const char *sa_v_row(const sa_job *j, int64_t b, int64_t hk, int64_t key) {
  if (j->pages) return j->v + hk * j->vs.h + sa_page_offset(j, key, j->vs.b, j->vs.s);
  return j->v + b * j->vs.b + hk * j->vs.h + key * j->vs.s;
}
/* kv head hk's K and V scales (core/dtype.h, scaled formats; 1 for the others) */
static inline float sa_k_scale(const sa_job *j, int64_t hk) {
  return j->k_scale && sa_dtype_scaled(j->k_dtype) ? j->k_scale[hk * j->kv_scale_stride] : 1.0f;
}
static inline float sa_v_scale(const sa_job *j, int64_t hk) {
  return j->v_scale && sa_dtype_scaled(j->v_dtype) ? j->v_scale[hk * j->kv_scale_stride] : 1.0f;
}
static inline float *sa_partial_row(const sa_job *j, int64_t b, int64_t hk, int64_t c, int64_t r) {
  return j->partial + (((b * j->heads_kv + hk) * j->n_chunks + c) * j->rows + r) * SA_PARTIAL_STRIDE(j->dv);
}

#endif
