/* src/forward.c: simdattn_forward (validate, choose the variant, plan the task grid from the shape
 * only, allocate the workspace, run) and the plan API (the same steps split: validate the shape
 * and choose once; then per call only pointer and bound checks, the grid of the executed shape,
 * and the run in the caller's workspace). Nothing is written to out or lse before every check has
 * passed and every allocation has succeeded. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/softmax.h"
#include "fpenv.h"
#include "internal.h"

/* Split keys into chunks only when one sequence (one batch entry) has fewer than SPLIT_BELOW
 * (kv head, row block) tasks and its keys outnumber its query rows SPLIT_KEYS_PER_ROW to one
 * (decode, long-context cross-attention), aiming at SPLIT_TARGET tasks per sequence: constants and
 * the sequence's own shape, so the split never depends on the thread count or on the batch (a
 * sequence gives the same bits alone or in a batch of any size: tests/test_determinism.c). Square
 * prefill is not split: its rows already give tasks, and merging partial states cost 3% at seq
 * 1024 with one head (measured). */
#define SA_SPLIT_BELOW 16
#define SA_SPLIT_TARGET 64
/* Whole-row tasks (SA_SPLIT_INTERLEAVED_MIN_BYTES below) aim at fewer chunks: 64 chunks of 512 keys
 * cost a head-major 32x32-head decode at seq_kv 32768 2-3% (their states and merges) against 16 of
 * 2048 (Xeon, scripts/bench-pair, paired medians: 32x32 heads BHSD 1.01x, BSHD 1.00x (1 thread) and
 * 0.99x (2), 32x8 BSHD 1.03x, all against the rule before, which split only interleaved caches) */
#ifndef SA_SPLIT_TARGET_ROWS
#define SA_SPLIT_TARGET_ROWS 16
#endif
#define SA_SPLIT_KEYS_PER_ROW 4
/* An interleaved cache (BSHD) beyond L2 is read by tasks of up to max_heads_per_task kv heads side
 * by side (sa_group_heads), each key's rows of those heads together. For the split it counts as
 * those whole-row tasks, not as heads_kv tasks: its keys are then split too (a 32-kv-head cache
 * was not), and threads share out key chunks of whole rows instead of each taking half of every
 * row; beyond L2 by one sequence's K and V, never the batch's. Zen 5, scripts/bench-pair (10
 * rounds, paired medians), d128 BSHD, 2 threads: 32x32 heads seq_kv 8192 1.03-1.20x, 32768
 * 1.09-1.27x (f16 1.10-1.18x), 32x16 1.11-1.24x; 1 thread and within L3 0.97-1.04x. A constant,
 * not sa_group_heads_min_bytes (a test hook): the split is the shape's, whatever a test forces
 * the grouping to be. */
#define SA_SPLIT_INTERLEAVED_MIN_BYTES (1024.0 * 1024)
/* Shared packing of K/V blocks (each packed once per call) when a head has several row blocks,
 * up to this many bytes; beyond it each task packs its own blocks. Shape-only, like the split. */
#define SA_SHARED_PACK_MAX ((size_t)256 << 20)

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static size_t sa_max_size(size_t a, size_t b) { return a > b ? a : b; }
/* K or V rows of consecutive kv heads side by side (BSHD): a row's head stride below its key stride;
 * or a paged cache whose blocks hold less than a page of one head's rows (vLLM's layout at block
 * size 1 or 2: read head by head, each key's row would be a short piece of a block, blocks apart) */
#ifndef SA_PAGED_HEAD_RUN_MIN
#define SA_PAGED_HEAD_RUN_MIN 4096
#endif
static int sa_interleaved(const sa_job *j) {
  if (j->pages && j->page_size * sa_dtype_bytes(j->k_dtype, j->d) < SA_PAGED_HEAD_RUN_MIN) return j->heads_kv > 1;
  return (j->ks.h > 0 && j->ks.h < j->ks.s) || (j->vs.h > 0 && j->vs.h < j->vs.s);
}
/* direct-mode decode whose task may take several kv heads (sa_group_heads) */
static int sa_may_group_heads(const sa_job *j, const sa_kernel *k) {
  return k->max_heads_per_task > 1 && j->heads_kv >= 2 && j->n_row_blocks == 1 && j->rows <= k->tiles.direct_rows &&
         !j->packed_only;
}

/* Key chunks for a sequence of `tasks` (kv head, row block) tasks: constants and the shape */
static int64_t sa_split_chunks(const sa_job *j, const sa_kernel *k, int64_t tasks, int64_t target) {
  const sa_tiles *t = &k->tiles;
  if (j->packed_only || t->chunk_kv <= 0 || tasks <= 0 || tasks >= SA_SPLIT_BELOW || j->seq_kv < 2 * t->chunk_kv ||
      j->seq_kv < SA_SPLIT_KEYS_PER_ROW * j->rows)
    return 1;
  return sa_min64(ceil_div(target, tasks), j->seq_kv / t->chunk_kv);
}

void sa_plan(sa_job *j, const sa_kernel *k) {
  j->rows = j->group * j->seq_q;
  j->block_rows = k->tiles.block_q;
  j->n_row_blocks = ceil_div(j->rows, j->block_rows);
  j->n_chunks = j->max_chunks = 1;
  j->heads_per_task = 1; /* sa_layout_of groups heads once the workers are known */
  j->heads_as_rows = 0;
  j->chunk_len = j->seq_kv;
  /* one sequence's K and V; kv_bytes counts the batch's */
  const double seq_bytes = (double)j->heads_kv * (double)j->seq_kv *
                           (double)(sa_dtype_bytes(j->k_dtype, j->d) + sa_dtype_bytes(j->v_dtype, j->dv));
  j->kv_bytes = (double)j->batch * seq_bytes;
  int64_t tasks = j->heads_kv * j->n_row_blocks, target = SA_SPLIT_TARGET; /* of one sequence: never the batch */
  if (sa_may_group_heads(j, k) && seq_bytes > SA_SPLIT_INTERLEAVED_MIN_BYTES) {
    tasks = ceil_div(j->heads_kv, k->max_heads_per_task); /* whole-row tasks (one row block) */
    target = SA_SPLIT_TARGET_ROWS;
  }
  const int64_t n = sa_split_chunks(j, k, tasks, target);
  j->max_chunks = sa_max64(n, 1);
  if (n > 1) {
    j->chunk_len = sa_round_up(ceil_div(j->seq_kv, n), k->tiles.block_kv > 0 ? k->tiles.block_kv : 1);
    j->n_chunks = ceil_div(j->seq_kv, j->chunk_len);
  }
  /* The split counts whole-row tasks whatever the layout (a sequence's bits are the same in any
   * layout, contiguous or paged: include/simdattn.h). Heads read one by one (a head-major cache)
   * need no whole-row tasks: a task runs several consecutive chunks of its head, each exactly as
   * its own task would (the same bits), so that it streams as long a stretch of K and V as the
   * per-head count gave. Xeon (family 6 model 207), scripts/bench-pair against the per-layout rule,
   * 32x8 heads d128 f32 BHSD seq_kv 8192: paired medians 0.97-0.99 (1 thread), 1.00 (2); 32768 1.01
   * (2 threads). */
  j->chunks_per_task = 1;
  if (j->n_chunks > 1 && !sa_interleaved(j)) {
    const int64_t alone = sa_split_chunks(j, k, j->heads_kv * j->n_row_blocks, SA_SPLIT_TARGET);
    j->chunks_per_task = ceil_div(j->n_chunks, sa_max64(alone, 1));
  }
}

