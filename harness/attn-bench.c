/* harness/attn-bench.c: attention throughput across sequence lengths, beside this CPU's own
 * limits measured in the same run (FMA peak per ISA, streaming-read bandwidth) and beside the
 * unfused OpenBLAS path users otherwise write. Google Benchmark drives the timing (through
 * gbench_shim); every row is checked against the float64 oracle before it is timed, and a row
 * that fails the equivalence rule is reported as an error, never timed.
 *
 * Names (other tools parse them):
 *   attn/<variant>/<qdtype>-<kvdtype>/d<head_dim>/q<seq_q>/kv<seq_kv>/h<heads_q>x<heads_kv>/<full|causal>/t<threads>
 *   attn/blas_unfused/...same tail...      peak/<isa>/t<threads>      stream/t<threads>
 * Counters: GFLOPS (4 d x visible (query, key) pairs x batch x heads_q per call; 2 (d + dv)
 * when head_dim_v differs), peak_frac (GFLOPS / this run's peak for the variant's ISA and
 * thread count; the highest peak for scalar rows and blas_unfused), tokens_per_s, and for
 * decode GBps (K and V bytes read) and bw_frac (GBps / this run's stream at that thread count),
 * workspace_bytes (the library's or the baseline's extra memory for the call).
 * The sweep runs f32 throughout; SIMD variants also get f16 and bf16 K/V under f32 queries and
 * bf16 throughout (non-causal prefill at seq 512, 2048, 8192 for d 64 and 128; every decode
 * length), and GBps then counts the 2-byte elements actually read. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "baselines.h"
#include "cases.h"
#include "equiv.h"
#include "gbench_shim.h"
#include "src/internal.h"

#ifndef SIMDATTN_COMPILER
#define SIMDATTN_COMPILER "unknown"
#endif
#ifndef SIMDATTN_BUILD_FLAGS
#define SIMDATTN_BUILD_FLAGS "unknown"
#endif
#ifndef SIMDATTN_GIT_COMMIT
#define SIMDATTN_GIT_COMMIT "unknown"
#endif

#define WORK_TARGET (256.0 * 1024 * 1024) /* flops per call the head count aims at */
#define MAX_HEADS 64
#define FULL_CHECK_MACS (1 << 27)          /* above this the check spot-checks rows */
#define SPOT_ROWS 32

typedef enum { ROW_ATTN, ROW_BLAS, ROW_PEAK, ROW_STREAM } row_kind;

typedef struct {
  row_kind kind;
  const sa_variant *v;         /* ROW_ATTN */
  const sa_peak_probe *probe;  /* ROW_PEAK */
  case_spec spec;              /* ROW_ATTN, ROW_BLAS */
  int threads;
  int checked, failed;
  char why[400];
  gbs_bench *bench;
  double stream_div; /* decode rows: the best stream read seen at startup or just before the row */
  int stream_fresh;
} row;

/* ---- the run's measured limits ---- */
static int n_all;                       /* all cores */
static double peak_gflops[8][2];        /* [probe][t1, tall] */
static double stream_gbps[2];
static sa_stream_buf stream_buf;
static const sa_peak_probe *probes;
static int n_probes;
static uint64_t seed = 1;

static int tix(int threads) { return threads == 1 ? 0 : 1; }

/* The peaks rows divide by: the best seen so far in this run (at startup, then by the peak rows
 * themselves, whose repetitions run at random moments of the sweep), read when a row finishes.
 * highest[t] is the best over the ISAs (scalar rows and blas_unfused). */
static double peak_highest[2];

static void peak_update(int p, int threads, double gflops) {
  if (gflops > peak_gflops[p][tix(threads)]) peak_gflops[p][tix(threads)] = gflops;
  if (gflops > peak_highest[tix(threads)]) peak_highest[tix(threads)] = gflops;
}

