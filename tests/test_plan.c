/* tests/test_plan.c: the plan API (simdattn_plan_create / _execute).
 *   - every variant this CPU runs, on a spread of quick-grid cases (every feature, layout, dtype
 *     and decode shape): plan + execute on 1 and 2 threads and on a caller's pool gives exactly
 *     simdattn_forward's bits, in a workspace of exactly simdattn_plan_workspace_size bytes
 *     (guarded: nothing is written past it);
 *   - a growing KV cache: one plan per head layout (MHA, GQA, MQA; BSHD and BHSD caches) made for
 *     seq_kv up to 1100, executed at every seq_kv from 0 to 1100 in steps, bitwise equal to
 *     simdattn_forward on the same problem each time;
 *   - two threads executing one plan at once, each with its own workspace: bitwise equal;
 *   - bad input on execute: every shape field changed, seq_kv beyond the plan, lse / mask / alibi
 *     / sinks present or absent unlike the plan, NULL data, a NULL, short, misaligned or aliasing
 *     workspace, a NULL plan: SIMDATTN_ERR_INVALID naming the field, not one byte of out or lse
 *     written; plan_create's own errors;
 *   - no allocation on the execute path: malloc, calloc, realloc, aligned_alloc, posix_memalign
 *     and memalign are counted (interposed in this program) around hundreds of executes on 1 and
 *     2 OpenMP threads and a caller's pool (not in sanitizer builds, whose allocator that is). */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness/cases.h"
#include "src/internal.h"

/* ---- allocation counting ---- */
#ifndef SIMDATTN_TEST_SANITIZED
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t a, size_t n);
extern void __libc_free(void *p);
static atomic_long allocs;
void *malloc(size_t n) {
  atomic_fetch_add(&allocs, 1);
  return __libc_malloc(n);
}
void *calloc(size_t n, size_t m) {
  atomic_fetch_add(&allocs, 1);
  return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n) {
  atomic_fetch_add(&allocs, 1);
  return __libc_realloc(p, n);
}
void *aligned_alloc(size_t a, size_t n) {
  atomic_fetch_add(&allocs, 1);
  return __libc_memalign(a, n);
}
void *memalign(size_t a, size_t n);
void *memalign(size_t a, size_t n) {
  atomic_fetch_add(&allocs, 1);
  return __libc_memalign(a, n);
}
int posix_memalign(void **out, size_t a, size_t n) {
  atomic_fetch_add(&allocs, 1);
  *out = __libc_memalign(a, n);
  return *out ? 0 : 12 /* ENOMEM */;
}
void free(void *p) { __libc_free(p); }
#define ALLOCS() atomic_load(&allocs)
#else
#define ALLOCS() 0L
#endif

/* a caller's "pool" that runs every task on the calling thread, in order */
static void inline_pool(void *pool, void (*task)(void *, int64_t), void *ctx, int64_t count) {
  (void)pool;
  for (int64_t i = 0; i < count; i++) task(ctx, i);
}

#define GUARD 256 /* bytes after the workspace that must stay untouched */

typedef struct {
  char *mem;
  void *ws;
  size_t size;
} workspace;

static int ws_make(workspace *w, size_t size) {
  memset(w, 0, sizeof *w);
  w->size = size;
  w->mem = __builtin_assume_aligned(aligned_alloc(64, (size + GUARD + 63) / 64 * 64 + 64), 64);
  if (!w->mem) return -1;
  memset(w->mem + size, 0xA5, GUARD);
  w->ws = w->mem;
  return 0;
}
static int ws_guard_ok(const workspace *w) {
  for (size_t t = 0; t < GUARD; t++)
    if ((unsigned char)w->mem[w->size + t] != 0xA5) return 0;
  return 1;
}

/* out (with its guards) and lse of a case, copied */
typedef struct {
  float *out, *lse;
} result;
static void keep(const case_data *cd, result *r) {
  r->out = malloc(sizeof(float) * cd->out_len);
  r->lse = malloc(sizeof(float) * cd->lse_len);
  memcpy(r->out, cd->out_buf, sizeof(float) * cd->out_len);
  memcpy(r->lse, cd->lse_buf, sizeof(float) * cd->lse_len);
}
static int same(const case_data *cd, const result *r) {
  return !memcmp(r->out, cd->out_buf, sizeof(float) * cd->out_len) &&
         !memcmp(r->lse, cd->lse_buf, sizeof(float) * cd->lse_len);
}
static void drop(result *r) {
  free(r->out);
  free(r->lse);
}