static int64_t sa_head_groups(const sa_job *j) {
  const int64_t hg = j->heads_per_task > 1 ? j->heads_per_task : 1;
  return hg == 1 ? j->heads_kv : (j->heads_kv + hg - 1) / hg;
}

/* Tasks of one key chunk (or one group of chunks_per_task chunks) */
static int64_t sa_chunk_tasks(const sa_job *j) { return j->batch * sa_head_groups(j) * j->n_row_blocks; }
int64_t sa_task_count(const sa_job *j) { return sa_chunk_tasks(j) * ceil_div(j->n_chunks, j->chunks_per_task); }

/* Heads per task for `workers` workers (job->heads_per_task, job->heads_as_rows). Direct mode only.
 * - A head with one packed row (plain multi-head decode: group 1, seq_q 1) whose K and V fit in L2
 *   (SA_HEADS_AS_ROWS_MAX_BYTES): the task's heads become its rows, each reading its own head's K
 *   and V, run stage by stage (core/flash_direct.inc sa_block_direct_rows), so the task's setup and
 *   block loop serve all of them and their dependency chains overlap. (Zen 5, 6 heads, d48: a call
 *   with one key took ~100 ns per head, its arithmetic a few dozen.) Beyond L2 each head keeps its
 *   own task and its own prefetched K/V streams.
 * - An interleaved cache (K or V rows of consecutive heads side by side: BSHD) beyond L2
 *   (SA_GROUP_HEADS_MIN_BYTES): a task running one head reads 1/heads_kv of every stretch, a page and
 *   a DRAM row apart; tasks take consecutive heads and run them side by side, each key's rows of all
 *   of them read together. Zen 5, A/B interleaved, d128: from L3 (16 MB, 32x32 heads, seq_kv 512)
 *   1.2x (1 thread) and 1.5x (2) faster than one head per task, 32x8 at seq_kv 2048 1.15x and 1.23x.
 *   (The old threshold, 32 MiB, was measured while this path also prefetched V.)
 * Either way as many heads as keep every worker busy. Which heads share a task never changes a bit:
 * each head's arithmetic is that of its own task (tests/test_plan.c compares the three). */
#ifndef SA_GROUP_HEADS_MIN_BYTES
#define SA_GROUP_HEADS_MIN_BYTES (1024.0 * 1024) /* beyond L2 */
#endif
#ifndef SA_HEADS_AS_ROWS_MAX_BYTES
#define SA_HEADS_AS_ROWS_MAX_BYTES (1024.0 * 1024) /* within L2 */
#endif
double sa_group_heads_min_bytes = SA_GROUP_HEADS_MIN_BYTES;
double sa_heads_as_rows_max_bytes = SA_HEADS_AS_ROWS_MAX_BYTES;
/* Plain multi-head decode (one packed row per head) within L2 may take the flash driver's short path
 * (core/flash_direct.inc sa_direct_short: each head's operations of the general direct path without
 * its per-task bookkeeping; the same bits). Beyond L2 the general path's K/V prefetches pay. */
#ifndef SA_DIRECT_SHORT_MAX_BYTES
#define SA_DIRECT_SHORT_MAX_BYTES (1024.0 * 1024)
#endif
double sa_direct_short_max_bytes = SA_DIRECT_SHORT_MAX_BYTES;
static void sa_group_heads(sa_job *j, const sa_kernel *k, int workers) {
  j->heads_per_task = 1;
  j->heads_as_rows = 0;
  j->heads_prefetch = 0;
  j->group_v_ahead = j->rows > 1 && (sa_cpu_tuning() & SA_TUNE_GROUP_V_AHEAD);
  j->k_near = (sa_cpu_tuning() & SA_TUNE_K_NEAR) != 0;
  j->direct_short = j->rows == 1 && j->kv_bytes <= sa_direct_short_max_bytes && !j->pages;
  if (!sa_may_group_heads(j, k)) return;
  const int interleaved = sa_interleaved(j);
  const int as_rows = j->rows == 1 && j->kv_bytes <= sa_heads_as_rows_max_bytes;
  if (!as_rows && (!interleaved || j->kv_bytes <= sa_group_heads_min_bytes)) return;
  const int64_t others = j->batch * j->n_chunks; /* tasks per head group */
  const int64_t groups = others >= workers ? 1 : (workers + others - 1) / others;
  j->heads_per_task = sa_max64(1, sa_min64(j->heads_kv / groups, k->max_heads_per_task));
  j->heads_as_rows = as_rows && j->heads_per_task > 1;
  j->heads_prefetch = sa_heads_side_by_side(j) && (sa_cpu_tuning() & SA_TUNE_HEADS_PREFETCH);
}

/* Task order: (key chunk, row block, b, kv head). Consecutive tasks are other heads' (and
 * batches') rows: threads starting together pack different heads' K/V blocks instead of one
 * waiting for the other's (seq 256, 16 heads: 1.2x on 2 threads before, with heads outermost),
 * and split decode reads different heads' K/V side by side, not two halves of one head's. Under a
 * causal rule later row blocks see more keys, so they run first (largest first: the last tasks
 * to start are the small ones, and the threads finish together). Any order gives the same bits;
 * this one only balances. */
/* *x / d, returning *x % d; no division for d == 1 (decode: one batch, one row block, one
 * chunk; a 64-bit division per step was a tenth of a small decode call's time per head) */
static inline int64_t sa_divmod(int64_t *x, int64_t d) {
  if (d == 1) return 0;
  const int64_t r = *x % d;
  *x /= d;
  return r;
}

