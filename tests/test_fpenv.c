/* tests/test_fpenv.c: the caller's floating-point environment.
 * For every variant this CPU runs, on cases with subnormal inputs, subnormal outputs, NaN/inf and
 * a split-key decode: with the caller in IEEE default mode the result passes the equivalence rule
 * against the float64 oracle; then with the caller in flush-to-zero + denormals-are-zero, round
 * toward zero, "default NaN" (Arm), and with invalid / divide-by-zero / overflow traps unmasked
 * (x86), each on 1 thread, 2 OpenMP threads, a caller's pthread pool whose threads also run in
 * that mode, and through a plan (simdattn_plan_execute on 2 OpenMP threads):
 *   - the result is bitwise the default-mode result (library work runs in IEEE defaults),
 *   - no SIGFPE, outputs written only where they belong,
 *   - the control register and the sticky status flags are exactly as the caller left them, on
 *     the calling thread and on every pool thread and OpenMP worker afterwards. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "check.h"
#include "variants_util.h"
#include "harness/cases.h"
#include "harness/equiv.h"

#if defined(__x86_64__)
#include <xmmintrin.h>
typedef struct {
  const char *name;
  uint64_t ctrl, status; /* MXCSR control bits; sticky flags the caller has set */
} fp_mode;
static const fp_mode modes[] = {
    {"ieee", 0x1F80, 0x0000},
    {"ieee+flags", 0x1F80, 0x003F}, /* every flag up: no MXCSR write at either end (src/fpenv.h) */
    {"ftz+daz", 0x1F80 | 0x8000 | 0x0040, 0x0020},                         /* inexact flag already up */
    {"round-to-zero+ftz", 0x1F80 | 0x6000 | 0x8000, 0x0000},
    {"round-up+daz", 0x1F80 | 0x4000 | 0x0040, 0x0010},                   /* underflow flag up */
    {"traps-invalid-divzero-overflow", 0x1F80 & ~(0x0001u | 0x0004u | 0x0008u), 0x0000},
};
static void mode_set(const fp_mode *m) { _mm_setcsr((unsigned)(m->ctrl | m->status)); }
static void mode_get(uint64_t *ctrl, uint64_t *status) {
  const unsigned v = _mm_getcsr();
  *ctrl = v & ~0x3Fu;
  *status = v & 0x3Fu;
}
#elif defined(__aarch64__)
typedef struct {
  const char *name;
  uint64_t ctrl, status; /* FPCR; FPSR (cumulative flags) */
} fp_mode;
static const fp_mode modes[] = {
    {"ieee", 0, 0},
    {"fz", 1u << 24, 0x10},                                 /* IXC already up */
    {"fz+dn+round-to-zero", (1u << 24) | (1u << 25) | (3u << 22), 0},
    {"fz16+round-up", (1u << 19) | (1u << 22), 0x08},       /* UFC up */
};
static void mode_set(const fp_mode *m) {
  __asm__ __volatile__("msr fpcr, %0" : : "r"(m->ctrl) : "memory");
  __asm__ __volatile__("msr fpsr, %0" : : "r"(m->status) : "memory");
}
static void mode_get(uint64_t *ctrl, uint64_t *status) {
  uint64_t c, s;
  __asm__ __volatile__("mrs %0, fpcr" : "=r"(c));
  __asm__ __volatile__("mrs %0, fpsr" : "=r"(s));
  *ctrl = c;
  *status = s;
}
#else
#define NO_FP_MODES 1
#endif

#ifndef NO_FP_MODES
#define N_MODES ((int)(sizeof modes / sizeof modes[0]))

/* ---- a caller's pthread pool whose threads run in the caller's mode ---- */
typedef struct {
  void (*task)(void *, int64_t);
  void *ctx;
  int64_t count;
  atomic_llong next;
  const fp_mode *mode;
  atomic_int mode_kept; /* every pool thread found its mode as it set it, after its tasks */
} mode_pool;

static void *mode_pool_worker(void *arg) {
  mode_pool *p = (mode_pool *)arg;
  mode_set(p->mode);
  for (;;) {
    const long long t = atomic_fetch_add(&p->next, 1);
    if (t >= p->count) break;
    p->task(p->ctx, t);
  }
  uint64_t c, s;
  mode_get(&c, &s);
  if (c != p->mode->ctrl || s != p->mode->status) atomic_store(&p->mode_kept, 0);
  const fp_mode ieee = modes[0];
  mode_set(&ieee);
  return NULL;
}