static const double *peak_ref(const char *isa, int threads) {
  for (int p = 0; p < n_probes; p++)
    if (isa && !strcmp(probes[p].isa, isa)) return &peak_gflops[p][tix(threads)];
  return &peak_highest[tix(threads)]; /* scalar rows: against the best this CPU can do */
}

/* ---- shapes ---- */
static double visible_pairs(const case_spec *s) {
  if (s->causal == SIMDATTN_CAUSAL_NONE) return (double)s->seq_q * (double)s->seq_kv;
  const int64_t diag = s->causal == SIMDATTN_CAUSAL_TOP_LEFT ? 0 : s->seq_kv - s->seq_q;
  double n = 0;
  for (int64_t i = 0; i < s->seq_q; i++) {
    const int64_t hi = i + diag + 1;
    n += (double)(hi < 0 ? 0 : hi > s->seq_kv ? s->seq_kv : hi);
  }
  return n;
}

static double flops_of(const case_spec *s) {
  return 2.0 * (double)(s->d + s->dv) * visible_pairs(s) * (double)s->batch * (double)s->heads_q;
}

static case_spec prefill_shape(int64_t seq, int64_t d, int causal) {
  case_spec s = case_default("bench", seq, seq);
  s.d = s.dv = d;
  s.causal = causal ? SIMDATTN_CAUSAL_BOTTOM_RIGHT : SIMDATTN_CAUSAL_NONE;
  s.lse = 0;
  s.heads_q = s.heads_kv = 1;
  const double per_head = flops_of(&s);
  int64_t h = 1;
  while (h < MAX_HEADS && (double)(2 * h) * per_head <= WORK_TARGET) h *= 2;
  s.heads_q = s.heads_kv = h;
  return s;
}

static case_spec decode_shape(int64_t seq_kv) {
  case_spec s = case_default("bench", 1, seq_kv);
  s.heads_q = 32;
  s.heads_kv = 8;
  s.d = s.dv = 128;
  s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  s.lse = 0;
  return s;
}

/* ---- shapes: inputs, and the oracle's truth for their check ----
 * Kept in a small cache (least recently used out first, at most SHAPE_CACHE_BYTES of inputs), so
 * rows of one shape run in any order (--benchmark_enable_random_interleaving) without rebuilding
 * the inputs and the oracle's answer each time (a decode shape at kv 32768 takes about 4 s). */
#define SHAPE_CACHE_BYTES ((size_t)2 << 30)
#define SHAPE_CACHE_MAX 96
typedef struct {
  char name[160];
  case_data cd;
  sa_truth truth;
  float *got;
  size_t bytes;
  uint64_t used;
} shape_entry;
static shape_entry shapes[SHAPE_CACHE_MAX];
static int n_shapes;
static size_t shapes_bytes;
static uint64_t shape_clock;
static shape_entry *cur;         /* the shape the current row runs on */
static float *blas_ws;           /* the unfused baseline's S matrix, grown as needed */
static size_t blas_ws_bytes;

static size_t shape_bytes(const case_spec *s) {
  const double q = (double)(s->batch * s->heads_q * s->seq_q * s->d) * (s->qt == SIMDATTN_F32 ? 4 : 2);
  const double kv = (double)(s->batch * s->heads_kv * s->seq_kv * (s->d + s->dv)) * (s->kvt == SIMDATTN_F32 ? 4 : 2);
  const double o = (double)(s->batch * s->heads_q * s->seq_q * (s->dv + 1)) * 4.0;
  return (size_t)(q + kv + o);
}

static void shape_drop(int i) {
  case_free(&shapes[i].cd);
  sa_truth_free(&shapes[i].truth);
  free(shapes[i].got);
  shapes_bytes -= shapes[i].bytes;
  if (cur == &shapes[n_shapes - 1]) cur = &shapes[i];
  shapes[i] = shapes[--n_shapes];
}

static void shape_release(void) {
  while (n_shapes) shape_drop(n_shapes - 1);
  cur = NULL;
  free(blas_ws);
  blas_ws = NULL;
  blas_ws_bytes = 0;
}