void sa_task_at(const sa_job *j, int64_t index, sa_task *t) {
  const int64_t hg = j->heads_per_task > 1 ? j->heads_per_task : 1, groups = sa_head_groups(j);
  t->hk = sa_divmod(&index, groups) * hg;
  t->nh = sa_min64(hg, j->heads_kv - t->hk);
  t->b = sa_divmod(&index, j->batch);
  int64_t rb = sa_divmod(&index, j->n_row_blocks);
  t->c = index;
  if (j->causal != SIMDATTN_CAUSAL_NONE) rb = j->n_row_blocks - 1 - rb;
  t->r0 = rb * j->block_rows;
  t->r1 = sa_min64(j->rows, t->r0 + j->block_rows);
  t->kv0 = t->c * j->chunk_len;
  t->kv1 = sa_min64(j->seq_kv, t->kv0 + j->chunk_len);
}

typedef struct {
  const sa_job *job;
  const sa_kernel *kernel;
  char *ws;
  size_t ws_bytes;
} run_ctx;

/* Task `index`: chunks [cg chunks_per_task, ...) of one (heads, b, row block), each as its own task */
static void run_task(void *ctx, int64_t index, int worker) {
  const run_ctx *rc = (const run_ctx *)ctx;
  const sa_job *j = rc->job;
  const int64_t inner = sa_chunk_tasks(j), cg = index / inner, at = index - cg * inner;
  const int64_t c1 = sa_min64(j->n_chunks, (cg + 1) * j->chunks_per_task);
  for (int64_t c = cg * j->chunks_per_task; c < c1; c++) {
    sa_task t;
    sa_task_at(j, c * inner + at, &t);
    rc->kernel->run(j, &t, rc->ws + (size_t)worker * rc->ws_bytes);
  }
}

/* Phase 2 of a split job: merge the chunks of the rows of one (b, kv head, row block). */
static void merge_task(void *ctx, int64_t index, int worker) {
  const run_ctx *rc = (const run_ctx *)ctx;
  const sa_job *j = rc->job;
  (void)worker;
  sa_task t;
  sa_task_at(j, index, &t); /* key chunk 0 of its (b, heads, row block): chunks are outermost */
  float *part[SA_SPLIT_TARGET];
  for (int64_t hk = t.hk; hk < t.hk + t.nh; hk++)
    for (int64_t r = t.r0; r < t.r1; r++) {
      sa_row row;
      sa_row_setup(j, t.b, hk, r, &row);
      for (int64_t c = 0; c < j->n_chunks; c++) part[c] = sa_partial_row(j, t.b, hk, c, r);
      sa_merge_row(part, j->n_chunks, j->dv, &row, rc->kernel->log2_scores && !sa_job_natural(j));
    }
}

/* ---- the workspace of a planned job: per-worker tiles, then the split-key partials, the shared
 * packed K/V blocks and their states, each section 64-byte aligned ---- */
typedef struct {
  int workers;
  size_t worker_bytes;                /* each worker's tiles */
  size_t partial, pack, state, total; /* byte offsets of the sections, and the whole */
} sa_layout;

static size_t sa_pack_bytes_unlimited(const sa_job *j, const sa_kernel *k) {
  const int64_t bkv = k->tiles.block_kv;
  if (!k->pack_block_bytes || j->n_row_blocks < 2 || bkv <= 0) return 0;
  return (size_t)(j->batch * j->heads_kv * ((j->seq_kv + bkv - 1) / bkv)) * k->pack_block_bytes(j);
}
/* Bytes of the shared packed-block buffer a planned job uses (0: tasks pack their own). */
static size_t sa_shared_pack_bytes(const sa_job *j, const sa_kernel *k) {
  const size_t bytes = sa_pack_bytes_unlimited(j, k);
  return bytes <= SA_SHARED_PACK_MAX ? bytes : 0;
}
static size_t sa_pack_state_bytes(const sa_job *j, const sa_kernel *k) {
  if (!sa_shared_pack_bytes(j, k)) return 0;
  const int64_t bkv = k->tiles.block_kv;
  return sa_align_bytes(sizeof(atomic_int) * (size_t)(j->batch * j->heads_kv * ((j->seq_kv + bkv - 1) / bkv)));
}
static size_t sa_partial_bytes(const sa_job *j, int64_t chunks) {
  if (chunks <= 1) return 0;
  return sa_align_bytes(sizeof(float) * (size_t)(j->batch * j->heads_kv * chunks * j->rows) *
                        (size_t)SA_PARTIAL_STRIDE(j->dv));
}

/* The layout for a job whose task grid is planned (sa_plan). */
static sa_layout sa_layout_of(sa_job *j, const sa_variant *v, const simdattn_options *opt) {
  sa_layout L;
  j->heads_per_task = 1, j->heads_as_rows = 0; /* the workers: for the tasks of one head each */
  sa_group_heads(j, v->kernel, sa_parallel_workers(opt, sa_task_count(j)));
  const int64_t count = sa_task_count(j);
  L.workers = count > 0 ? sa_parallel_workers(opt, count) : 0;
  L.worker_bytes = sa_align_bytes(v->kernel->workspace(j));
  L.partial = L.worker_bytes * (size_t)L.workers;
  L.pack = L.partial + sa_partial_bytes(j, j->n_chunks);
  L.state = L.pack + sa_shared_pack_bytes(j, v->kernel);
  L.total = L.state + sa_pack_state_bytes(j, v->kernel);
  return L;
}

size_t sa_workspace_bytes(const sa_job *jin, const sa_variant *v, int workers) {
  sa_job g = *jin, *j = &g;
  sa_group_heads(j, v->kernel, workers);
  const int64_t count = sa_task_count(j);
  if (count < workers) workers = (int)count;
  return sa_align_bytes(v->kernel->workspace(j)) * (size_t)workers + sa_partial_bytes(j, j->n_chunks) +
         sa_shared_pack_bytes(j, v->kernel) + sa_pack_state_bytes(j, v->kernel);
}

/* The most any job of the plan's shape with seq_kv in [0, jmax->seq_kv] can need (each term is
 * bounded separately: key chunks by the planned maximum's chunk count, which no shorter sequence
 * exceeds; shared packing by the longest sequence whose blocks still fit under its cap). */
