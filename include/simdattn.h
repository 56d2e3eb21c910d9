/* simdattn: scaled-dot-product attention kernels for CPUs.
 *
 * The one public header. Names and semantics here are a contract: add, never rename.
 * README.md ("Semantics") states exactly what simdattn_forward computes; in short, for
 * every batch b, query head h and query row i:
 *
 *   s_ij  = scale * (q_i . k_j), then softcap, then + alibi, then + mask
 *   out_i = sum over visible j of softmax(s)_j * v_j   (sinks join the denominator only)
 *   lse_i = log of that denominator
 *
 * A zero-initialised simdattn_problem plus pointers, sizes and strides means plain
 * non-causal attention with scale 1/sqrt(head_dim). */
#ifndef SIMDATTN_H
#define SIMDATTN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SIMDATTN_STATIC)
#define SIMDATTN_API
#elif defined(__GNUC__)
#define SIMDATTN_API __attribute__((visibility("default")))
#else
#define SIMDATTN_API
#endif

/* The version (CMakeLists.txt reads these three lines: one source for the header, the library's
 * simdattn_version(), the CMake package and the .pc file). SIMDATTN_VERSION_NUMBER is comparable:
 * #if SIMDATTN_VERSION_NUMBER >= 300 (0.3.0). */
#define SIMDATTN_VERSION_MAJOR 0
#define SIMDATTN_VERSION_MINOR 5
#define SIMDATTN_VERSION_PATCH 0
#define SIMDATTN_VERSION_NUMBER (SIMDATTN_VERSION_MAJOR * 10000 + SIMDATTN_VERSION_MINOR * 100 + SIMDATTN_VERSION_PATCH)

typedef enum {
  SIMDATTN_OK = 0,
  SIMDATTN_ERR_INVALID = 1,     /* the request is malformed; simdattn_last_error() says which field */
  SIMDATTN_ERR_UNSUPPORTED = 2, /* well-formed, but the named variant cannot run it on this CPU */
  SIMDATTN_ERR_NOMEM = 3        /* a workspace allocation failed; nothing was written */
} simdattn_status;

/* Element formats. q is f32, f16 or bf16; k and v may be any of them, each its own (llama.cpp's
 * -ctk q8_0 -ctv q4_0). The quantized formats are judged on their exactly dequantized values
 * (README, "Quantized KV caches"):
 *   Q8_0     a GGUF q8_0 block per 32 elements: f16 scale d, then 32 int8 q (34 bytes); value d q
 *   Q4_0     a GGUF q4_0 block per 32 elements: f16 scale d, then 16 bytes of 4-bit q, elements
 *            0-15 in the low nibbles, 16-31 in the high ones (18 bytes); value d (q - 8)
 *   FP8E4M3  OCP FP8 E4M3 (no infinities; S.1111.111 is NaN), one byte; value fl(scale x)
 *   FP8E5M2  OCP FP8 E5M2 (IEEE-like: infinities and NaNs), one byte; value fl(scale x)
 * Block formats need head_dim (head_dim_v for v) and every stride a multiple of 32, in elements;
 * the fp8 formats take the problem's k_scale / v_scale (per tensor or per kv head). */
typedef enum {
  SIMDATTN_F32 = 0,
  SIMDATTN_F16 = 1,
  SIMDATTN_BF16 = 2,
  SIMDATTN_Q8_0 = 3,    /* (0.4) */
  SIMDATTN_Q4_0 = 4,    /* (0.4) */
  SIMDATTN_FP8E4M3 = 5, /* (0.4) */
  SIMDATTN_FP8E5M2 = 6  /* (0.4) */
} simdattn_dtype;

typedef enum {
  SIMDATTN_CAUSAL_NONE = 0,
  SIMDATTN_CAUSAL_TOP_LEFT = 1,     /* key j visible to query i iff j <= i                  (PyTorch is_causal) */
  SIMDATTN_CAUSAL_BOTTOM_RIGHT = 2, /* key j visible to query i iff j <= i + seq_kv - seq_q  (KV-cache decode, FlashAttention) */
} simdattn_causal;

typedef struct {
  const void *data;
  simdattn_dtype dtype;
  int64_t stride_batch, stride_head, stride_seq; /* in elements; the head_dim elements of one row are contiguous */
} simdattn_tensor;