static int shape_acquire(const case_spec *s, char *err, size_t n) {
  char name[160];
  case_name(s, name, sizeof name);
  for (int i = 0; i < n_shapes; i++)
    if (!strcmp(shapes[i].name, name)) {
      cur = &shapes[i];
      cur->used = ++shape_clock;
      return 0;
    }
  const size_t bytes = shape_bytes(s);
  cur = NULL;
  while (n_shapes && (n_shapes == SHAPE_CACHE_MAX || shapes_bytes + bytes > SHAPE_CACHE_BYTES)) {
    int lru = 0;
    for (int i = 1; i < n_shapes; i++)
      if (shapes[i].used < shapes[lru].used) lru = i;
    shape_drop(lru);
  }
  shape_entry *e = &shapes[n_shapes];
  memset(e, 0, sizeof *e);
  if (case_build(s, seed, &e->cd)) {
    snprintf(err, n, "cannot allocate the inputs of %s", name);
    return -1;
  }
  const int64_t rows = s->batch * s->heads_q * s->seq_q;
  const double macs = visible_pairs(s) * (double)(s->d + s->dv) * (double)s->batch * (double)s->heads_q;
  int64_t spot[SPOT_ROWS];
  const int full = macs <= FULL_CHECK_MACS;
  const int64_t n_rows = full ? rows : sa_spread_rows(&e->cd.p, SPOT_ROWS, spot);
  if (sa_truth_build(&e->cd.p, full ? NULL : spot, n_rows, 0, &e->truth)) {
    case_free(&e->cd);
    snprintf(err, n, "cannot compute the oracle for %s", name);
    return -1;
  }
  e->got = malloc(sizeof(float) * (size_t)(n_rows * s->dv + 1));
  snprintf(e->name, sizeof e->name, "%s", name);
  e->bytes = bytes;
  e->used = ++shape_clock;
  shapes_bytes += bytes;
  cur = &shapes[n_shapes++];
  fprintf(stderr, "attn-bench: %s: oracle on %s%" PRId64 " rows, budget %.3g\n", name, full ? "all " : "",
          n_rows, cur->truth.budget_out);
  return 0;
}

/* Runs the row's implementation once on the current shape. */
static int run_once(row *r, char *err, size_t n) {
  simdattn_problem *p = &cur->cd.p;
  if (r->kind == ROW_BLAS) return sa_unfused_run(p, blas_ws, r->threads, err, n);
  const simdattn_options opt = {r->threads, r->v->name, NULL, NULL};
  const simdattn_status st = simdattn_forward(p, &opt);
  if (st != SIMDATTN_OK) {
    snprintf(err, n, "simdattn_forward: %s", simdattn_last_error());
    return -1;
  }
  return 0;
}

/* The extra memory the row's call needs: the library's workspace (per-worker tiles plus key-chunk
 * partials), or the unfused baseline's S matrix. */
static size_t workspace_of(const row *r, const simdattn_problem *p) {
  if (r->kind == ROW_BLAS) return sa_unfused_workspace(p);
  sa_job j;
  if (sa_validate(p, &j) != SIMDATTN_OK) return 0;
  sa_plan(&j, r->v->kernel);
  const simdattn_options opt = {r->threads, NULL, NULL, NULL};
  return sa_workspace_bytes(&j, r->v, sa_parallel_workers(&opt, sa_task_count(&j)));
}