static size_t sa_workspace_bound(const sa_job *jmax, const sa_variant *v, const simdattn_options *opt) {
  sa_job j = *jmax;
  sa_plan(&j, v->kernel);
  sa_group_heads(&j, v->kernel, 1); /* the most heads a task can take */
  sa_job few = j;                   /* a short sequence may take its heads as rows where the longest does not */
  few.seq_kv = 0;
  sa_plan(&few, v->kernel);
  sa_group_heads(&few, v->kernel, 1);
  const size_t worker_bytes =
      sa_max_size(sa_align_bytes(v->kernel->workspace(&j)), sa_align_bytes(v->kernel->workspace(&few)));
  const int64_t tasks = j.batch * j.heads_kv * j.n_row_blocks * j.max_chunks;
  const int workers = tasks > 0 ? sa_parallel_workers(opt, tasks) : 0;
  size_t total = worker_bytes * (size_t)workers + sa_partial_bytes(&j, j.max_chunks);
  int64_t lo = 0, hi = jmax->seq_kv; /* the longest seq_kv whose packed blocks fit: packing grows with it */
  while (lo < hi) {
    sa_job t = j;
    t.seq_kv = hi - (hi - lo) / 2;
    if (sa_pack_bytes_unlimited(&t, v->kernel) <= SA_SHARED_PACK_MAX) lo = t.seq_kv;
    else hi = t.seq_kv - 1;
  }
  j.seq_kv = lo;
  return total + sa_shared_pack_bytes(&j, v->kernel) + sa_pack_state_bytes(&j, v->kernel);
}

/* Runs a job whose grid is planned in workspace ws (laid out by L; 64-byte aligned). */
static void sa_run(sa_job *j, const sa_variant *v, const simdattn_options *opt, const sa_layout *L, char *ws) {
  const int64_t count = sa_task_count(j);
  if (count == 0) return;
  j->partial = j->n_chunks > 1 ? (float *)(ws + L->partial) : NULL;
  j->pack = NULL;
  j->pack_state = NULL;
  if (L->state > L->pack) {
    j->n_kv_blocks = (j->seq_kv + v->kernel->tiles.block_kv - 1) / v->kernel->tiles.block_kv;
    j->pack_block_bytes = v->kernel->pack_block_bytes(j);
    j->pack = ws + L->pack;
    j->pack_state = (atomic_int *)(ws + L->state);
    for (int64_t b = 0; b < j->batch * j->heads_kv * j->n_kv_blocks; b++) atomic_init(&j->pack_state[b], 0);
  }
  run_ctx rc = {j, v->kernel, ws, L->worker_bytes};
  sa_parallel_run(opt, count, L->workers, run_task, &rc);
  if (j->n_chunks > 1) {
    const int64_t merges = sa_chunk_tasks(j);
    sa_parallel_run(opt, merges, sa_parallel_workers(opt, merges), merge_task, &rc);
  }
}

/* ---- ragged batches: one job per sequence (problem.varlen) ----
 * Each sequence is its own job of batch 1, planned from its own shape exactly as simdattn_forward
 * plans it (so its bits are the ones it gets alone); the jobs' tasks run as one list (job by job,
 * the most work first; a task found by binary search), then their merges. The workspace: the jobs and their
 * task offsets (a plan's caller workspace; simdattn_forward allocates them), the workers' tiles
 * (the largest any job needs), each split job's partials, and shared packing for the jobs that fit
 * the budget (whether a job packs shared never changes a bit). */
typedef struct {
  sa_job *jobs;
  int64_t n;
  struct sa_order {
    double work;
    int64_t job;
  } * order;       /* [n] the jobs in the order their tasks run: the most work first (the threads then
                    * finish together: a long prompt's tasks last would leave one thread running it) */
  int64_t *start;  /* [n + 1] the first task of the job at each position of that order */
  int64_t *mstart; /* [n + 1] each job's first merge task (job order) */
  const sa_kernel *kernel;
  char *ws; /* the workers' tiles */
  size_t ws_bytes;
} sa_multi;

typedef struct {
  int workers;
  size_t worker_bytes, partial, pack, state; /* bytes of each section */
} sa_multi_sizes;

static size_t sa_multi_meta_bytes(int64_t n) {
  return sa_align_bytes(sizeof(sa_job) * (size_t)n) + sa_align_bytes(sizeof(struct sa_order) * (size_t)n) +
         2 * sa_align_bytes(sizeof(int64_t) * (size_t)(n + 1));
}
static void sa_multi_meta(sa_multi *m, char *meta, int64_t n) {
  m->n = n;
  m->jobs = (sa_job *)meta;
  m->order = (struct sa_order *)(meta + sa_align_bytes(sizeof(sa_job) * (size_t)n));
  m->start = (int64_t *)((char *)m->order + sa_align_bytes(sizeof(struct sa_order) * (size_t)n));
  m->mstart = (int64_t *)((char *)m->start + sa_align_bytes(sizeof(int64_t) * (size_t)(n + 1)));
}
/* a job's work, roughly: its heads' visible (query, key) pairs, a key at least per query row (decode
 * reads every key once whatever its rows) */
static double sa_job_work(const sa_job *j) {
  const double pairs = j->causal != SIMDATTN_CAUSAL_NONE ? 0.5 : 1.0;
  return (double)j->heads_q * ((double)j->seq_q * (double)j->seq_kv * pairs + (double)j->seq_kv);
}
static int sa_by_work(const void *a, const void *b) {
  const struct sa_order *x = (const struct sa_order *)a, *y = (const struct sa_order *)b;
  return x->work > y->work ? -1 : x->work < y->work ? 1 : (x->job > y->job) - (x->job < y->job);
}

/* Plans every job (the grid from its own shape, then its heads per task for the run's workers) */
static void sa_multi_plan(sa_multi *m, const simdattn_options *opt) {
  int64_t tasks = 0;
  for (int64_t r = 0; r < m->n; r++) {
    sa_plan(&m->jobs[r], m->kernel);
    tasks += sa_task_count(&m->jobs[r]);
  }
  const int workers = sa_parallel_workers(opt, tasks);
  m->start[0] = m->mstart[0] = 0;
  for (int64_t r = 0; r < m->n; r++) {
    sa_job *j = &m->jobs[r];
    sa_group_heads(j, m->kernel, workers);
    m->order[r].job = r;
    m->order[r].work = sa_job_work(j);
    m->mstart[r + 1] = m->mstart[r] + (j->n_chunks > 1 ? sa_chunk_tasks(j) : 0);
  }
  if (workers > 1 && m->n > 1) qsort(m->order, (size_t)m->n, sizeof *m->order, sa_by_work);
  for (int64_t r = 0; r < m->n; r++) m->start[r + 1] = m->start[r] + sa_task_count(&m->jobs[m->order[r].job]);
}

/* The sections' sizes, and with base (the workspace after the workers' tiles) each job's partials
 * and shared packing there; jobs pack shared while their blocks fit pack_budget and state_budget. */
