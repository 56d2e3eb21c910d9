/* src/forward.c: simdattn_forward — validate, choose the variant, plan the task grid (from the
 * shape only), allocate everything, then run. Nothing is written to out or lse before every
 * check has passed and every allocation has succeeded. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/softmax.h"
#include "fpenv.h"
#include "internal.h"

/* Split keys into chunks only when a shape has fewer than SPLIT_BELOW (b, kv head, row block)
 * tasks and its keys outnumber its query rows SPLIT_KEYS_PER_ROW to one (decode, long-context
 * cross-attention), aiming at SPLIT_TARGET tasks: constants, so the split never depends on
 * threads. Square prefill is not split: its rows already give tasks, and merging partial states
 * cost 3% at seq 1024 with one head (measured). */
#define SA_SPLIT_BELOW 16
#define SA_SPLIT_TARGET 64
#define SA_SPLIT_KEYS_PER_ROW 4
/* Shared packing of K/V blocks (each packed once per call) when a head has several row blocks,
 * up to this many bytes; beyond it each task packs its own blocks. Shape-only, like the split. */
#define SA_SHARED_PACK_MAX ((size_t)256 << 20)

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

void sa_plan(sa_job *j, const sa_kernel *k) {
  j->rows = j->group * j->seq_q;
  j->block_rows = k->tiles.block_q;
  j->n_row_blocks = ceil_div(j->rows, j->block_rows);
  j->n_chunks = 1;
  j->chunk_len = j->seq_kv;
  const int64_t tasks = j->batch * j->heads_kv * j->n_row_blocks;
  const sa_tiles *t = &k->tiles;
  if (t->chunk_kv > 0 && tasks > 0 && tasks < SA_SPLIT_BELOW && j->seq_kv >= 2 * t->chunk_kv &&
      j->seq_kv >= SA_SPLIT_KEYS_PER_ROW * j->rows) {
    const int64_t n = sa_min64(ceil_div(SA_SPLIT_TARGET, tasks), j->seq_kv / t->chunk_kv);
    if (n > 1) {
      j->chunk_len = sa_round_up(ceil_div(j->seq_kv, n), t->block_kv > 0 ? t->block_kv : 1);
      j->n_chunks = ceil_div(j->seq_kv, j->chunk_len);
    }
  }
}

int64_t sa_task_count(const sa_job *j) { return j->batch * j->heads_kv * j->n_row_blocks * j->n_chunks; }

/* Task order: (b, kv head, row block, chunk). Under a causal rule later row blocks see more keys,
 * so they run first (largest first: the last tasks to start are the small ones, and the threads
 * finish together). Any order gives the same bits; this one only balances. */