/* A ragged batch (the shape serving engines call: vLLM's query_start_loc / seq_lens / block_table,
 * FlashAttention's varlen cu_seqlens_q / cu_seqlens_k / block_table). With problem.varlen set:
 *   batch   the number of sequences R; sequence r is exactly today's problem of seq_q = q_len[r] =
 *           cu_seqlens_q[r + 1] - cu_seqlens_q[r] and seq_kv = kv_len[r] (causal alignment, window,
 *           softcap, alibi, sinks, GQA/MQA, head_dim_v all per sequence; mask is refused);
 *   seq_q   the packed query rows: q and out hold seq_q rows (stride_seq apart; stride_batch unused),
 *           sequence r owning rows [cu_seqlens_q[r], cu_seqlens_q[r + 1]); lse is [heads_q][seq_q];
 *   seq_kv  the most keys any sequence has (kv_len[r] <= seq_kv);
 *   k, v    contiguous (block_size 0): packed rows as q, sequence r's keys at rows
 *           [cu_seqlens_kv[r], cu_seqlens_kv[r] + kv_len[r]) (stride_batch unused); or paged
 *           (block_size >= 1): a cache of num_blocks blocks of block_size slots, stride_batch between
 *           blocks, stride_seq between slots, stride_head between kv heads — vLLM's CPU layout
 *           [num_blocks][heads_kv][block_size][d] and FlashAttention's [num_blocks][block_size][heads_kv][d]
 *           alike — where key j of sequence r lies in block block_table[r * block_table_stride +
 *           j / block_size], slot j % block_size. Blocks no sequence's table names are never read.
 * Every index is checked before anything is written (SIMDATTN_ERR_INVALID names the sequence, the
 * position and the value). A sequence's out and lse are bitwise those it gets alone, in any batch,
 * at any position, with any threads, contiguous or paged at any block size, and through
 * simdattn_forward as a dense problem of batch 1 (README, "Ragged batches and paged caches"). */
typedef struct {
  const int32_t *cu_seqlens_q;  /* [batch + 1]: non-decreasing, cu_seqlens_q[batch] <= seq_q */
  const int32_t *seqlens_kv;    /* [batch]: kv_len[r]; NULL: cu_seqlens_kv[r + 1] - cu_seqlens_kv[r] (contiguous only) */
  const int32_t *cu_seqlens_kv; /* [batch + 1]: contiguous K/V rows of each sequence; NULL when paged */
  const int32_t *block_table;   /* paged: [batch][block_table_stride] block indices in [0, num_blocks) */
  int64_t block_table_stride;   /* entries per sequence in block_table (>= the blocks kv_len[r] needs) */
  int64_t block_size;           /* 0: contiguous K/V; >= 1: paged, slots per block */
  int64_t num_blocks;           /* paged: blocks in the cache */
} simdattn_varlen;

typedef struct {
  int64_t batch, heads_q, heads_kv; /* heads_q % heads_kv == 0; query head h reads kv head h / (heads_q / heads_kv) (GQA/MQA) */
  int64_t seq_q, seq_kv;
  int64_t head_dim;   /* of q and k */
  int64_t head_dim_v; /* of v and out; 0 means head_dim */
  simdattn_tensor q, k, v; /* q [batch][heads_q][seq_q][head_dim], k [batch][heads_kv][seq_kv][head_dim], v [..][seq_kv][head_dim_v] */
  float *out;              /* [batch][heads_q][seq_q][head_dim_v], always f32 */
  int64_t out_stride_batch, out_stride_head, out_stride_seq;
  float *lse;  /* optional, [batch][heads_q][seq_q] contiguous: natural log of the softmax denominator (sinks included); NULL skips */
  float scale; /* 0 means 1/sqrt(head_dim) */
  simdattn_causal causal;
  int64_t window;    /* with causal: a query sees at most `window` keys ending at its diagonal; 0 = unlimited */
  const float *mask; /* optional additive [seq_q][seq_kv] (kv contiguous, -INFINITY hides a key) */
  int64_t mask_stride_batch, mask_stride_head, mask_stride_q; /* head steps over query heads; stride 0 broadcasts */
  float softcap;             /* 0 = off; else s = softcap * tanh(s / softcap) */
  uint32_t struct_size;      /* SIMDATTN_PROBLEM_SIZE, or 0 (a caller built against 0.1): see "ABI" below */
  const float *alibi_slopes; /* optional [heads_q]: adds slope[h] * (j - i'), i' the aligned query position */
  const float *sinks;        /* optional [heads_q]: one extra logit per head that joins the softmax denominator only */
  const simdattn_varlen *varlen; /* optional (0.3): a ragged batch, contiguous or paged K/V (see simdattn_varlen) */
  /* (0.4) fp8 K/V scales (vLLM's k_scale / v_scale): an fp8 element x of k means fl(k_scale[s] * x) in f32,
   * s = kv head * kv_scale_stride (0: one scale for the tensor). NULL: 1. Only for fp8 dtypes; finite, |scale| <= 2^64. */
  const float *k_scale, *v_scale;
  int64_t kv_scale_stride;
  /* new members only here, at the end */
} simdattn_problem;