/* plan + execute equals forward, for one variant and one case, on 1, 2 threads and a pool */
static void check_equal(const sa_variant *v, case_spec spec) {
  if (case_fit_dtypes(&spec, v->dtypes)) return;
  case_data cd;
  if (case_build(&spec, 11, &cd)) {
    CHECK(0, "build %s", spec.group);
    return;
  }
  const simdattn_options opts[3] = {{1, v->name, NULL, NULL, 0}, {2, v->name, NULL, NULL, 0}, {0, v->name, inline_pool, NULL, 0}};
  for (int o = 0; o < 3; o++) {
    case_reset_outputs(&cd);
    CHECK(simdattn_forward(&cd.p, &opts[o]) == SIMDATTN_OK, "%s %s: %s", v->name, cd.name, simdattn_last_error());
    result want;
    keep(&cd, &want);
    simdattn_plan *plan = NULL;
    CHECK(simdattn_plan_create(&cd.p, &opts[o], &plan) == SIMDATTN_OK && plan, "%s %s plan: %s", v->name, cd.name,
          simdattn_last_error());
    if (!plan) {
      drop(&want);
      continue;
    }
    CHECK(!strcmp(simdattn_plan_variant(plan), v->name), "plan runs %s, not %s", simdattn_plan_variant(plan), v->name);
    workspace w = {0};
    CHECK(ws_make(&w, simdattn_plan_workspace_size(plan)) == 0, "workspace");
    case_reset_outputs(&cd);
    CHECK(simdattn_plan_execute(plan, &cd.p, w.ws, w.size) == SIMDATTN_OK, "%s %s execute: %s", v->name, cd.name,
          simdattn_last_error());
    CHECK(same(&cd, &want), "%s %s option set %d: plan_execute differs from simdattn_forward", v->name, cd.name, o);
    CHECK(ws_guard_ok(&w), "%s %s: written past the workspace (%zu bytes)", v->name, cd.name, w.size);
    free(w.mem);
    simdattn_plan_destroy(plan);
    drop(&want);
  }
  case_free(&cd);
}

/* a KV cache growing up to `max_kv`: one plan, executed at many seq_kv, each bitwise forward's */
static void check_growing(const sa_variant *v, int64_t hq, int64_t hkv, case_layout layout) {
  const int64_t max_kv = 1100, d = 64;
  case_spec spec = case_default("grow", 1, max_kv);
  spec.heads_q = hq;
  spec.heads_kv = hkv;
  spec.d = spec.dv = d;
  spec.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  spec.layout = layout;
  if (case_fit_dtypes(&spec, v->dtypes)) return;
  case_data cd;
  if (case_build(&spec, 5, &cd)) {
    CHECK(0, "build");
    return;
  }
  const simdattn_options opt = {2, v->name, NULL, NULL, 0};
  simdattn_plan *plan = NULL;
  CHECK(simdattn_plan_create(&cd.p, &opt, &plan) == SIMDATTN_OK, "%s plan: %s", v->name, simdattn_last_error());
  workspace w = {0};
  CHECK(plan && ws_make(&w, simdattn_plan_workspace_size(plan)) == 0, "workspace");
  if (!plan) return;
  int bad = 0;
  for (int64_t kv = 0; kv <= max_kv; kv += kv < 20 ? 1 : kv < 600 ? 37 : 61) {
    simdattn_problem p = cd.p;
    p.seq_kv = kv; /* the cache's strides stay: a BHSD cache is allocated for max_kv rows */
    case_reset_outputs(&cd);
    CHECK(simdattn_forward(&p, &opt) == SIMDATTN_OK, "forward kv %lld: %s", (long long)kv, simdattn_last_error());
    result want;
    keep(&cd, &want);
    case_reset_outputs(&cd);
    CHECK(simdattn_plan_execute(plan, &p, w.ws, w.size) == SIMDATTN_OK, "execute kv %lld: %s", (long long)kv,
          simdattn_last_error());
    bad += !same(&cd, &want);
    drop(&want);
  }
  CHECK(bad == 0, "%s h%lldx%lld %s: %d growing-cache steps differ from simdattn_forward", v->name, (long long)hq,
        (long long)hkv, layout == LAYOUT_BSHD ? "bshd" : "bhsd", bad);
  CHECK(ws_guard_ok(&w), "written past the workspace");
  free(w.mem);
  simdattn_plan_destroy(plan);
  case_free(&cd);
}

