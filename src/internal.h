/* src/internal.h: the library's internal interfaces (not installed). harness/ and tests/ may
 * use them through the simdattn_internal static library. */
#ifndef SA_SRC_INTERNAL_H
#define SA_SRC_INTERNAL_H

#include <stdarg.h>

#include "../core/kernel.h"

#define SA_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- errors (error.c) ---- */
/* Records the thread's message and returns `st`. */
simdattn_status sa_fail(simdattn_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sa_clear_error(void);
/* src/quantize.c: n elements of src (a floating-point dtype) as dtype dt at element dst0 of dst, divided by scale
 * first when it is not 1 (an fp8 cache); and the check that a block format gets finite input ("what[x] is ...") */
void sa_quantize_run(void *dst, simdattn_dtype dt, const void *src, simdattn_dtype st, int64_t dst0, int64_t n,
                     float scale);
simdattn_status sa_quantize_check(const char *what, simdattn_dtype dt, const void *src, simdattn_dtype st, int64_t n);

/* ---- the ISA table (isas.inc) ---- */
#include "simdattn_build.h" /* SA_HAVE_<isa>: 1 when this build compiled the ISA (CMakeLists.txt) */

/* SA_IF(SA_HAVE_<isa>, ...) expands to ... when the ISA is built, to nothing otherwise */
#define SA_IF(c, ...) SA_IF_(c, __VA_ARGS__)
#define SA_IF_(c, ...) SA_IF_##c(__VA_ARGS__)
#define SA_IF_1(...) __VA_ARGS__
#define SA_IF_0(...)

/* CPU features: SA_CPU_<ID> bits, one per SA_FEATURE row */
#define SA_FEATURE(id, name, arch, cpuinfo, detect) SA_CPU_BIT_##id,
#define SA_ISA(name, folder, arch, features, flags, probes)
enum {
#include "isas.inc"
  SA_CPU_N_FEATURES
};
#undef SA_FEATURE
#define SA_FEATURE(id, name, arch, cpuinfo, detect) SA_CPU_##id = 1 << SA_CPU_BIT_##id,
enum {
#include "isas.inc"
};
#undef SA_FEATURE
#undef SA_ISA
/* each ISA's features: SA_ISA_CPU_<isa> */
#define SA_FEATURE(id, name, arch, cpuinfo, detect)
#define SA_ISA(name, folder, arch, features, flags, probes) SA_ISA_CPU_##name = (int)(features),
enum {
#include "isas.inc"
};
#undef SA_FEATURE
#undef SA_ISA

/* Detected once (cpuid + xgetbv / getauxval), minus SIMDATTN_DISABLE_ISA. */
unsigned sa_cpu_features(void);
/* This CPU's tunings (cpu_x86.c: by vendor, family and model), detected once: choices that no
 * cpuid feature describes and that never change a bit of any result. */
enum {
  SA_TUNE_HEADS_PREFETCH = 1, /* kv heads side by side (GQA, an interleaved cache) beyond L2: prefetch K and V
                               * ahead (job->heads_prefetch, core/flash_direct.inc) */
  SA_TUNE_GROUP_V_AHEAD = 2,  /* GQA groups beyond L2: V only during P.V, ahead of it, never during S; side by
                               * side with f32 K/V also K nearer (job->group_v_ahead, core/flash_direct.inc) */
  SA_TUNE_K_NEAR = 4          /* beyond L2: K SA_DIRECT_K_AHEAD_NEAR keys ahead instead of SA_DIRECT_K_AHEAD, and
                               * a head read alone fetches no V during S; 4-row groups with f32 K/V beyond L3
                               * also fetch K and V into L2 ahead; GQA groups side by side with f32 K/V
                               * beyond 16 MiB fetch K 2 KiB ahead (job->k_near, core/flash_direct.inc) */
};
unsigned sa_cpu_tuning(void);
/* Comma-separated names of the bits in `f` ("avx2,fma,f16c"); returns buf. */
const char *sa_cpu_feature_names(unsigned f, char *buf, size_t size);
/* The bit of one feature name, 0 if unknown. */
unsigned sa_cpu_feature_bit(const char *name);

/* The ISAs this build has, best first (SA_ISA rows with SA_HAVE_<isa> 1). */
typedef struct sa_isa {
  const char *name;
  unsigned cpu; /* SA_CPU_* bits */
  int probes;   /* <folder>/probes.c is built (harness/baselines.c) */
} sa_isa;
int sa_isa_count(void);
const sa_isa *sa_isa_at(int index);
int sa_isa_available(const sa_isa *isa); /* this CPU runs it */

/* ---- registry (registry.c, variants.inc) ---- */
enum { SA_VARIANT_NO_AUTO = 1u << 0 }; /* tested and benchmarked, never auto-dispatched */

typedef struct sa_variant {
  const char *name; /* <isa>_<dtype>_<algo>_<tile>, or ref / scalar_tiled */
  const char *isa;
  unsigned cpu;    /* SA_CPU_* bits it needs: its ISA's and its own */
  unsigned dtypes; /* SA_DT_BIT(simdattn_dtype) it accepts for q and for k/v, in any combination */
  unsigned flags;
  const sa_kernel *kernel;
} sa_variant;

int sa_variant_total(void);
const sa_variant *sa_variant_at(int index);
const sa_variant *sa_variant_find(const char *name);
int sa_variant_available(const sa_variant *v); /* this CPU runs it */
/* it accepts these dtypes for q, k and v */
int sa_variant_accepts_dtypes(const sa_variant *v, simdattn_dtype q, simdattn_dtype k, simdattn_dtype vt);
int sa_variant_accepts(const sa_variant *v, const sa_job *j);
/* The rows named in names[0..n) (every row when n == 0), in registry order; returns the count. */
int sa_variant_select(const char *const *names, int n, const sa_variant **out, int max);

/* ---- the one-call entry points' workspace (forward.c) ---- */
/* A buffer of at least `bytes` usable bytes from buf + SA_ALIGN (NULL when out of memory): the
 * process's kept buffer when it is large enough, else a fresh one; sa_ws_give hands it back (kept
 * up to 64 MiB, the larger of two kept), so that per-call entry points do not fault in fresh pages. */
char *sa_ws_take(size_t bytes);
void sa_ws_give(char *buf);

/* ---- validation (validate.c) ---- */
/* The caller's problem and options as this library's layouts (include/simdattn.h, "ABI"): the
 * members struct_size covers, the rest zero; a newer caller's unknown members must be zero.
 * *use points at the problem to read: the caller's own when it has this header's layout, else
 * buf, filled. */
simdattn_status sa_import_problem(const simdattn_problem *in, simdattn_problem *buf, const simdattn_problem **use);
void sa_import_options(const simdattn_problem *p, const simdattn_options *in, simdattn_options *out);
/* Checks every field of p and resolves it into *j (task grid left empty). */
simdattn_status sa_validate(const simdattn_problem *p, sa_job *j);
/* The shape only (simdattn_plan_create): data pointers are not checked and may be NULL; the
 * optional inputs and lse count as present when their pointers are non-NULL. */
simdattn_status sa_validate_shape(const simdattn_problem *p, sa_job *j);
/* A problem executed on a plan made for `planned` (simdattn_plan_execute; j0 the plan's resolved
 * job): the same shape field by field, seq_kv at most the planned one, then the pointer and bound
 * checks only (NULL, ranges, aliasing, and no overlap with the workspace [ws, ws + ws_size)); j is
 * j0 with p's pointers and seq_kv. */
simdattn_status sa_validate_planned(const simdattn_problem *planned, const sa_job *j0, const simdattn_problem *p,
                                    const void *ws, size_t ws_size, sa_job *j);

/* A ragged problem (p->varlen set): its index arrays when `buffers` (every sequence's query rows,
 * key count and, paged, block-table entries), then the problem as one dense sequence of the packed
 * rows with the K/V cache's strides; *kv_rows: contiguous K/V rows the sequences use. */
simdattn_status sa_validate_varlen(const simdattn_problem *p, int buffers, sa_job *j, int64_t *kv_rows, const void *ws,
                                   size_t ws_size);
/* A ragged problem on a plan made for `planned`: the plan's shape (batch, seq_q and seq_kv at most
 * its), then sa_validate_varlen with the workspace [ws, ws + ws_size) kept clear of every tensor. */
simdattn_status sa_validate_varlen_planned(const simdattn_problem *planned, const simdattn_problem *p, const void *ws,
                                           size_t ws_size, sa_job *j);
/* The backward pass (simdattn_backward): p as the forward problem that ran (lse required with
 * `buffers`), g's dout and gradients (g may be NULL when not `buffers`: planning), no gradient
 * overlapping an input, another gradient or the workspace [ws, ws + ws_size). J's grid is left
 * empty (src/backward.c). */
simdattn_status sa_validate_backward(const simdattn_problem *p, const simdattn_grad *g, int buffers, const void *ws,
                                     size_t ws_size, sa_bwd_job *J);
/* src/backward.c: a backward plan's shape (the caller's problem imported), options (variant resolved), variant and
 * workspace bytes; and its execution */
simdattn_status sa_bwd_plan_make(const simdattn_problem *caller, const simdattn_options *caller_opt,
                                 simdattn_problem *shape, simdattn_options *opt, const struct sa_variant **v,
                                 size_t *bytes);
simdattn_status sa_bwd_plan_execute(const simdattn_problem *shape, const struct sa_variant *v,
                                    const simdattn_options *opt, size_t bytes, const simdattn_problem *caller,
                                    const simdattn_grad *g, void *workspace, size_t workspace_size);
/* simdattn_backward with the `ref` variant's naive operation order ref_order (ref/ref.h; harness only) */
simdattn_status sa_backward_ordered(const simdattn_problem *p, const simdattn_grad *g, const simdattn_options *opt,
                                    int ref_order);
/* Sequence r of a validated ragged problem as a job of batch 1 (base: sa_validate_varlen's). */
void sa_varlen_job(const simdattn_problem *p, const sa_job *base, int64_t r, sa_job *j);

/* ---- planning and running (forward.c, parallel.c) ---- */
/* Picks the variant for p under opt (named, SIMDATTN_VARIANT, or auto). */
simdattn_status sa_choose_variant(const sa_job *j, const simdattn_options *opt, const sa_variant **out);
/* Fills the task grid of j for kernel k: a function of the shape only. */
void sa_plan(sa_job *j, const sa_kernel *k);
int64_t sa_task_count(const sa_job *j);
/* K/V bytes beyond which decode on an interleaved cache runs several kv heads per task (forward.c);
 * attn-check and the tests set 0 so that every such case runs that way too (same bits). */
extern double sa_group_heads_min_bytes;
extern double sa_heads_as_rows_max_bytes;
/* K/V bytes up to which plain multi-head decode may take the driver's short path (forward.c); the
 * tests and attn-check's plan check set -1 (never) to compare its bits with the general path's. */
extern double sa_direct_short_max_bytes;
void sa_task_at(const sa_job *j, int64_t index, sa_task *t);
/* Runs a planned job on variant v: allocates, runs every task, merges key chunks. */
simdattn_status sa_execute(sa_job *j, const sa_variant *v, const simdattn_options *opt);
/* Per-worker workspace bytes and split-KV partial bytes of a planned job (for attn-bench). */
size_t sa_workspace_bytes(const sa_job *j, const sa_variant *v, int workers);

/* simdattn_forward with a chosen reference operation order (harness only). */
simdattn_status sa_forward_ordered(const simdattn_problem *p, const simdattn_options *opt, int ref_order);

/* Run fn(ctx, i) for i in [0, count) on n_threads (0 = all), or on the caller's hook. */
typedef void (*sa_task_fn)(void *ctx, int64_t index, int worker);
int sa_parallel_workers(const simdattn_options *opt, int64_t count);
void sa_parallel_run(const simdattn_options *opt, int64_t count, int workers, sa_task_fn fn, void *ctx);

#endif