/* ABI. A library serves callers built against an older header: `struct_size` tells it which header
 * the caller saw. It lives where 0.1 had padding, so a caller built against 0.1 that zero-
 * initialised its problem (as it was told to) passes 0, and 0 means the 0.1 layouts; a caller of
 * this header sets it to SIMDATTN_PROBLEM_SIZE (= sizeof(simdattn_problem)), and the library reads
 * only the members that size covers — in simdattn_problem and in simdattn_options, which are
 * versioned together. simdattn_tensor is frozen; new members are only ever appended to
 * simdattn_problem and simdattn_options. A caller built against a newer header than the library
 * gets SIMDATTN_ERR_UNSUPPORTED if it sets a member the library does not know (a zero tail is
 * accepted). The shared library's SOVERSION is the major version: within 0.x, a newer library
 * runs binaries built against an older header. */
#define SIMDATTN_PROBLEM_SIZE ((uint32_t)sizeof(simdattn_problem))

/* A caller-supplied thread pool: must call task(task_ctx, i) exactly once for every i in
 * [0, count), in any order and on any threads, and return only when all calls have finished. */
typedef void (*simdattn_parallel_fn)(void *pool, void (*task)(void *task_ctx, int64_t index),
                                     void *task_ctx, int64_t count);

typedef struct {
  int n_threads;                 /* 0: all the runtime offers; 1: the calling thread only */
  const char *variant;           /* NULL: best for this CPU and problem (env SIMDATTN_VARIANT overrides NULL); else a registry name */
  simdattn_parallel_fn parallel; /* optional: run the library's independent tasks on the caller's own thread pool */
  void *parallel_pool;
  unsigned flags; /* (0.3) SIMDATTN_* option bits below; 0: none */
} simdattn_options;

/* Chunk invariance (opt-in): a query row's out and lse are a function of its own q, position and
 * keys only — a prompt computed in chunks over its cached prefix (chunked prefill) gives the bits
 * it gets in one call, and a decode row the bits of that row inside a prefill. Every row then runs
 * the prefill path and keys are never split (its cost: README, "Ragged batches and paged caches"). */
#define SIMDATTN_CHUNK_INVARIANT 1u

SIMDATTN_API simdattn_status simdattn_forward(const simdattn_problem *p,
                                              const simdattn_options *opt /* NULL = defaults */);

/* ---- plan once, execute many times (an engine's per-token, per-layer call) ----
 * simdattn_plan_create validates p and opt, resolves defaults, reads the environment once
 * (SIMDATTN_VARIANT, SIMDATTN_DEBUG) and chooses the variant; p's data pointers are not read (they
 * may be NULL), and p->seq_kv is the largest seq_kv the plan serves. simdattn_plan_execute then
 * runs a problem of the same shape — every field equal to the planned one except the data
 * pointers (q.data, k.data, v.data, out, lse, mask, alibi_slopes, sinks), which may change on
 * every call, and seq_kv, which may be anything from 0 to the planned maximum (a growing KV cache)
 * — in the caller's workspace: no allocation, no environment read, only pointer and bound checks.
 * Its results are bitwise those of simdattn_forward on the same problem (the split into tasks and
 * key chunks is a function of one sequence's executed shape, never of the planned maximum, the
 * batch size or the threads: a batch entry gets the bits it gets alone).
 * A plan made for a ragged problem (problem.varlen) serves any batch of at most its batch sequences,
 * seq_q packed rows and seq_kv keys a sequence, with the same block_size (0 or not) and otherwise the
 * same shape; its index arrays and num_blocks may change on every call, and are checked on every call.
 * A plan is immutable: several threads may execute one plan at once, each with its own workspace
 * (the options' parallel hook, if any, must then be safe to call concurrently). */
typedef struct simdattn_plan simdattn_plan;

#define SIMDATTN_WORKSPACE_ALIGN 64 /* the workspace's address must be a multiple of this */

SIMDATTN_API simdattn_status simdattn_plan_create(const simdattn_problem *p, const simdattn_options *opt /* NULL = defaults */,
                                                  simdattn_plan **plan);