static int attn_setup(void *ctx, char *err, size_t n) {
  row *r = (row *)ctx;
  if (r->failed) {
    snprintf(err, n, "%s", r->why);
    return -1;
  }
  if (shape_acquire(&r->spec, err, n)) return -1;
  if (r->kind == ROW_BLAS && sa_unfused_workspace(&cur->cd.p) > blas_ws_bytes) {
    const size_t need = (sa_unfused_workspace(&cur->cd.p) + 63) / 64 * 64;
    free(blas_ws);
    blas_ws = aligned_alloc(64, need);
    blas_ws_bytes = blas_ws ? need : 0;
    if (!blas_ws) {
      snprintf(err, n, "the unfused S matrix needs %.3g GB, which cannot be allocated", need * 1e-9);
      return -1;
    }
  }
  gbs_value(r->bench, "workspace_bytes", (double)workspace_of(r, &cur->cd.p));
  if (r->spec.seq_q == 1 && !r->stream_fresh) {
    /* memory bandwidth with several threads varies with the host (measured here: 42-85 GB/s
     * with 2 threads): measure it again now, and divide by the best seen (conservative) */
    const double now = sa_stream_measure(&stream_buf, r->threads, 0.1);
    if (now > r->stream_div) r->stream_div = now;
    r->stream_fresh = 1;
  }
  if (r->checked) return 0;
  r->checked = 1;
  case_reset_outputs(&cur->cd);
  if (run_once(r, r->why, sizeof r->why) == 0) {
    sa_gather(&cur->cd.p, &cur->truth, cur->got, NULL);
    const sa_verdict v = sa_judge(&cur->truth, cur->got, NULL);
    if (!v.pass)
      snprintf(r->why, sizeof r->why, "fails the equivalence rule against the oracle: %s, err %.3g, budget %.3g",
               v.exact ? "too far" : "a 0/inf/NaN element differs", v.err_out, cur->truth.budget_out);
    else
      return 0;
  }
  r->failed = 1;
  snprintf(err, n, "%s", r->why);
  fprintf(stderr, "attn-bench: ERROR %s\n", r->why);
  return -1;
}

static int attn_run(void *ctx, int64_t iters, char *err, size_t n) {
  row *r = (row *)ctx;
  for (int64_t t = 0; t < iters; t++)
    if (run_once(r, err, n)) return -1;
  return 0;
}

static int peak_run(void *ctx, int64_t iters, char *err, size_t n) {
  (void)err, (void)n;
  row *r = (row *)ctx;
  volatile float sink = 0.0f;
  const double t0 = sa_seconds();
  for (int64_t t = 0; t < iters; t++) sink += sa_peak_run(r->probe, r->threads, 1 << 16);
  const double dt = sa_seconds() - t0;
  if (dt > 0.02) /* long enough to mean something: a better peak serves the rows after it */
    peak_update((int)(r->probe - probes), r->threads,
                *r->probe->flops * r->threads * 65536.0 * (double)iters / dt * 1e-9);
  return 0;
}

static int stream_run(void *ctx, int64_t iters, char *err, size_t n) {
  (void)err, (void)n;
  row *r = (row *)ctx;
  volatile uint64_t sink = 0;
  for (int64_t t = 0; t < iters; t++) sink += sa_stream_run(&stream_buf, r->threads);
  return 0;
}

/* ---- registration ---- */
static row *rows;
static int n_rows, cap_rows;

static row *new_row(row_kind kind, int threads) {
  if (n_rows == cap_rows) { /* the shim holds pointers into rows[]: it never moves */
    fprintf(stderr, "attn-bench: more than %d rows\n", cap_rows);
    exit(1);
  }
  row *r = &rows[n_rows++];
  memset(r, 0, sizeof *r);
  r->kind = kind;
  r->threads = threads;
  return r;
}