static void mode_pool_parallel(void *pool, void (*task)(void *, int64_t), void *ctx, int64_t count) {
  mode_pool *p = (mode_pool *)pool;
  p->task = task;
  p->ctx = ctx;
  p->count = count;
  atomic_init(&p->next, 0);
  pthread_t th[3];
  for (int t = 0; t < 3; t++) pthread_create(&th[t], NULL, mode_pool_worker, p);
  for (int t = 0; t < 3; t++) pthread_join(th[t], NULL);
}

/* OpenMP's worker threads (shared by the library and this test through libgomp) in mode m */
static void omp_workers_set(const fp_mode *m) {
#ifdef _OPENMP
#pragma omp parallel num_threads(2)
  mode_set(m);
#else
  (void)m;
#endif
}
static int omp_workers_kept(const fp_mode *m) {
  int kept = 1;
#ifdef _OPENMP
#pragma omp parallel num_threads(2) reduction(&& : kept)
  if (omp_get_thread_num() != 0) { /* thread 0 is the caller's own thread, checked apart */
    uint64_t c, s;
    mode_get(&c, &s);
    kept = c == m->ctrl && s == m->status;
  }
#else
  (void)m;
#endif
  return kept;
}

static int readable_mode(const fp_mode *m) { /* a bit the core does not implement reads back 0 */
  mode_set(m);
  uint64_t c, s;
  mode_get(&c, &s);
  mode_set(&modes[0]);
  return c == m->ctrl && s == m->status;
}

static int64_t n_runs, n_cases_judged;

static void run_variant_case(const simdattn_variant_info *info, case_spec spec, int subnormal_v) {
  if (case_fit_dtypes(&spec, info->dtypes)) return;
  case_data cd;
  if (case_build(&spec, 5, &cd)) {
    CHECK(0, "cannot build %s", spec.group);
    return;
  }
  if (subnormal_v && spec.kvt == SIMDATTN_F32) { /* every V element subnormal: so are the outputs */
    for (int64_t b = 0; b < spec.batch; b++)
      for (int64_t h = 0; h < spec.heads_kv; h++)
        for (int64_t j = 0; j < spec.seq_kv; j++)
          for (int64_t x = 0; x < spec.dv; x++) {
            float *e = (float *)cd.v + b * cd.p.v.stride_batch + h * cd.p.v.stride_head + j * cd.p.v.stride_seq + x;
            *e = ldexpf(*e, -132);
          }
  }
  sa_truth truth;
  if (sa_truth_build(&cd.p, NULL, spec.batch * spec.heads_q * spec.seq_q, 1, &truth)) {
    CHECK(0, "oracle for %s", cd.name);
    case_free(&cd);
    return;
  }
  const int64_t rows = spec.batch * spec.heads_q * spec.seq_q;
  float *got = malloc(sizeof(float) * (size_t)(rows * spec.dv + 1)), *got_lse = malloc(sizeof(float) * (size_t)(rows + 1));
  float *want = malloc(cd.out_len * sizeof(float)), *want_lse = malloc(cd.lse_len * sizeof(float));

  case_reset_outputs(&cd);
  const simdattn_options one = {1, info->name, NULL, NULL, 0};
  CHECK(simdattn_forward(&cd.p, &one) == SIMDATTN_OK, "%s %s: %s", info->name, cd.name, simdattn_last_error());
  sa_gather(&cd.p, &truth, got, got_lse);
  const sa_verdict v = sa_judge(&truth, got, got_lse);
  CHECK(v.pass, "%s on %s in IEEE mode: err %.3g (budget %.3g), lse err %.3g, exact %d", info->name, cd.name,
        v.err_out, truth.budget_out, v.err_lse, v.exact);
  n_cases_judged++;
  memcpy(want, cd.out_buf, cd.out_len * sizeof(float));
  memcpy(want_lse, cd.lse_buf, cd.lse_len * sizeof(float));

  for (int m = 0; m < N_MODES; m++) {
    if (!readable_mode(&modes[m])) {
      if (!strcmp(info->name, "ref") && subnormal_v == 0) printf("mode %s: not implemented by this core, skipped\n", modes[m].name);
      continue;
    }
    for (int how = 0; how < 4; how++) { /* 1 thread, 2 OpenMP threads, the caller's pool, a plan on 2 threads */
      mode_pool pool;
      memset(&pool, 0, sizeof pool);
      pool.mode = &modes[m];
      atomic_init(&pool.mode_kept, 1);
      const simdattn_options opt = {how == 1 || how == 3 ? 2 : 1, info->name, how == 2 ? mode_pool_parallel : NULL,
                                    how == 2 ? &pool : NULL, 0};
      simdattn_plan *plan = NULL;
      void *ws = NULL;
      size_t ws_size = 0;
      if (how == 3) { /* planned in IEEE mode, executed in the caller's */
        CHECK(simdattn_plan_create(&cd.p, &opt, &plan) == SIMDATTN_OK, "plan: %s", simdattn_last_error());
        ws_size = simdattn_plan_workspace_size(plan);
        ws = ws_size ? aligned_alloc(SIMDATTN_WORKSPACE_ALIGN, (ws_size + 63) / 64 * 64) : NULL;
      }
      case_reset_outputs(&cd);
      if (how == 1 || how == 3) omp_workers_set(&modes[m]);
      mode_set(&modes[m]);
      const simdattn_status st =
          how == 3 ? simdattn_plan_execute(plan, &cd.p, ws, ws_size) : simdattn_forward(&cd.p, &opt);
      uint64_t c, s;
      mode_get(&c, &s);
      mode_set(&modes[0]);
      n_runs++;
      CHECK(st == SIMDATTN_OK, "%s %s mode %s: %s", info->name, cd.name, modes[m].name, simdattn_last_error());
      CHECK(c == modes[m].ctrl && s == modes[m].status,
            "%s %s mode %s how %d: control/status %#llx/%#llx after the call, caller had %#llx/%#llx", info->name,
            cd.name, modes[m].name, how, (unsigned long long)c, (unsigned long long)s,
            (unsigned long long)modes[m].ctrl, (unsigned long long)modes[m].status);
      CHECK(!memcmp(cd.out_buf, want, cd.out_len * sizeof(float)) &&
                !memcmp(cd.lse_buf, want_lse, cd.lse_len * sizeof(float)),
            "%s %s mode %s how %d: result differs from the IEEE-mode result", info->name, cd.name, modes[m].name,
            how);
      CHECK(case_guards_intact(&cd), "%s %s mode %s: wrote outside its outputs", info->name, cd.name, modes[m].name);
      if (how == 2) CHECK(atomic_load(&pool.mode_kept), "%s mode %s: a pool thread's mode changed", info->name,
                          modes[m].name);
      if (how == 1 || how == 3) {
        CHECK(omp_workers_kept(&modes[m]), "%s mode %s: an OpenMP worker's mode changed", info->name, modes[m].name);
        omp_workers_set(&modes[0]);
      }
      free(ws);
      simdattn_plan_destroy(plan);
    }
  }
  free(got);
  free(got_lse);
  free(want);
  free(want_lse);
  sa_truth_free(&truth);
  case_free(&cd);
}
#endif