/* ---- one plan, two threads at once ---- */
typedef struct {
  const simdattn_plan *plan;
  case_data cd;
  int errors;
} runner;
static void *run_many(void *arg) {
  runner *r = (runner *)arg;
  workspace w = {0};
  if (ws_make(&w, simdattn_plan_workspace_size(r->plan))) return NULL;
  for (int k = 0; k < 20; k++)
    if (simdattn_plan_execute(r->plan, &r->cd.p, w.ws, w.size) != SIMDATTN_OK) r->errors++;
  free(w.mem);
  return NULL;
}
static void check_concurrent(void) {
  case_spec spec = case_default("concurrent", 1, 700);
  spec.heads_q = 8;
  spec.heads_kv = 2;
  spec.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  runner r[2];
  const simdattn_options opt = {1, NULL, NULL, NULL, 0};
  for (int t = 0; t < 2; t++) {
    CHECK(case_build(&spec, 3, &r[t].cd) == 0, "build");
    r[t].errors = 0;
  }
  simdattn_plan *plan = NULL;
  CHECK(simdattn_plan_create(&r[0].cd.p, &opt, &plan) == SIMDATTN_OK, "plan: %s", simdattn_last_error());
  if (!plan) return;
  CHECK(simdattn_forward(&r[0].cd.p, &opt) == SIMDATTN_OK, "forward");
  result want;
  keep(&r[0].cd, &want);
  pthread_t th[2];
  for (int t = 0; t < 2; t++) r[t].plan = plan, case_reset_outputs(&r[t].cd);
  for (int t = 0; t < 2; t++) pthread_create(&th[t], NULL, run_many, &r[t]);
  for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
  for (int t = 0; t < 2; t++) {
    CHECK(r[t].errors == 0, "thread %d: %d failed executes", t, r[t].errors);
    CHECK(same(&r[t].cd, &want), "thread %d: concurrent executes of one plan differ", t);
    case_free(&r[t].cd);
  }
  drop(&want);
  simdattn_plan_destroy(plan);
}

/* ---- bad input ---- */
static case_data bad_cd;
static simdattn_plan *bad_plan;
static workspace bad_ws;

static int outputs_untouched(void) {
  case_data probe = bad_cd;
  (void)probe;
  const uint32_t sentinel = 0x7fc5a5a5u;
  for (size_t t = 0; t < bad_cd.out_len; t++)
    if (memcmp(&bad_cd.out_buf[t], &sentinel, 4)) return 0;
  for (size_t t = 0; t < bad_cd.lse_len; t++)
    if (memcmp(&bad_cd.lse_buf[t], &sentinel, 4)) return 0;
  return 1;
}

static void expect_bad(const simdattn_problem *p, void *ws, size_t size, const char *field, const char *what) {
  case_reset_outputs(&bad_cd);
  const simdattn_status st = simdattn_plan_execute(bad_plan, p, ws, size);
  const char *msg = simdattn_last_error();
  CHECK(st == SIMDATTN_ERR_INVALID, "%s: status %d, want SIMDATTN_ERR_INVALID (%s)", what, (int)st, msg);
  CHECK(strstr(msg, field) != NULL, "%s: message '%s' does not name '%s'", what, msg, field);
  CHECK(outputs_untouched(), "%s: out or lse written on failure", what);
}