static void register_attn(const sa_variant *v, const case_spec *s, int threads) {
  row *r = new_row(v ? ROW_ATTN : ROW_BLAS, threads);
  r->v = v;
  r->spec = *s;
  char name[256];
  snprintf(name, sizeof name, "attn/%s/%s-%s/d%" PRId64 "/q%" PRId64 "/kv%" PRId64 "/h%" PRId64 "x%" PRId64 "/%s/t%d",
           v ? v->name : "blas_unfused", case_dtype_name(s->qt), case_dtype_name(s->kvt), s->d, s->seq_q, s->seq_kv,
           s->heads_q, s->heads_kv, s->causal == SIMDATTN_CAUSAL_NONE ? "full" : "causal", threads);
  gbs_bench *b = gbs_register(name, attn_setup, attn_run, r);
  gbs_rate(b, "GFLOPS", flops_of(s), 1e-9);
  gbs_ratio_ref(b, "peak_frac", "GFLOPS", peak_ref(v ? v->isa : NULL, threads));
  gbs_rate(b, "tokens_per_s", (double)(s->seq_q * s->batch), 1.0);
  if (s->seq_q == 1) {
    const double bytes = (double)(s->batch * s->heads_kv * s->seq_kv * (s->d + s->dv)) *
                         (s->kvt == SIMDATTN_F32 ? 4.0 : 2.0);
    gbs_rate(b, "GBps", bytes, 1e-9);
    r->stream_div = stream_gbps[tix(threads)];
    gbs_ratio_ref(b, "bw_frac", "GBps", &r->stream_div);
  }
  r->bench = b;
}

static int is_scalar(const sa_variant *v) { return !strcmp(v->isa, "scalar"); }
static int accepts(const sa_variant *v, simdattn_dtype q, simdattn_dtype kv) {
  return (v->dtypes >> q & 1u) && (v->dtypes >> kv & 1u);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: attn-bench [--quick] [--long] [--all-dims] [--scalar-all] [--variant NAME]...\n"
          "                  [--seed N] [--context KEY=VALUE]... [Google Benchmark flags]\n"
          "  --quick        a short sweep (seq 128 and 1024, d 64, decode at 2048; min_time 0.02 s)\n"
          "  --long         add prefill seq 16384 and 32768\n"
          "  (dtype rows: f32-f16, f32-bf16, bf16-bf16 for SIMD variants, prefill full seq 512/2048/8192\n"
          "   at d 64 and 128, and decode; quick: seq 1024 and decode 2048)\n"
          "  --all-dims     add head_dim 32, 80, 96, 256\n"
          "  --scalar-all   time ref and scalar_tiled beyond seq 1024 too\n"
          "  --variant N    only variant N (repeatable); baselines always run\n"
          "  --no-blas      leave out blas_unfused\n"
          "  --context K=V  add K: V to the JSON context (repeatable)\n"
          "Google Benchmark flags: --benchmark_filter=REGEX --benchmark_format=json\n"
          "  --benchmark_out=FILE --benchmark_out_format=json --benchmark_repetitions=N\n"
          "  --benchmark_min_time=SECONDS (default here 0.25) --benchmark_list_tests\n"
          "With --benchmark_format=json stdout carries only the JSON; messages go to stderr.\n");
}

static const char *cpu_model(char *buf, size_t n) {
  snprintf(buf, n, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return buf;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (colon && (!strncmp(line, "model name", 10) || !strncmp(line, "Model", 5))) {
      colon += 2;
      colon[strcspn(colon, "\n")] = '\0';
      snprintf(buf, n, "%s", colon);
      break;
    }
  }
  fclose(f);
  return buf;
}

/* Running under an emulator (qemu-user)? Timings then mean nothing. qemu-user shows the host's
 * /proc/cpuinfo, so a build for one architecture seeing the other's fields is emulated;
 * SIMDATTN_EMULATED=1 or 0 overrides. */
static int detect_emulated(void) {
  const char *env = getenv("SIMDATTN_EMULATED");
  if (env && *env) return strcmp(env, "0") != 0 && strcmp(env, "no") != 0;
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return 0;
  char line[256];
  int x86 = 0, arm = 0;
  while (fgets(line, sizeof line, f)) {
    x86 |= !strncmp(line, "vendor_id", 9) || !strncmp(line, "cpu family", 10);
    arm |= !strncmp(line, "CPU implementer", 15) || !strncmp(line, "CPU architecture", 16);
  }
  fclose(f);
#if defined(__x86_64__) || defined(__i386__)
  return arm && !x86;
#else
  return x86 && !arm;
#endif
}