int main(int argc, char **argv) {
#ifdef NO_FP_MODES
  (void)argc, (void)argv;
  printf("test_fpenv: no floating-point mode register known on this architecture\n");
  return 0;
#else
  case_spec specs[6];
  specs[0] = case_default("fpenv-subn", 70, 300); /* a third of q, k, v subnormal */
  specs[0].dist = DIST_SUBN;
  specs[0].heads_q = 4;
  specs[0].heads_kv = 2;
  specs[0].causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  specs[1] = specs[0]; /* the same with f16 K/V, subnormal in f16 */
  specs[1].kvt = SIMDATTN_F16;
  specs[2] = specs[0];
  specs[2].qt = specs[2].kvt = SIMDATTN_BF16;
  specs[3] = case_default("fpenv-subn-out", 33, 200); /* every V subnormal (set below): outputs too */
  specs[4] = case_default("fpenv-nan", 20, 130);      /* NaN in V, inf - inf in the softmax */
  specs[4].nan = NAN_V;
  specs[4].dist = DIST_LARGE;
  specs[4].sinks = 1;
  specs[5] = case_default("fpenv-decode", 1, 3000); /* keys split into chunks, merged */
  specs[5].heads_q = 8;
  specs[5].heads_kv = 2;
  specs[5].dist = DIST_SUBN;
  specs[5].causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  simdattn_variant_info info;
  const int quick = argc > 1 && !strcmp(argv[1], "--quick"); /* (emulators) scalar_tiled and ref left out:
                                                               * portable C, run natively (ref: 16 s of 30
                                                               * under qemu on Zen 5); the mode is set
                                                               * around every variant's call alike */
  for (int t = 0; test_next_variant(&t, &info, 1); t++) {
    if (quick && (!strcmp(info.name, "scalar_tiled") || !strcmp(info.name, "ref"))) continue;
    for (int c = 0; c < 6; c++) run_variant_case(&info, specs[c], c == 3);
    printf("%s: done\n", info.name);
  }
  printf("%lld cases judged against the oracle, %lld calls in non-default modes\n", (long long)n_cases_judged,
         (long long)n_runs);
  return check_report("test_fpenv");
#endif
}