static void check_errors(void) {
  case_spec spec = case_default("errors", 3, 300);
  spec.heads_q = 4;
  spec.heads_kv = 2;
  spec.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  spec.mask = MASK_FULL;
  spec.sinks = 1;
  CHECK(case_build(&spec, 9, &bad_cd) == 0, "build");
  const simdattn_options opt = {1, NULL, NULL, NULL, 0};
  CHECK(simdattn_plan_create(&bad_cd.p, &opt, &bad_plan) == SIMDATTN_OK, "plan: %s", simdattn_last_error());
  CHECK(ws_make(&bad_ws, simdattn_plan_workspace_size(bad_plan)) == 0, "workspace");
  const simdattn_problem good = bad_cd.p;
  void *ws = bad_ws.ws;
  const size_t n = bad_ws.size;
  case_reset_outputs(&bad_cd);
  CHECK(simdattn_plan_execute(bad_plan, &good, ws, n) == SIMDATTN_OK, "the good problem: %s", simdattn_last_error());
  simdattn_problem p;
#define BAD_FIELD(stmt, field)                  \
  do {                                          \
    p = good;                                   \
    stmt;                                       \
    expect_bad(&p, ws, n, field, #stmt);        \
  } while (0)
  BAD_FIELD(p.batch = 2, "batch");
  BAD_FIELD(p.heads_q = 8, "heads_q");
  BAD_FIELD(p.heads_kv = 1, "heads_kv");
  BAD_FIELD(p.seq_q = 4, "seq_q");
  BAD_FIELD(p.seq_kv = 301, "seq_kv");
  BAD_FIELD(p.seq_kv = -1, "seq_kv");
  BAD_FIELD(p.head_dim = 32, "head_dim");
  BAD_FIELD(p.head_dim_v = 32, "head_dim_v");
  BAD_FIELD(p.q.dtype = SIMDATTN_F16, "q.dtype");
  BAD_FIELD(p.k.stride_seq += 1, "k.stride_seq");
  BAD_FIELD(p.v.stride_head += 64, "v.stride_head");
  BAD_FIELD(p.out_stride_seq += 1, "out_stride_seq");
  BAD_FIELD(p.scale = 0.5f, "scale");
  BAD_FIELD(p.causal = SIMDATTN_CAUSAL_TOP_LEFT, "causal");
  BAD_FIELD(p.window = 10, "window");
  BAD_FIELD(p.softcap = 5.0f, "softcap");
  BAD_FIELD(p.mask_stride_q += 1, "mask_stride_q");
  BAD_FIELD(p.lse = NULL, "lse");
  BAD_FIELD(p.mask = NULL, "mask");
  BAD_FIELD(p.sinks = NULL, "sinks");
  BAD_FIELD(p.alibi_slopes = bad_cd.sinks, "alibi_slopes");
  BAD_FIELD(p.q.data = NULL, "q");
  BAD_FIELD(p.out = NULL, "out");
  BAD_FIELD(p.out = (float *)(uintptr_t)p.k.data, "out overlaps k");
  /* the buffers' ranges, checked per execute without the shape's checks (src/validate.c, planned_span) */
  BAD_FIELD(p.k.data = NULL, "k must not be NULL");
  BAD_FIELD(p.v.data = NULL, "v must not be NULL");
  BAD_FIELD(p.v.data = (const void *)(UINTPTR_MAX - 64), "v: element offsets overflow the address space");
  BAD_FIELD(p.lse = (float *)(uintptr_t)p.q.data, "lse overlaps q");
  BAD_FIELD(p.out = (float *)(uintptr_t)p.mask, "out overlaps mask");
  BAD_FIELD(p.lse = (float *)(uintptr_t)p.sinks, "lse overlaps sinks");
  p = good;
  expect_bad(&p, ws, n - 1, "workspace_size", "a short workspace");
  if (n > 0) {
    expect_bad(&p, NULL, n, "workspace", "a NULL workspace");
    expect_bad(&p, (char *)ws + 16, n, "workspace", "a misaligned workspace");
    expect_bad(&p, (void *)bad_cd.out_buf, n, "workspace", "a workspace over out");
    expect_bad(&p, (void *)(((uintptr_t)bad_cd.k + 63) / 64 * 64), n, "workspace", "a workspace over k");
  }
  case_reset_outputs(&bad_cd);
  CHECK(simdattn_plan_execute(NULL, &good, ws, n) == SIMDATTN_ERR_INVALID && strstr(simdattn_last_error(), "plan"),
        "a NULL plan: '%s'", simdattn_last_error());
  CHECK(simdattn_plan_execute(bad_plan, NULL, ws, n) == SIMDATTN_ERR_INVALID &&
            strstr(simdattn_last_error(), "problem"),
        "a NULL problem: '%s'", simdattn_last_error());
  CHECK(outputs_untouched(), "NULL plan or problem wrote");
  /* plan_create: the shape is validated as simdattn_forward validates it; the data need not exist */
  simdattn_plan *pl = (simdattn_plan *)&pl;
  p = good;
  p.head_dim = 0;
  CHECK(simdattn_plan_create(&p, NULL, &pl) == SIMDATTN_ERR_INVALID && pl == NULL &&
            strstr(simdattn_last_error(), "head_dim"),
        "plan_create of a bad shape: '%s'", simdattn_last_error());
  CHECK(simdattn_plan_create(&good, NULL, NULL) == SIMDATTN_ERR_INVALID, "plan_create without a place for the plan");
  simdattn_options neg = {-1, NULL, NULL, NULL, 0};
  CHECK(simdattn_plan_create(&good, &neg, &pl) == SIMDATTN_ERR_INVALID && strstr(simdattn_last_error(), "n_threads"),
        "negative n_threads: '%s'", simdattn_last_error());
  simdattn_options unknown = {1, "avx9_f32_flash_q1k1", NULL, NULL, 0};
  CHECK(simdattn_plan_create(&good, &unknown, &pl) == SIMDATTN_ERR_INVALID &&
            strstr(simdattn_last_error(), "avx9_f32_flash_q1k1"),
        "unknown variant: '%s'", simdattn_last_error());
  p = good;
  p.q.data = p.k.data = p.v.data = NULL;
  p.out = NULL;
  CHECK(simdattn_plan_create(&p, NULL, &pl) == SIMDATTN_OK, "a plan from a shape without data: %s",
        simdattn_last_error());
  simdattn_plan_destroy(pl);
  simdattn_plan_destroy(NULL);
  CHECK(simdattn_plan_workspace_size(NULL) == 0 && simdattn_plan_variant(NULL) == NULL, "NULL plan queries");
  free(bad_ws.mem);
  simdattn_plan_destroy(bad_plan);
  case_free(&bad_cd);
}

/* ---- no allocation on the execute path ---- */
/* executes per plan: 50, or 6 under an emulator (`--stride`: 50 were half of this test's 180 s under
 * qemu on a Zen 3); either way every seq_kv of the k % 3 pattern, twice or more */
static int alloc_reps = 50;
static void check_no_allocation(void) {
#ifdef SIMDATTN_TEST_SANITIZED
  printf("allocation count: not checked under the sanitizers (their allocator)\n");
#else
  static const int64_t shapes[][4] = {{1, 4096, 32, 8}, {1, 256, 6, 6}, {300, 300, 2, 2}, {1, 1, 6, 6}};
  const simdattn_options opts[3] = {{1, NULL, NULL, NULL, 0}, {2, NULL, NULL, NULL, 0}, {0, NULL, inline_pool, NULL, 0}};
  for (int s = 0; s < (int)SA_ARRAY_SIZE(shapes); s++)
    for (int o = 0; o < 3; o++) {
      case_spec spec = case_default("alloc", shapes[s][0], shapes[s][1]);
      spec.heads_q = shapes[s][2];
      spec.heads_kv = shapes[s][3];
      spec.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
      case_data cd;
      CHECK(case_build(&spec, 1, &cd) == 0, "build");
      simdattn_plan *plan = NULL;
      CHECK(simdattn_plan_create(&cd.p, &opts[o], &plan) == SIMDATTN_OK, "plan: %s", simdattn_last_error());
      workspace w = {0};
      CHECK(plan && ws_make(&w, simdattn_plan_workspace_size(plan)) == 0, "workspace");
      if (!plan) continue;
      CHECK(simdattn_plan_execute(plan, &cd.p, w.ws, w.size) == SIMDATTN_OK, "warm-up"); /* threads start */
      const long before = ALLOCS();
      for (int k = 0; k < alloc_reps; k++) {
        simdattn_problem p = cd.p;
        p.seq_kv = cd.p.seq_kv - (k % 3 < cd.p.seq_kv ? k % 3 : 0); /* shorter than the plan's too */
        CHECK(simdattn_plan_execute(plan, &p, w.ws, w.size) == SIMDATTN_OK, "execute: %s", simdattn_last_error());
      }
      const long during = ALLOCS() - before;
      const long fwd = ALLOCS();
      simdattn_plan *other = NULL; /* plan_create allocates the plan: the counter must see it */
      CHECK(simdattn_plan_create(&cd.p, &opts[o], &other) == SIMDATTN_OK, "plan");
      simdattn_plan_destroy(other);
      CHECK(ALLOCS() > fwd, "the counter sees no allocation in simdattn_plan_create: it counts nothing");
      CHECK(during == 0, "%lld allocations in %d executes (q%lld kv%lld h%lldx%lld, options %d)", (long long)during,
            alloc_reps, (long long)shapes[s][0], (long long)shapes[s][1], (long long)shapes[s][2],
            (long long)shapes[s][3], o);
      free(w.mem);
      simdattn_plan_destroy(plan);
      case_free(&cd);
    }
  printf("allocation count: 0 in every execute\n");
#endif
}

/* Decode with several kv heads per task gives exactly the bits of one head per task (forced:
 * sa_group_heads_min_bytes INFINITY, sa_heads_as_rows_max_bytes -1, sa_direct_short_max_bytes -1), on 1 and 2
 * threads and a pool,
 * for MHA, GQA and long (split) keys, both ways a task takes several heads (each forced at any
 * size): side by side on an interleaved (BSHD) cache (sa_group_heads_min_bytes 0; that plan asks for
 * more workspace: proof the grouped path ran) and, for heads of one row each, as the rows of one
 * task on either layout (sa_heads_as_rows_max_bytes INFINITY); and the short path of plain multi-head
 * decode (sa_direct_short_max_bytes INFINITY), with one head per task, heads as rows or side by side, and
 * its tiny path (fewer keys than one S tile: 1 and 7 keys; 16 is a whole AVX-512 tile). None writes past
 * its workspace. */
typedef struct {
  double min_bytes, rows_max_bytes, short_max_bytes;
} grouping;
/* plan and execute with the grouping thresholds g (execute plans its grid again: the same ones) */
static int run_grouped(case_data *cd, const simdattn_options *o, grouping g, size_t *ws_size, int *guard_ok) {
  const double saved_min = sa_group_heads_min_bytes, saved_rows = sa_heads_as_rows_max_bytes,
               saved_short = sa_direct_short_max_bytes;
  sa_group_heads_min_bytes = g.min_bytes;
  sa_heads_as_rows_max_bytes = g.rows_max_bytes;
  sa_direct_short_max_bytes = g.short_max_bytes;
  simdattn_plan *plan = NULL;
  workspace w = {0};
  int ok = 0;
  CHECK(simdattn_plan_create(&cd->p, o, &plan) == SIMDATTN_OK, "%s", simdattn_last_error());
  if (plan && ws_make(&w, simdattn_plan_workspace_size(plan)) == 0) {
    *ws_size = simdattn_plan_workspace_size(plan);
    case_reset_outputs(cd);
    ok = simdattn_plan_execute(plan, &cd->p, w.ws, w.size) == SIMDATTN_OK;
    CHECK(ok, "%s", simdattn_last_error());
    *guard_ok = ws_guard_ok(&w);
  }
  free(w.mem);
  simdattn_plan_destroy(plan);
  sa_group_heads_min_bytes = saved_min;
  sa_heads_as_rows_max_bytes = saved_rows;
  sa_direct_short_max_bytes = saved_short;
  return ok;
}
static void check_grouped_heads(const sa_variant *v) {
  static const int64_t shapes[][3] = {{8, 8, 300}, {8, 2, 77}, {16, 4, 1100}, {6, 3, 1}, {32, 32, 160},
                                      {6, 6, 1},   {5, 5, 40}, {3, 3, 1100},  {7, 7, 7}, {4, 4, 16}};
  const simdattn_options opts[3] = {{1, v->name, NULL, NULL, 0}, {2, v->name, NULL, NULL, 0}, {0, v->name, inline_pool, NULL, 0}};
  /* the first two ways run heads side by side: interleaved caches only */
  const grouping one = {INFINITY, -1.0, -1.0},
                 ways[5] = {{0.0, -1.0, -1.0}, {0.0, -1.0, INFINITY}, {INFINITY, INFINITY, -1.0},
                            {INFINITY, -1.0, INFINITY}, {INFINITY, INFINITY, INFINITY}};
  static const char *const how[5] = {"side by side", "short path, side by side", "as rows", "short path",
                                     "short path, as rows"};
  for (int s = 0; s < (int)SA_ARRAY_SIZE(shapes); s++)
    for (int bhsd = 0; bhsd < 2; bhsd++)
      for (int causal = 0; causal < 2; causal++) {
        case_spec spec = case_default("grouped", 1, shapes[s][2]);
        spec.heads_q = shapes[s][0];
        spec.heads_kv = shapes[s][1];
        spec.layout = bhsd ? LAYOUT_BHSD : LAYOUT_BSHD;
        spec.causal = causal ? SIMDATTN_CAUSAL_BOTTOM_RIGHT : SIMDATTN_CAUSAL_NONE;
        spec.d = spec.dv = s % 2 ? 80 : 64;
        if (s == 6) spec.dv = 48; /* head_dim_v != head_dim */
        if (case_fit_dtypes(&spec, v->dtypes)) continue;
        case_data cd;
        if (case_build(&spec, 5, &cd)) {
          CHECK(0, "build");
          continue;
        }
        for (int o = 0; o < 3; o++) {
          size_t ws_one = 0, ws = 0;
          int guard = 1;
          if (!run_grouped(&cd, &opts[o], one, &ws_one, &guard)) continue;
          result want;
          keep(&cd, &want);
          for (int k = 2 * bhsd; k < 5; k++) {
            if (!run_grouped(&cd, &opts[o], ways[k], &ws, &guard)) continue;
            CHECK(same(&cd, &want), "%s %s option set %d: several heads per task %s differ from one", v->name, cd.name,
                  o, how[k]);
            CHECK(guard, "%s %s: written past the workspace (%s)", v->name, cd.name, how[k]);
            const int flash = v->kernel->max_heads_per_task > 1 &&
                              spec.heads_q / spec.heads_kv <= v->kernel->tiles.direct_rows &&
                              spec.seq_kv > 1; /* one key: no seq stride, nothing interleaved */
            if (k == 0 && flash)
              CHECK(ws > ws_one, "%s %s: the grouped plan asks no more workspace (%zu) than one head per task (%zu)",
                    v->name, cd.name, ws, ws_one);
          }
          /* and simdattn_forward (the default thresholds) gives the same bits */
          case_reset_outputs(&cd);
          CHECK(simdattn_forward(&cd.p, &opts[o]) == SIMDATTN_OK, "%s", simdattn_last_error());
          CHECK(same(&cd, &want), "%s %s option set %d: simdattn_forward differs from one head per task", v->name,
                cd.name, o);
          drop(&want);
        }
        case_free(&cd);
      }
}

int main(int argc, char **argv) {
  /* every third quick-grid case (every group is represented); `--stride N` every Nth (emulators) */
  const int stride = argc == 3 && !strcmp(argv[1], "--stride") ? atoi(argv[2]) : 3;
  if (argc == 3 && !strcmp(argv[1], "--stride")) alloc_reps = 6; /* an emulator */
  case_spec *grid;
  const int n = case_grid(1, &grid);
  int cases = 0;
  for (int c = 0; c < n; c += stride > 0 ? stride : 3, cases++)
    for (int t = 0; t < sa_variant_total(); t++)
      if (sa_variant_available(sa_variant_at(t))) check_equal(sa_variant_at(t), grid[c]);
  free(grid);
  printf("plan + execute == forward on %d quick-grid cases x every variant x 3 option sets\n", cases);
  static const int64_t heads[][2] = {{8, 8}, {8, 2}, {8, 1}};
  for (int t = 0; t < sa_variant_total(); t++)
    if (sa_variant_available(sa_variant_at(t)))
      for (int h = 0; h < 3; h++)
        for (int l = 0; l < 2; l++)
          check_growing(sa_variant_at(t), heads[h][0], heads[h][1], l ? LAYOUT_BSHD : LAYOUT_BHSD);
  for (int t = 0; t < sa_variant_total(); t++)
    if (sa_variant_available(sa_variant_at(t))) check_grouped_heads(sa_variant_at(t));
  printf("several kv heads per task (side by side on BSHD, as rows on either layout) and the short path == one, in decode\n");
  check_concurrent();
  check_errors();
  check_no_allocation();
  return check_report("test_plan");
}