static sa_multi_sizes sa_multi_assign(sa_multi *m, const simdattn_options *opt, size_t pack_budget, size_t state_budget,
                                      char *base) {
  sa_multi_sizes z = {0, 0, 0, 0, 0};
  const sa_kernel *k = m->kernel;
  const int64_t total = m->start[m->n];
  z.workers = total > 0 ? sa_parallel_workers(opt, total) : 0;
  for (int64_t r = 0; r < m->n; r++)
    if (sa_task_count(&m->jobs[r]) > 0)
      z.worker_bytes = sa_max_size(z.worker_bytes, sa_align_bytes(k->workspace(&m->jobs[r])));
  for (int64_t r = 0; r < m->n; r++) z.partial += sa_partial_bytes(&m->jobs[r], m->jobs[r].n_chunks);
  size_t poff = 0, koff = z.partial, pack = 0, state = 0;
  for (int64_t r = 0; r < m->n; r++) {
    sa_job *j = &m->jobs[r];
    const size_t pb = sa_partial_bytes(j, j->n_chunks);
    if (base) j->partial = pb ? (float *)(base + poff) : NULL, j->pack = NULL, j->pack_state = NULL;
    poff += pb;
    const size_t kb = sa_shared_pack_bytes(j, k), sb = sa_pack_state_bytes(j, k);
    if (!kb || pack + kb > pack_budget || state + sb > state_budget) continue;
    if (base) {
      j->n_kv_blocks = (j->seq_kv + k->tiles.block_kv - 1) / k->tiles.block_kv;
      j->pack_block_bytes = k->pack_block_bytes(j);
      j->pack = base + koff + pack;
      j->pack_state = (atomic_int *)(base + koff + pack_budget + state);
      for (int64_t b = 0; b < j->heads_kv * j->n_kv_blocks; b++) atomic_init(&j->pack_state[b], 0);
    }
    pack += kb, state += sb;
  }
  z.pack = pack, z.state = state; /* what the jobs take: states lie pack_budget bytes after the packs' start */
  return z;
}