/* Bytes of workspace plan_execute needs for any problem the plan serves (0 is possible). */
SIMDATTN_API size_t simdattn_plan_workspace_size(const simdattn_plan *plan);
/* The registry name of the variant the plan runs. */
SIMDATTN_API const char *simdattn_plan_variant(const simdattn_plan *plan);
/* workspace: at least simdattn_plan_workspace_size bytes, SIMDATTN_WORKSPACE_ALIGN-aligned, not
 * overlapping any input or output; its contents need not be initialised and are garbage after. */
SIMDATTN_API simdattn_status simdattn_plan_execute(const simdattn_plan *plan, const simdattn_problem *p,
                                                   void *workspace, size_t workspace_size);
SIMDATTN_API void simdattn_plan_destroy(simdattn_plan *plan); /* NULL is allowed */

/* ---- writing new K/V rows into a paged cache (vLLM's reshape_and_cache, SGLang's set_kv_buffer) ----
 * Row t of k and v (t < n_rows: k [n_rows][heads_kv][head_dim] through its stride_seq and
 * stride_head, stride_batch unused; v likewise with head_dim_v) goes to cache slot slots[t]: block
 * slots[t] / block_size, slot slots[t] % block_size, converted to the cache's dtype (rounded to
 * nearest even; a quantized cache by simdattn_quantize's rules, an fp8 one divided by its scale). A slot of -1 skips the row (vLLM's padding); any other slot outside [0, num_blocks
 * block_size) is SIMDATTN_ERR_INVALID naming the row and the value, with nothing written. The
 * caches are addressed as a paged problem's k and v (stride_batch between blocks, stride_seq
 * between slots, stride_head between kv heads). Two rows naming one slot: the later row wins. */
typedef struct {
  void *data;
  simdattn_dtype dtype;
  int64_t stride_block, stride_head, stride_slot; /* in elements */
} simdattn_cache;

typedef struct {
  int64_t n_rows, heads_kv, head_dim, head_dim_v; /* head_dim_v 0 means head_dim */
  simdattn_tensor k, v;                           /* the new rows (f32, f16 or bf16) */
  const int32_t *slots;                           /* [n_rows] */
  simdattn_cache k_cache, v_cache;
  int64_t block_size, num_blocks;
  uint32_t struct_size; /* SIMDATTN_KV_APPEND_SIZE (= sizeof(simdattn_kv_append_args)); a 0.3 caller's smaller size
                         * is accepted (no scales) */
  /* (0.4) an fp8 cache's scales, as the problem's k_scale / v_scale: row element x is stored as fp8(x / scale) */
  const float *k_scale, *v_scale;
  int64_t kv_scale_stride;
} simdattn_kv_append_args;
#define SIMDATTN_KV_APPEND_SIZE ((uint32_t)sizeof(simdattn_kv_append_args))

SIMDATTN_API simdattn_status simdattn_kv_append(const simdattn_kv_append_args *a);

/* ---- quantizers (0.4): n elements of src (f32, f16 or bf16) into dst in dtype dst_dtype ----
 * Bit-identical to the quantizers users already have:
 *   Q8_0  ggml's quantize_row_q8_0_ref: per block of 32, amax = max |x|, d = amax / 127, id = 1 / d (0 when d is 0),
 *         q = roundf(x id) (half away from zero), d stored as f16 (round to nearest even)
 *   Q4_0  ggml's quantize_row_q4_0_ref: m = the element of largest |x| (the first such), d = m / -8, id as above,
 *         q = min(15, (int)(x id + 8.5)) (truncation), d stored as f16
 *   FP8   OCP E4M3 / E5M2 of x / scale (scale 0 means 1), round to nearest even, saturating to the largest finite
 *         value (inf too), NaN stays NaN (vLLM's scaled conversion with saturation)
 *   F32, F16, BF16  round to nearest even (scale must be 0 or 1)
 * Block formats need n a multiple of 32 and finite input (else SIMDATTN_ERR_INVALID naming the element).
 * Every product and quotient is one f32 operation, so the bits do not depend on the CPU or the compiler. */
SIMDATTN_API simdattn_status simdattn_quantize(void *dst, simdattn_dtype dst_dtype, const void *src,
                                               simdattn_dtype src_dtype, int64_t n, float scale);

/* ---- sizes (0.5): the bytes of n consecutive elements of dtype t, for sizing caches and rows ----
 * (strides stay in elements): 4 n for F32, 2 n for F16 and BF16, n for the FP8 formats, and for the
 * block formats n / 32 whole blocks of 34 (Q8_0) or 18 (Q4_0) bytes. -1 (simdattn_last_error says
 * why) when t is not a simdattn_dtype, n is negative, n is not a multiple of a block format's 32, or
 * the bytes would exceed INT64_MAX. */