void sa_task_at(const sa_job *j, int64_t index, sa_task *t) {
  t->c = index % j->n_chunks;
  index /= j->n_chunks;
  int64_t rb = index % j->n_row_blocks;
  if (j->causal != SIMDATTN_CAUSAL_NONE) rb = j->n_row_blocks - 1 - rb;
  index /= j->n_row_blocks;
  t->hk = index % j->heads_kv;
  t->b = index / j->heads_kv;
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

static void run_task(void *ctx, int64_t index, int worker) {
  const run_ctx *rc = (const run_ctx *)ctx;
  sa_task t;
  sa_task_at(rc->job, index, &t);
  rc->kernel->run(rc->job, &t, rc->ws + (size_t)worker * rc->ws_bytes);
}

/* Phase 2 of a split job: merge the chunks of the rows of one (b, kv head, row block). */
static void merge_task(void *ctx, int64_t index, int worker) {
  const run_ctx *rc = (const run_ctx *)ctx;
  const sa_job *j = rc->job;
  (void)worker;
  sa_task t;
  sa_task_at(j, index * j->n_chunks, &t);
  float *part[SA_SPLIT_TARGET];
  for (int64_t r = t.r0; r < t.r1; r++) {
    sa_row row;
    sa_row_setup(j, t.b, t.hk, r, &row);
    for (int64_t c = 0; c < j->n_chunks; c++) part[c] = sa_partial_row(j, t.b, t.hk, c, r);
    sa_merge_row(part, j->n_chunks, j->dv, &row, rc->kernel->log2_scores && !sa_job_natural(j));
  }
}

/* Bytes of the shared packed-block buffer a planned job uses (0: tasks pack their own). */
static size_t sa_shared_pack_bytes(const sa_job *j, const sa_kernel *k) {
  const int64_t bkv = k->tiles.block_kv;
  if (!k->pack_block_bytes || j->n_row_blocks < 2 || bkv <= 0) return 0;
  const size_t blocks = (size_t)(j->batch * j->heads_kv * ((j->seq_kv + bkv - 1) / bkv));
  const size_t bytes = blocks * k->pack_block_bytes(j);
  return bytes <= SA_SHARED_PACK_MAX ? bytes : 0;
}

size_t sa_workspace_bytes(const sa_job *j, const sa_variant *v, int workers) {
  size_t bytes = sa_align_bytes(v->kernel->workspace(j)) * (size_t)workers + sa_shared_pack_bytes(j, v->kernel);
  if (j->n_chunks > 1)
    bytes +=
        sizeof(float) * (size_t)(j->batch * j->heads_kv * j->n_chunks * j->rows) * (size_t)SA_PARTIAL_STRIDE(j->dv);
  return bytes;
}

simdattn_status sa_execute(sa_job *j, const sa_variant *v, const simdattn_options *opt) {
  sa_plan(j, v->kernel);
  const int64_t count = sa_task_count(j);
  if (count == 0) return SIMDATTN_OK;
  const int workers = sa_parallel_workers(opt, count);
  const size_t ws_bytes = sa_align_bytes(v->kernel->workspace(j));
  char *ws = aligned_alloc(SA_ALIGN, ws_bytes * (size_t)workers);
  if (!ws)
    return sa_fail(SIMDATTN_ERR_NOMEM, "cannot allocate %zu bytes of workspace (%d workers x %zu)",
                   ws_bytes * (size_t)workers, workers, ws_bytes);
  float *partial = NULL;
  if (j->n_chunks > 1) {
    const size_t bytes = sa_align_bytes(sizeof(float) * (size_t)(j->batch * j->heads_kv * j->n_chunks * j->rows) *
                                        (size_t)SA_PARTIAL_STRIDE(j->dv));
    partial = aligned_alloc(SA_ALIGN, bytes);
    if (!partial) {
      free(ws);
      return sa_fail(SIMDATTN_ERR_NOMEM, "cannot allocate %zu bytes for %" PRId64 " key chunks", bytes, j->n_chunks);
    }
    j->partial = partial;
  }
  const size_t pack_bytes = sa_shared_pack_bytes(j, v->kernel);
  if (pack_bytes) {
    j->n_kv_blocks = (j->seq_kv + v->kernel->tiles.block_kv - 1) / v->kernel->tiles.block_kv;
    j->pack_block_bytes = v->kernel->pack_block_bytes(j);
    j->pack = aligned_alloc(SA_ALIGN, pack_bytes);
    j->pack_state = calloc((size_t)(j->batch * j->heads_kv * j->n_kv_blocks), sizeof(atomic_int));
    if (!j->pack || !j->pack_state) {
      free(j->pack);
      free(j->pack_state);
      free(partial);
      free(ws);
      return sa_fail(SIMDATTN_ERR_NOMEM, "cannot allocate %zu bytes of packed K/V blocks", pack_bytes);
    }
  }
  run_ctx rc = {j, v->kernel, ws, ws_bytes};
  sa_parallel_run(opt, count, workers, run_task, &rc);
  if (j->n_chunks > 1) {
    const int64_t merges = count / j->n_chunks;
    sa_parallel_run(opt, merges, sa_parallel_workers(opt, merges), merge_task, &rc);
  }
  free(j->pack);
  free(j->pack_state);
  free(partial);
  free(ws);
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
  if (sa_debug()) fprintf(stderr, "simdattn: variant %s (%s)\n", v->name, source);
  *out = v;
  return SIMDATTN_OK;
}

static simdattn_status forward_in_env(const simdattn_problem *p, const simdattn_options *opt, int ref_order) {
  sa_job j;
  simdattn_status st = sa_validate(p, &j);
  if (st != SIMDATTN_OK) return st;
  if (opt && opt->n_threads < 0)
    return sa_fail(SIMDATTN_ERR_INVALID, "options.n_threads must be >= 0 (0 = all), got %d", opt->n_threads);
  const sa_variant *v;
  if ((st = sa_choose_variant(&j, opt, &v)) != SIMDATTN_OK) return st;
  j.ref_order = ref_order;
  if ((st = sa_execute(&j, v, opt)) != SIMDATTN_OK) return st;
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

const char *simdattn_best_variant(const simdattn_problem *p) {
  sa_job j;
  if (sa_validate(p, &j) != SIMDATTN_OK) return NULL;
  const sa_variant *v = sa_auto_variant(&j);
  return v ? v->name : NULL;
}