static int64_t sa_multi_find(const int64_t *start, int64_t n, int64_t index) {
  int64_t lo = 0, hi = n - 1; /* the last job starting at or before index (a job without tasks never is) */
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (start[mid] <= index) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
static void multi_task(void *ctx, int64_t index, int worker) {
  const sa_multi *m = (const sa_multi *)ctx;
  const int64_t at = sa_multi_find(m->start, m->n, index);
  const run_ctx rc = {&m->jobs[m->order[at].job], m->kernel, m->ws, m->ws_bytes};
  run_task((void *)&rc, index - m->start[at], worker);
}
static void multi_merge(void *ctx, int64_t index, int worker) {
  const sa_multi *m = (const sa_multi *)ctx;
  const int64_t r = sa_multi_find(m->mstart, m->n, index);
  const run_ctx rc = {&m->jobs[r], m->kernel, m->ws, m->ws_bytes};
  merge_task((void *)&rc, index - m->mstart[r], worker);
}
static void sa_multi_run(sa_multi *m, const simdattn_options *opt, const sa_multi_sizes *z) {
  const int64_t total = m->start[m->n], merges = m->mstart[m->n];
  if (total > 0) sa_parallel_run(opt, total, z->workers, multi_task, m);
  if (merges > 0) sa_parallel_run(opt, merges, sa_parallel_workers(opt, merges), multi_merge, m);
}

/* The jobs of a validated ragged problem (base: its resolved job) into m's metadata */
static void sa_multi_jobs(sa_multi *m, const simdattn_problem *p, const sa_job *base) {
  for (int64_t r = 0; r < m->n; r++) sa_varlen_job(p, base, r, &m->jobs[r]);
}

static int sa_debug(void);

/* simdattn_forward's and simdattn_backward's workspace: allocated for the call, and kept (one buffer for the process, up
 * to SA_WS_KEEP bytes) for the next call, so that an engine calling per layer per token does not
 * fault in fresh pages every time (aligned_alloc of a new size returns fresh pages). Taken with
 * an atomic exchange: concurrent calls each get their own buffer (the others allocate); the
 * larger one is kept. Freed at exit. A buffer's first SA_ALIGN bytes hold its size. */
#define SA_WS_KEEP ((size_t)64 << 20)
static _Atomic(char *) sa_ws_kept;

static size_t sa_ws_size(const char *buf) { return *(const size_t *)buf; }

char *sa_ws_take(size_t bytes) {
  char *buf = atomic_exchange(&sa_ws_kept, NULL);
  if (buf && sa_ws_size(buf) >= bytes) return buf;
  free(buf);
  bytes = (bytes + SA_ALIGN - 1) / SA_ALIGN * SA_ALIGN;
  buf = aligned_alloc(SA_ALIGN, SA_ALIGN + bytes);
  if (buf) *(size_t *)buf = bytes;
  return buf;
}

void sa_ws_give(char *buf) {
  if (sa_ws_size(buf) > SA_WS_KEEP) {
    free(buf);
    return;
  }
  char *old = atomic_exchange(&sa_ws_kept, buf);
  if (old && sa_ws_size(old) > sa_ws_size(buf)) old = atomic_exchange(&sa_ws_kept, old); /* keep the larger */
  free(old);
}

__attribute__((destructor)) static void sa_ws_release(void) { free(atomic_exchange(&sa_ws_kept, NULL)); }

/* simdattn_forward's way: the plan's steps on a workspace of its own (sa_ws_take). */
simdattn_status sa_execute(sa_job *j, const sa_variant *v, const simdattn_options *opt) {
  sa_plan(j, v->kernel);
  if (sa_task_count(j) == 0) return SIMDATTN_OK;
  const sa_layout L = sa_layout_of(j, v, opt);
  char *buf = L.total ? sa_ws_take(L.total) : NULL;
  if (L.total && !buf)
    return sa_fail(SIMDATTN_ERR_NOMEM,
                   "cannot allocate %zu bytes of workspace (%d workers x %zu, partials %zu, "
                   "packed K/V blocks %zu)",
                   L.total, L.workers, L.worker_bytes, L.pack - L.partial, L.total - L.pack);
  if (sa_debug())
    fprintf(stderr, "simdattn: %lld tasks (%lld key chunks) on %d thread%s%s, workspace %zu bytes\n",
            (long long)sa_task_count(j), (long long)j->n_chunks, L.workers, L.workers == 1 ? "" : "s",
            opt && opt->parallel ? " of the caller's pool" : "", L.total);
  sa_run(j, v, opt, &L, buf ? buf + SA_ALIGN : NULL);
  if (buf) sa_ws_give(buf);
  return SIMDATTN_OK;
}

static int sa_debug_on;
static pthread_once_t sa_debug_once = PTHREAD_ONCE_INIT;
static void sa_debug_init(void) {
  const char *e = getenv("SIMDATTN_DEBUG");
  sa_debug_on = e && *e && strcmp(e, "0") != 0;
}
static int sa_debug(void) {
  pthread_once(&sa_debug_once, sa_debug_init);
  return sa_debug_on;
}

static const sa_variant *sa_auto_variant(const sa_job *j) {
  for (int t = 0; t < sa_variant_total(); t++) {
    const sa_variant *v = sa_variant_at(t);
    if (!(v->flags & SA_VARIANT_NO_AUTO) && sa_variant_available(v) && sa_variant_accepts(v, j)) return v;
  }
  return NULL;
}

simdattn_status sa_choose_variant(const sa_job *j, const simdattn_options *opt, const sa_variant **out) {
  const char *name = opt ? opt->variant : NULL, *source = "options.variant";
  if (!name) {
    const char *env = getenv("SIMDATTN_VARIANT");
    if (env && *env) name = env, source = "SIMDATTN_VARIANT";
  }
  const sa_variant *v;
  if (name) {
    v = sa_variant_find(name);
    if (!v)
      return sa_fail(SIMDATTN_ERR_INVALID, "%s names no variant: '%s' (simdattn_variant_get lists them)", source, name);
    if (!sa_variant_available(v)) {
      char need[128];
      sa_cpu_feature_names(v->cpu & ~sa_cpu_features(), need, sizeof need);
      return sa_fail(SIMDATTN_ERR_UNSUPPORTED, "variant '%s' (%s) needs %s, which this CPU or OS lacks", v->name,
                     source, need);
    }
    if (!sa_variant_accepts(v, j))
      return sa_fail(SIMDATTN_ERR_UNSUPPORTED, "variant '%s' does not accept q.dtype %s with k.dtype %s, v.dtype %s",
                     v->name, sa_dtype_name(j->q_dtype), sa_dtype_name(j->k_dtype), sa_dtype_name(j->v_dtype));
  } else {
    v = sa_auto_variant(j);
    if (!v) return sa_fail(SIMDATTN_ERR_UNSUPPORTED, "no variant accepts this problem on this CPU");
    source = "auto";
  }
  if (sa_debug())
    fprintf(stderr, "simdattn: variant %s (%s)%s%s%s\n", v->name, source,
            sa_cpu_tuning() & SA_TUNE_HEADS_PREFETCH ? ", CPU tuning: heads-prefetch" : "",
            sa_cpu_tuning() & SA_TUNE_GROUP_V_AHEAD ? ", CPU tuning: group-v-ahead" : "",
            sa_cpu_tuning() & SA_TUNE_K_NEAR ? ", CPU tuning: k-near" : "");
  *out = v;
  return SIMDATTN_OK;
}

/* What simdattn_forward and simdattn_plan_create share: the caller's structs imported, the
 * problem validated (with its buffers, or as a shape only), the options checked, the variant
 * chosen. *p points into the caller's problem or at buf (sa_import_problem). */
static simdattn_status sa_prepare(const simdattn_problem *caller, const simdattn_options *caller_opt, int buffers,
                                  simdattn_problem *buf, const simdattn_problem **p, simdattn_options *o, sa_job *j,
                                  const sa_variant **v) {
  simdattn_status st = sa_import_problem(caller, buf, p);
  if (st != SIMDATTN_OK) return st;
  sa_import_options(caller, caller_opt, o);
  int64_t kv_rows;
  if ((*p)->varlen) st = sa_validate_varlen(*p, buffers, j, &kv_rows, NULL, 0);
  else st = buffers ? sa_validate(*p, j) : sa_validate_shape(*p, j);
  if (st != SIMDATTN_OK) return st;
  if (o->n_threads < 0)
    return sa_fail(SIMDATTN_ERR_INVALID, "options.n_threads must be >= 0 (0 = all), got %d", o->n_threads);
  if (o->flags & ~SIMDATTN_CHUNK_INVARIANT)
    return sa_fail(SIMDATTN_ERR_INVALID, "options.flags has bits this library does not know: 0x%x (known: 0x%x)",
                   o->flags & ~SIMDATTN_CHUNK_INVARIANT, SIMDATTN_CHUNK_INVARIANT);
  j->packed_only = (o->flags & SIMDATTN_CHUNK_INVARIANT) != 0;
  return sa_choose_variant(j, o, v);
}

/* simdattn_forward of a ragged problem: the jobs' metadata and the workspace allocated for the call */
static simdattn_status sa_varlen_forward(const simdattn_problem *p, const sa_job *base, const sa_variant *v,
                                         const simdattn_options *opt) {
  const int64_t n = p->batch;
  if (n == 0) return SIMDATTN_OK;
  const size_t meta_bytes = sa_multi_meta_bytes(n);
  char *meta = aligned_alloc(SA_ALIGN, meta_bytes);
  if (!meta)
    return sa_fail(SIMDATTN_ERR_NOMEM, "cannot allocate %zu bytes for %lld sequences", meta_bytes, (long long)n);
  sa_multi m;
  sa_multi_meta(&m, meta, n);
  m.kernel = v->kernel;
  sa_multi_jobs(&m, p, base);
  sa_multi_plan(&m, opt);
  const sa_multi_sizes z = sa_multi_assign(&m, opt, SA_SHARED_PACK_MAX, SIZE_MAX, NULL);
  const size_t tiles = z.worker_bytes * (size_t)z.workers, total = tiles + z.partial + z.pack + z.state;
  char *buf = total ? sa_ws_take(total) : NULL;
  if (total && !buf) {
    free(meta);
    return sa_fail(SIMDATTN_ERR_NOMEM,
                   "cannot allocate %zu bytes of workspace (%d workers x %zu, partials %zu, "
                   "packed K/V blocks %zu)",
                   total, z.workers, z.worker_bytes, z.partial, z.pack + z.state);
  }
  char *ws = buf ? buf + SA_ALIGN : NULL;
  sa_multi_assign(&m, opt, z.pack, z.state, ws ? ws + tiles : NULL);
  m.ws = ws;
  m.ws_bytes = z.worker_bytes;
  if (sa_debug())
    fprintf(stderr, "simdattn: %lld sequences, %lld tasks on %d thread%s, workspace %zu bytes\n", (long long)n,
            (long long)m.start[n], z.workers, z.workers == 1 ? "" : "s", total);
  sa_multi_run(&m, opt, &z);
  if (buf) sa_ws_give(buf);
  free(meta);
  return SIMDATTN_OK;
}

static simdattn_status forward_in_env(const simdattn_problem *caller, const simdattn_options *caller_opt,
                                      int ref_order) {
  simdattn_problem buf;
  const simdattn_problem *p;
  simdattn_options o;
  sa_job j;
  const sa_variant *v;
  simdattn_status st = sa_prepare(caller, caller_opt, 1, &buf, &p, &o, &j, &v);
  if (st != SIMDATTN_OK) return st;
  j.ref_order = ref_order;
  if ((st = p->varlen ? sa_varlen_forward(p, &j, v, &o) : sa_execute(&j, v, &o)) != SIMDATTN_OK) return st;
  sa_clear_error();
  return SIMDATTN_OK;
}

/* Library work runs in IEEE default floating-point mode whatever the caller's (src/fpenv.h); the
 * caller's mode and flags are given back. Worker threads do the same per task (parallel.c). */
simdattn_status sa_forward_ordered(const simdattn_problem *p, const simdattn_options *opt, int ref_order) {
  sa_fpenv env;
  sa_fpenv_enter(&env);
  const simdattn_status st = forward_in_env(p, opt, ref_order);
  sa_fpenv_leave(&env);
  return st;
}

simdattn_status simdattn_forward(const simdattn_problem *p, const simdattn_options *opt) {
  return sa_forward_ordered(p, opt, 0);
}

/* What simdattn_forward(p, NULL) would run: SIMDATTN_VARIANT when set, else auto-dispatch. */
const char *simdattn_best_variant(const simdattn_problem *caller) {
  simdattn_problem buf;
  const simdattn_problem *p;
  sa_job j;
  int64_t kv_rows;
  if (sa_import_problem(caller, &buf, &p) != SIMDATTN_OK) return NULL;
  if ((p->varlen ? sa_validate_varlen(p, 1, &j, &kv_rows, NULL, 0) : sa_validate(p, &j)) != SIMDATTN_OK) return NULL;
  const sa_variant *v;
  return sa_choose_variant(&j, NULL, &v) == SIMDATTN_OK ? v->name : NULL;
}

/* ---- plan once, execute many times ---- */
struct simdattn_plan {
  simdattn_problem shape; /* the planned problem, data pointers kept only as presence flags */
  sa_job job;             /* its validated job at the largest seq_kv */
  const sa_variant *v;
  simdattn_options opt; /* the caller's options, the variant resolved */
  size_t workspace_bytes;
  simdattn_varlen varlen;           /* a ragged plan: the planned varlen (shape.varlen points here) */
  size_t pack_budget, state_budget; /* a ragged plan's shared packing, in its workspace */
  int32_t varlen_table_stub;        /* a paged plan's stand-in for a table row while bounding */
  int backward;                     /* a backward plan (simdattn_plan_create_backward: src/backward.c) */
};

/* A ragged plan's workspace: metadata for up to batch sequences, the workers' tiles of any sequence
 * shape the plan serves (one query row to all seq_q, no key to seq_kv), the split partials of batch
 * sequences each as split as a sequence can be, and the shared packing of one longest sequence. */
static size_t sa_varlen_bound(simdattn_plan *pl) {
  const sa_kernel *k = pl->v->kernel;
  const int64_t R = pl->shape.batch, qmax = pl->shape.seq_q, kvmax = pl->shape.seq_kv;
  sa_job j = pl->job;
  j.batch = 1;
  /* a paged sequence's job has its table row (how its heads are read depends on it); this one's is
   * never dereferenced: planning reads no data */
  if (pl->varlen.block_size > 0) j.pages = &pl->varlen_table_stub;
  size_t wb = 0, part = 0;
  for (int64_t q = 1; q <= qmax; q = q < 64 ? q + 1 : q * 2 > qmax && q < qmax ? qmax : q * 2)
    for (int e = 0; e < 2; e++) {
      sa_job t = j;
      t.seq_q = q;
      t.seq_kv = e ? kvmax : 0;
      sa_plan(&t, k);
      sa_group_heads(&t, k, 1);
      wb = sa_max_size(wb, sa_align_bytes(k->workspace(&t)));
      if (e) part = sa_max_size(part, sa_partial_bytes(&t, t.max_chunks));
    }
  const int workers = sa_parallel_workers(&pl->opt, INT64_MAX / 4);
  sa_job t = j;
  t.seq_q = qmax;
  t.seq_kv = kvmax;
  sa_plan(&t, k);
  pl->pack_budget = sa_shared_pack_bytes(&t, k);
  pl->state_budget = sa_pack_state_bytes(&t, k);
  return sa_multi_meta_bytes(R) + wb * (size_t)workers + part * (size_t)R + pl->pack_budget + pl->state_budget;
}

simdattn_status simdattn_plan_create(const simdattn_problem *caller, const simdattn_options *caller_opt,
                                     simdattn_plan **plan) {
  if (!plan) return sa_fail(SIMDATTN_ERR_INVALID, "plan must not be NULL (it receives the new plan)");
  *plan = NULL;
  simdattn_problem buf;
  const simdattn_problem *p;
  simdattn_options o;
  sa_job j;
  const sa_variant *v;
  const simdattn_status st = sa_prepare(caller, caller_opt, 0, &buf, &p, &o, &j, &v);
  if (st != SIMDATTN_OK) return st;
  const simdattn_options *opt = &o;
  simdattn_plan *pl = calloc(1, sizeof *pl);
  if (!pl) return sa_fail(SIMDATTN_ERR_NOMEM, "cannot allocate a plan (%zu bytes)", sizeof *pl);
  pl->shape = *p;
  pl->job = j;
  pl->v = v;
  pl->opt = *opt;
  pl->opt.variant = v->name;
  if (p->varlen) {
    pl->varlen = *p->varlen;
    pl->shape.varlen = &pl->varlen;
    pl->workspace_bytes = sa_varlen_bound(pl);
  } else pl->workspace_bytes = sa_workspace_bound(&j, v, &pl->opt);
  if (sa_debug())
    fprintf(stderr, "simdattn: plan: variant %s, n_threads %d%s, workspace %zu bytes (seq_kv up to %lld)\n", v->name,
            pl->opt.n_threads, pl->opt.parallel ? " (caller's pool)" : "", pl->workspace_bytes, (long long)p->seq_kv);
  *plan = pl;
  sa_clear_error();
  return SIMDATTN_OK;
}

size_t simdattn_plan_workspace_size(const simdattn_plan *plan) { return plan ? plan->workspace_bytes : 0; }

const char *simdattn_plan_variant(const simdattn_plan *plan) { return plan ? plan->v->name : NULL; }

void simdattn_plan_destroy(simdattn_plan *plan) { free(plan); }

static simdattn_status sa_check_workspace(const simdattn_plan *pl, const void *workspace, size_t workspace_size) {
  if (workspace_size < pl->workspace_bytes)
    return sa_fail(SIMDATTN_ERR_INVALID, "workspace_size must be >= %zu (simdattn_plan_workspace_size), got %zu",
                   pl->workspace_bytes, workspace_size);
  if (pl->workspace_bytes && !workspace) return sa_fail(SIMDATTN_ERR_INVALID, "workspace must not be NULL");
  if ((uintptr_t)workspace % SIMDATTN_WORKSPACE_ALIGN != 0)
    return sa_fail(SIMDATTN_ERR_INVALID, "workspace (%p) must be aligned to SIMDATTN_WORKSPACE_ALIGN (%d bytes)",
                   workspace, SIMDATTN_WORKSPACE_ALIGN);
  return SIMDATTN_OK;
}

/* A ragged problem on its plan: every check, then the jobs in the caller's workspace */
static simdattn_status execute_varlen(const simdattn_plan *pl, const simdattn_problem *p, void *workspace,
                                      size_t workspace_size) {
  sa_job base;
  simdattn_status st = sa_validate_varlen_planned(&pl->shape, p, workspace, workspace_size, &base);
  if (st != SIMDATTN_OK || (st = sa_check_workspace(pl, workspace, workspace_size)) != SIMDATTN_OK) return st;
  base.packed_only = pl->job.packed_only;
  const int64_t n = p->batch;
  if (n > 0) {
    sa_multi m;
    char *ws = (char *)workspace;
    sa_multi_meta(&m, ws, n);
    m.kernel = pl->v->kernel;
    sa_multi_jobs(&m, p, &base);
    sa_multi_plan(&m, &pl->opt);
    const sa_multi_sizes z = sa_multi_assign(&m, &pl->opt, pl->pack_budget, pl->state_budget, NULL);
    const size_t meta = sa_multi_meta_bytes(n), tiles = z.worker_bytes * (size_t)z.workers;
    if (meta + tiles + z.partial + pl->pack_budget + pl->state_budget > pl->workspace_bytes)
      return sa_fail(SIMDATTN_ERR_INVALID, "internal: %lld sequences need %zu bytes of workspace, the plan %zu",
                     (long long)n, meta + tiles + z.partial + pl->pack_budget + pl->state_budget, pl->workspace_bytes);
    sa_multi_assign(&m, &pl->opt, pl->pack_budget, pl->state_budget, ws + meta + tiles);
    m.ws = ws + meta;
    m.ws_bytes = z.worker_bytes;
    sa_multi_run(&m, &pl->opt, &z);
  }
  sa_clear_error();
  return SIMDATTN_OK;
}

static simdattn_status execute_in_env(const simdattn_plan *pl, const simdattn_problem *caller, void *workspace,
                                      size_t workspace_size) {
  if (!pl) return sa_fail(SIMDATTN_ERR_INVALID, "plan must not be NULL");
  if (pl->backward)
    return sa_fail(SIMDATTN_ERR_INVALID, "plan is a backward plan: run it with simdattn_plan_execute_backward");
  simdattn_problem buf;
  const simdattn_problem *p;
  simdattn_status st = sa_import_problem(caller, &buf, &p);
  if (st != SIMDATTN_OK) return st;
  if (pl->shape.varlen) return execute_varlen(pl, p, workspace, workspace_size);
  sa_job j;
  if ((st = sa_validate_planned(&pl->shape, &pl->job, p, workspace, workspace_size, &j)) != SIMDATTN_OK ||
      (st = sa_check_workspace(pl, workspace, workspace_size)) != SIMDATTN_OK)
    return st;
  sa_plan(&j, pl->v->kernel);
  const sa_layout L = sa_layout_of(&j, pl->v, &pl->opt);
  if (L.total > pl->workspace_bytes) /* the bound's promise broken: refuse, never overrun */
    return sa_fail(SIMDATTN_ERR_INVALID, "internal: seq_kv %lld needs %zu bytes of workspace, the plan %zu",
                   (long long)j.seq_kv, L.total, pl->workspace_bytes);
  sa_run(&j, pl->v, &pl->opt, &L, (char *)workspace);
  sa_clear_error();
  return SIMDATTN_OK;
}

simdattn_status simdattn_plan_execute(const simdattn_plan *plan, const simdattn_problem *p, void *workspace,
                                      size_t workspace_size) {
  sa_fpenv env;
  sa_fpenv_enter(&env);
  const simdattn_status st = execute_in_env(plan, p, workspace, workspace_size);
  sa_fpenv_leave(&env);
  return st;
}

/* ---- the backward pass's plan (src/backward.c does the work) ---- */
simdattn_status simdattn_plan_create_backward(const simdattn_problem *p, const simdattn_options *opt,
                                              simdattn_plan **plan) {
  if (!plan) return sa_fail(SIMDATTN_ERR_INVALID, "plan must not be NULL (it receives the new plan)");
  *plan = NULL;
  simdattn_plan *pl = calloc(1, sizeof *pl);
  if (!pl) return sa_fail(SIMDATTN_ERR_NOMEM, "cannot allocate a plan (%zu bytes)", sizeof *pl);
  const simdattn_status st = sa_bwd_plan_make(p, opt, &pl->shape, &pl->opt, &pl->v, &pl->workspace_bytes);
  if (st != SIMDATTN_OK) {
    free(pl);
    return st;
  }
  pl->backward = 1;
  if (sa_debug())
    fprintf(stderr, "simdattn: backward plan: variant %s, n_threads %d, workspace %zu bytes\n", pl->v->name,
            pl->opt.n_threads, pl->workspace_bytes);
  *plan = pl;
  sa_clear_error();
  return SIMDATTN_OK;
}

simdattn_status simdattn_plan_execute_backward(const simdattn_plan *plan, const simdattn_problem *p,
                                               const simdattn_grad *g, void *workspace, size_t workspace_size) {
  if (!plan) return sa_fail(SIMDATTN_ERR_INVALID, "plan must not be NULL");
  if (!plan->backward)
    return sa_fail(SIMDATTN_ERR_INVALID, "plan is a forward plan: make one with simdattn_plan_create_backward");
  return sa_bwd_plan_execute(&plan->shape, plan->v, &plan->opt, plan->workspace_bytes, p, g, workspace,
                             workspace_size);
}