int main(int argc, char **argv) {
  int quick = 0, long_seqs = 0, all_dims = 0, scalar_all = 0, blas = 1, list_only = 0;
  int have_min_time = 0, have_reps = 0;
  const char *only[32] = {0};
  int n_only = 0;
  char **gb_argv = calloc((size_t)argc + 6, sizeof(char *));
  int gb_argc = 0;
  gb_argv[gb_argc++] = argv[0];
  for (int a = 1; a < argc; a++) {
    const char *o = argv[a];
    if (!strcmp(o, "--quick")) quick = 1;
    else if (!strcmp(o, "--long")) long_seqs = 1;
    else if (!strcmp(o, "--all-dims")) all_dims = 1;
    else if (!strcmp(o, "--scalar-all")) scalar_all = 1;
    else if (!strcmp(o, "--no-blas")) blas = 0;
    else if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
      usage(stdout);
      return 0;
    } else if ((!strcmp(o, "--variant") || !strcmp(o, "--seed") || !strcmp(o, "--context")) && a + 1 < argc) {
      const char *val = argv[++a];
      if (!strcmp(o, "--seed")) {
        seed = strtoull(val, NULL, 10);
      } else if (!strcmp(o, "--context")) {
        char key[128];
        const char *eq = strchr(val, '=');
        if (!eq || eq == val || (size_t)(eq - val) >= sizeof key) {
          fprintf(stderr, "attn-bench: --context needs KEY=VALUE, got '%s'\n", val);
          return 1;
        }
        memcpy(key, val, (size_t)(eq - val));
        key[eq - val] = '\0';
        gbs_context(key, eq + 1);
      } else {
        if (!sa_variant_find(val)) {
          fprintf(stderr, "attn-bench: --variant: no variant named '%s'\n", val);
          return 1;
        }
        if (n_only < 32) only[n_only++] = val;
      }
    } else {
      if (!strncmp(o, "--benchmark_min_time", 20)) have_min_time = 1;
      if (!strncmp(o, "--benchmark_repetitions", 23)) have_reps = 1;
      if (!strncmp(o, "--benchmark_list_tests", 22)) list_only = 1;
      gb_argv[gb_argc++] = argv[a];
    }
  }
  /* The full sweep: every row three times (0.1 s each) in random order, so a slow moment on a
   * shared machine (measured here: two-thread rows halving for seconds) rarely hits all three of a
   * row's repetitions, nor only the rows a ratio compares; report.py takes each row's best. */
  if (!have_reps && !quick) {
    gb_argv[gb_argc++] = "--benchmark_repetitions=3";
    gb_argv[gb_argc++] = "--benchmark_enable_random_interleaving=true";
    gb_argv[gb_argc++] = "--benchmark_display_aggregates_only=true";
  }
  if (!have_min_time)
    gb_argv[gb_argc++] = quick ? "--benchmark_min_time=0.02" : have_reps ? "--benchmark_min_time=0.25"
                                                                           : "--benchmark_min_time=0.1";

  /* this run's limits: measured first, even when the filter hides their rows */
  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  n_all = ncpu > 0 ? (int)ncpu : 1;
  const int threads[2] = {1, n_all};
  const int n_threads = n_all > 1 ? 2 : 1;
  n_probes = sa_peak_probes(&probes);
  char buf[256], key[64];
  if (!list_only) {
    for (int p = 0; p < n_probes; p++)
      for (int t = 0; t < n_threads && sa_peak_available(&probes[p]); t++) {
        peak_update(p, threads[t], sa_peak_measure(&probes[p], threads[t], quick ? 0.05 : 0.2));
        fprintf(stderr, "attn-bench: peak %s t%d: %.1f GFLOP/s\n", probes[p].isa, threads[t], peak_gflops[p][t]);
        snprintf(key, sizeof key, "peak_gflops_%s_t%d", probes[p].isa, threads[t]);
        snprintf(buf, sizeof buf, "%.2f", peak_gflops[p][t]);
        gbs_context(key, buf);
      }
  }
  /* 16 x a 32 MiB last-level cache; 256 MiB in the quick form */
  if (sa_stream_alloc(&stream_buf, (size_t)(quick ? 256 : 512) << 20)) {
    fprintf(stderr, "attn-bench: cannot allocate the stream buffer\n");
    return 1;
  }
  if (!list_only)
    for (int t = 0; t < n_threads; t++) {
      stream_gbps[t] = sa_stream_measure(&stream_buf, threads[t], quick ? 0.1 : 0.5);
      fprintf(stderr, "attn-bench: stream t%d: %.1f GB/s\n", threads[t], stream_gbps[t]);
      snprintf(key, sizeof key, "stream_gbps_t%d", threads[t]);
      snprintf(buf, sizeof buf, "%.2f", stream_gbps[t]);
      gbs_context(key, buf);
    }

  /* context: what ran where */
  gbs_context("simdattn_version", simdattn_version());
  gbs_context("cpu_model", cpu_model(buf, sizeof buf)); /* under emulation: the host's */