SIMDATTN_API int64_t simdattn_dtype_bytes(simdattn_dtype t, int64_t n);

/* ---- the backward pass (0.5): gradients of a forward call, for training loops ----
 * Given the forward problem p exactly as it ran (shapes, strides, dtypes, every feature), with
 * p->out and p->lse holding that call's outputs (read here, never written: lse is required), and
 * dout = dL/d(out), simdattn_backward writes dq = dL/dq, dk = dL/dk, dv = dL/dv and, when p->sinks
 * is set, d_sinks = dL/d(sinks) (summed over batches and rows), all f32. With GQA/MQA a kv head's
 * dk and dv sum over its query group. The mask and the alibi slopes get no gradient (they are
 * inputs, not parameters). FlashAttention-2's backward (Dao 2023, Algorithm 2): P recomputed per
 * tile from q, k and the saved lse, never materialised; memory O(seq_q + seq_kv). Bitwise
 * deterministic: the same bits for every thread count and with a caller's pool (no atomics; the
 * split into tasks is a function of the shape only). Dense problems with f32, f16 or bf16 q, k
 * and v; a ragged problem (varlen) or a quantized K/V is SIMDATTN_ERR_INVALID. README, "Backward
 * pass", says what each gradient is, and how attn-check judges it against float64 gradients. */
typedef struct {
  const float *dout; /* [batch][heads_q][seq_q][head_dim_v] */
  int64_t dout_stride_batch, dout_stride_head, dout_stride_seq;
  float *dq; /* [batch][heads_q][seq_q][head_dim] */
  int64_t dq_stride_batch, dq_stride_head, dq_stride_seq;
  float *dk; /* [batch][heads_kv][seq_kv][head_dim] */
  int64_t dk_stride_batch, dk_stride_head, dk_stride_seq;
  float *dv; /* [batch][heads_kv][seq_kv][head_dim_v] */
  int64_t dv_stride_batch, dv_stride_head, dv_stride_seq;
  float *d_sinks;       /* [heads_q]: required when p->sinks is set, else must be NULL */
  uint32_t struct_size; /* SIMDATTN_GRAD_SIZE (or 0: this header's layout) */
  /* new members only here, at the end */
} simdattn_grad;
#define SIMDATTN_GRAD_SIZE ((uint32_t)sizeof(simdattn_grad))

SIMDATTN_API simdattn_status simdattn_backward(const simdattn_problem *p, const simdattn_grad *g,
                                               const simdattn_options *opt /* NULL = defaults */);
/* The plan API for the backward pass (as simdattn_plan_create: shape only, p's and g's data
 * pointers are not read; seq_kv is exactly the planned one). simdattn_plan_workspace_size gives
 * its workspace; simdattn_plan_execute_backward runs it with the bits of simdattn_backward. A
 * backward plan given to simdattn_plan_execute (or a forward plan to _backward) is
 * SIMDATTN_ERR_INVALID. */
SIMDATTN_API simdattn_status simdattn_plan_create_backward(const simdattn_problem *p,
                                                           const simdattn_options *opt /* NULL = defaults */,
                                                           simdattn_plan **plan);
SIMDATTN_API simdattn_status simdattn_plan_execute_backward(const simdattn_plan *plan, const simdattn_problem *p,
                                                            const simdattn_grad *g, void *workspace,
                                                            size_t workspace_size);

/* Thread-local: why the last failing call on this thread failed ("seq_q must be >= 0, got -3").
 * "" after a successful call. Never NULL. */
SIMDATTN_API const char *simdattn_last_error(void);

typedef struct {
  const char *name;
  const char *isa;
  unsigned dtypes; /* bit (1u << simdattn_dtype) for q/k/v */
  int available;   /* 1 when this CPU (and OS) can run it */
} simdattn_variant_info;

SIMDATTN_API int simdattn_variant_count(void);
SIMDATTN_API simdattn_status simdattn_variant_get(int index, simdattn_variant_info *info);
/* What simdattn_forward(p, NULL) would run on this CPU: the variant SIMDATTN_VARIANT names when it
 * is set (and this CPU runs it), else auto-dispatch's pick. NULL when p is invalid or
 * SIMDATTN_VARIANT names a variant that cannot run p (simdattn_last_error says why). */
SIMDATTN_API const char *simdattn_best_variant(const simdattn_problem *p);
SIMDATTN_API const char *simdattn_version(void);

#ifdef __cplusplus
}
#endif
#endif /* SIMDATTN_H */