#if defined(__aarch64__)
  gbs_context("arch", "aarch64");
#elif defined(__x86_64__)
  gbs_context("arch", "x86_64");
#endif
  gbs_context("cpu_features", sa_cpu_feature_names(sa_cpu_features(), buf, sizeof buf));
  gbs_context("compiler", SIMDATTN_COMPILER);
  gbs_context("build_flags", SIMDATTN_BUILD_FLAGS);
  gbs_context("git_commit_built", SIMDATTN_GIT_COMMIT);
  snprintf(buf, sizeof buf, "%d", n_all);
  gbs_context("threads_all", buf);
  const int emulated = detect_emulated();
  gbs_context("emulated", emulated ? "yes" : "no");
  if (emulated) fprintf(stderr, "attn-bench: running under emulation: these timings say nothing about hardware\n");
  gbs_context("stream_isa", sa_stream_isa());
  gbs_context("blas_config", sa_unfused_config());
  gbs_context("blas_threading", sa_unfused_threading());
  gbs_context("heads_rule", "prefill: heads_q = heads_kv = the largest power of two <= 64 keeping a call at "
                            "<= 256 MFLOP; decode: 32 query heads on 8 kv heads");
  gbs_context("check_rule", "every row checked against the float64 oracle before timing: all rows when the "
                            "shape is small, else 32 spread rows; equivalence rule of README.md");
  {
    case_spec s = prefill_shape(2048, 128, 0);
    case_data cd;
    if (!case_build(&s, 1, &cd)) {
      const char *best = simdattn_best_variant(&cd.p);
      gbs_context("auto_variant", best ? best : "none");
      case_free(&cd);
    }
  }

  /* rows: the shim keeps pointers into rows[], so size it once */
  cap_rows = 4096;
  rows = calloc((size_t)cap_rows, sizeof(row));
  for (int p = 0; p < n_probes; p++)
    for (int t = 0; t < n_threads && sa_peak_available(&probes[p]); t++) {
      row *r = new_row(ROW_PEAK, threads[t]);
      r->probe = &probes[p];
      snprintf(buf, sizeof buf, "peak/%s/t%d", probes[p].isa, threads[t]);
      gbs_rate(gbs_register(buf, NULL, peak_run, r), "GFLOPS", *probes[p].flops * threads[t] * 65536.0, 1e-9);
    }
  for (int t = 0; t < n_threads; t++) {
    row *r = new_row(ROW_STREAM, threads[t]);
    snprintf(buf, sizeof buf, "stream/t%d", threads[t]);
    gbs_rate(gbs_register(buf, NULL, stream_run, r), "GBps", (double)stream_buf.bytes, 1e-9);
  }

  const sa_variant *named[64], *vars[64];
  const int n_named = sa_variant_select(only, n_only, named, 64);
  int n_vars = 0;
  for (int t = 0; t < n_named; t++) {
    if (sa_variant_available(named[t])) vars[n_vars++] = named[t];
    else fprintf(stderr, "attn-bench: %s skipped: this CPU cannot run it\n", named[t]->name);
  }
  static const int64_t seqs_default[] = {128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768};
  static const int64_t seqs_quick[] = {128, 1024};
  static const int64_t dims_default[] = {64, 128, 32, 80, 96, 256};
  const int64_t *seqs = quick ? seqs_quick : seqs_default;
  const int n_seqs = quick ? 2 : long_seqs ? 9 : 7;
  const int n_dims = quick ? 1 : all_dims ? 6 : 2;
  for (int di = 0; di < n_dims; di++)
    for (int causal = 0; causal < 2; causal++)
      for (int si = 0; si < n_seqs; si++) {
        const case_spec s = prefill_shape(seqs[si], dims_default[di], causal);
        for (int vi = 0; vi < n_vars; vi++) {
          if (is_scalar(vars[vi]) && seqs[si] > 1024 && !scalar_all) continue;
          if (!accepts(vars[vi], SIMDATTN_F32, SIMDATTN_F32)) continue; /* the f32 sweep */
          for (int t = 0; t < n_threads; t++) register_attn(vars[vi], &s, threads[t]);
        }
        if (blas && sa_unfused_available())
          for (int t = 0; t < n_threads; t++) register_attn(NULL, &s, threads[t]);
      }
  /* reduced-precision inputs: K/V in f16 and bf16 under f32 queries, and bf16 throughout, for
   * every SIMD variant that accepts them (non-causal prefill at three lengths, and decode) */
  static const simdattn_dtype dt_pairs[3][2] = {
      {SIMDATTN_F32, SIMDATTN_F16}, {SIMDATTN_F32, SIMDATTN_BF16}, {SIMDATTN_BF16, SIMDATTN_BF16}};
  static const int64_t seqs_dt_default[] = {512, 2048, 8192};
  static const int64_t seqs_dt_quick[] = {1024};
  for (int di = 0; di < n_dims && di < 2; di++)
    for (int si = 0; si < (quick ? 1 : 3); si++)
      for (int pi = 0; pi < 3; pi++) {
        case_spec s = prefill_shape(quick ? seqs_dt_quick[si] : seqs_dt_default[si], dims_default[di], 0);
        s.qt = dt_pairs[pi][0];
        s.kvt = dt_pairs[pi][1];
        for (int vi = 0; vi < n_vars; vi++)
          if (!is_scalar(vars[vi]) && accepts(vars[vi], s.qt, s.kvt))
            for (int t = 0; t < n_threads; t++) register_attn(vars[vi], &s, threads[t]);
      }
  static const int64_t decode_default[] = {512, 2048, 8192, 32768};
  static const int64_t decode_quick[] = {2048};
  for (int si = 0; si < (quick ? 1 : 4); si++)
    for (int pi = -1; pi < 3; pi++) {
      case_spec s = decode_shape(quick ? decode_quick[si] : decode_default[si]);
      if (pi >= 0) {
        s.qt = dt_pairs[pi][0];
        s.kvt = dt_pairs[pi][1];
      }
      for (int vi = 0; vi < n_vars; vi++)
        if (accepts(vars[vi], s.qt, s.kvt) && (pi < 0 || !is_scalar(vars[vi])))
          for (int t = 0; t < n_threads; t++) register_attn(vars[vi], &s, threads[t]);
      if (pi < 0 && blas && sa_unfused_available())
        for (int t = 0; t < n_threads; t++) register_attn(NULL, &s, threads[t]);
    }

  const int rc = gbs_run(gb_argc, gb_argv);
  shape_release();
  sa_stream_free(&stream_buf);
  free(rows);
  free(gb_argv);
  if (rc == 2) fprintf(stderr, "attn-bench: the filter matched no benchmark\n");
  return rc;
}
