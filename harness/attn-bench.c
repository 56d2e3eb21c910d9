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
 * workspace_bytes (the library's or the baseline's extra memory for the call), and foreign_cpu /
 * steal (harness/load.h: the share of the machine other processes and the hypervisor took while
 * the row ran; a row above FOREIGN_MAX is run again, at most RERUNS times, and `reruns` says how
 * often; report.md marks the rows still above it).
 * The sweep runs f32 throughout; SIMD variants also get f16 and bf16 K/V under f32 queries and
 * bf16 throughout (non-causal prefill at seq 512, 2048, 8192 for d 64 and 128; every decode
 * length), and GBps then counts the 2-byte elements actually read. */
#include <float.h>
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
#include "load.h"
#include "ref/ref.h"
#include "src/internal.h"
#include "varlen.h"

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
#define FULL_CHECK_MACS (1 << 27) /* above this the check spot-checks rows */
#define SPOT_ROWS 32

typedef enum { ROW_ATTN, ROW_BLAS, ROW_NAIVE, ROW_PEAK, ROW_STREAM, ROW_BWD } row_kind;

typedef struct row {
  row_kind kind;
  const sa_variant *v;    /* ROW_ATTN */
  const sa_probes *probe; /* ROW_PEAK */
  case_spec spec;         /* ROW_ATTN, ROW_BLAS, ROW_NAIVE */
  int threads;
  int plan;               /* ROW_ATTN: through simdattn_plan_execute (else simdattn_forward) */
  int call;               /* a call/ row: per-call latency (us_per_call) */
  simdattn_plan *planned; /* made by the row's first setup, with its workspace */
  void *ws;
  size_t ws_size;
  int checked, failed;
  char why[400];
  gbs_bench *bench;
  double stream_div; /* decode rows: the best stream read seen at startup or just before the row */
  int stream_fresh;
  struct row *pair[2];      /* a layout/ row: its BHSD row and the other side (BSHD, or a paged row), run alternately
                             * (not registered) */
  int pair_paged;           /* a layout/ row whose second side is paged: counters paged_over_bhsd... */
  const varlen_spec *vspec; /* a ragged or paged row (paged decode, ragged/, step/): problem.varlen */
  unsigned flags;           /* options.flags (`/chunkinv` rows: SIMDATTN_CHUNK_INVARIANT) */
  int step;                 /* ROW_BWD: an attn_fwdbwd/ row (the forward first) */
} row;

/* ---- the run's measured limits ---- */
static int n_all;                /* all cores */
static double peak_gflops[8][2]; /* [probe][t1, tall]: up to 8 ISAs with probes */
static double stream_gbps[2];
static sa_stream_buf stream_buf;
static const sa_probes *probes;
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

static case_spec decode_shape(int64_t seq_kv, int64_t heads_kv, case_layout layout) {
  case_spec s = case_default("bench", 1, seq_kv);
  s.heads_q = 32;
  s.heads_kv = heads_kv;
  s.layout = layout;
  s.d = s.dv = 128;
  s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  s.lse = 0;
  return s;
}

/* ---- shapes: inputs, and the oracle's truth for their check ----
 * Kept in a small cache (least recently used out first, at most SHAPE_CACHE_BYTES of inputs), so
 * rows of one shape run in any order (--benchmark_enable_random_interleaving) without rebuilding
 * the inputs and the oracle's answer each time (a decode shape at kv 32768 takes about 4 s). */
/* 3/8 of the machine's memory, at least 2 GiB, at most 10: the decode shapes alone (MHA at
 * seq_kv 32768 is 1 GiB of f32 K/V) overflowed 2 GiB, and the random order then rebuilt them and
 * their oracle again and again (a sweep of 700 rows ran past an hour). With the quantized caches'
 * rows the default sweep's shapes hold 7.4 GB of inputs: a quarter of 24 GiB (and their f32 data,
 * 1.7 GB more, kept until then) made the sweep of 1045 rows run at about a third of its speed */
static size_t shape_cache_bytes(void) {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  size_t b = pages > 0 && page > 0 ? (size_t)pages * (size_t)page / 8 * 3 : 0;
  if (b < ((size_t)2 << 30)) b = (size_t)2 << 30;
  if (b > ((size_t)10 << 30)) b = (size_t)10 << 30;
  return b;
}
#define SHAPE_CACHE_BYTES shape_cache_bytes()
#define SHAPE_CACHE_MAX 256
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
static shape_entry *cur; /* the shape the current row runs on */
static float *blas_ws;   /* the unfused baseline's S matrix, grown as needed */
static size_t blas_ws_bytes;
static float *naive_ws; /* naive_decode's score scratch, grown as needed */
static size_t naive_ws_floats;

/* a row name's K/V dtype part: the K/V format, or "<K>+<V>" when they differ (f32-q8_0+q4_0) */
static const char *kv_dtypes(const case_spec *s, char *buf, size_t n) {
  if (case_vt(s) == s->kvt) snprintf(buf, n, "%s", sa_dtype_name(s->kvt));
  else snprintf(buf, n, "%s+%s", sa_dtype_name(s->kvt), sa_dtype_name(case_vt(s)));
  return buf;
}
/* <kind>/<who>/<q>-<kv>/d<d>/q<N>/kv<N>/h<hq>x<hkv>/<full|causal>/t<T>: the name attn/, layout/ and limit/ rows share */
static void row_name(char *buf, size_t n, const char *kind, const char *who, const case_spec *s, int threads) {
  char kvn[32];
  snprintf(buf, n, "%s/%s/%s-%s/d%" PRId64 "/q%" PRId64 "/kv%" PRId64 "/h%" PRId64 "x%" PRId64 "/%s/t%d", kind, who,
           sa_dtype_name(s->qt), kv_dtypes(s, kvn, sizeof kvn), s->d, s->seq_q, s->seq_kv, s->heads_q, s->heads_kv,
           s->causal == SIMDATTN_CAUSAL_NONE ? "full" : "causal", threads);
}
/* the K and V bytes a decode row reads: each format's own (a q8_0 element 34/32 bytes, q4_0 18/32, fp8 1) */
static double kv_bytes_of(const case_spec *s, int64_t keys) {
  return (double)sa_dtype_bytes(s->kvt, s->batch * s->heads_kv * keys * s->d) +
         (double)sa_dtype_bytes(case_vt(s), s->batch * s->heads_kv * keys * s->dv);
}

static size_t shape_bytes(const case_spec *s) {
  const double q = (double)sa_dtype_bytes(s->qt, s->batch * s->heads_q * s->seq_q * s->d);
  const double kv = kv_bytes_of(s, s->seq_kv); /* (a quantized case's f32 data is freed: shape_acquire) */
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
  free(naive_ws);
  naive_ws = NULL;
  naive_ws_floats = 0;
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
  /* a quantized case's f32 data (attn-check's format error) is not used here */
  free(e->cd.k_f32);
  free(e->cd.v_f32);
  e->cd.k_f32 = e->cd.v_f32 = NULL;
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
  fprintf(stderr, "attn-bench: %s: oracle on %s%" PRId64 " rows, budget %.3g\n", name, full ? "all " : "", n_rows,
          cur->truth.budget_out);
  return 0;
}

/* ---- ragged and paged rows: their problems (harness/varlen.h), in a cache of their own ----
 * Each is checked before timing as the dense rows are, through its sequences: every sequence's
 * dense forward against the float64 oracle (spot rows), and the ragged call's rows bitwise equal
 * to those dense forwards (the library's promise, which attn-check and tests/test_varlen hold). */
#define VSHAPE_MAX 16
#define VSHAPE_KEY (200 + 24 * VL_MAX_SEQS)
typedef struct {
  char name[VSHAPE_KEY];
  varlen_data vd;
  sa_truth truth[VL_MAX_SEQS];
  size_t bytes;
  uint64_t used;
} vshape_entry;
static size_t vshapes_bytes;
/* the inputs of a ragged or paged problem: each sequence's dense case and the packed or paged copy */
static size_t vshape_bytes(const varlen_spec *s) {
  double b = 0;
  for (int r = 0; r < s->n; r++) {
    case_spec c = s->base;
    c.batch = 1, c.seq_q = s->q_len[r], c.seq_kv = s->kv_len[r];
    b += 2.0 * (double)shape_bytes(&c);
  }
  return (size_t)b;
}
static vshape_entry vshapes[VSHAPE_MAX];
static int n_vshapes;
static vshape_entry *vcur;

static void vshape_drop(int i) {
  for (int r = 0; r < vshapes[i].vd.spec.n; r++)
    if (vshapes[i].vd.spec.q_len[r]) sa_truth_free(&vshapes[i].truth[r]);
  varlen_free(&vshapes[i].vd);
  vshapes_bytes -= vshapes[i].bytes;
  if (vcur == &vshapes[n_vshapes - 1]) vcur = &vshapes[i];
  vshapes[i] = vshapes[--n_vshapes];
  if (i < n_vshapes) varlen_moved(&vshapes[i].vd); /* its problem pointed into the slot it left */
}
/* the cache's key: the case's name, which does not spell out its sequences' lengths, and them */
static void vshape_key(const varlen_spec *s, char *name, size_t size) {
  varlen_name(s, name, size);
  for (int r = 0; r < s->n; r++) {
    const size_t at = strlen(name);
    snprintf(name + at, size - at, "/%lldx%lld", (long long)s->q_len[r], (long long)s->kv_len[r]);
  }
}
static int vshape_acquire(const varlen_spec *s, char *err, size_t n) {
  char name[VSHAPE_KEY];
  vshape_key(s, name, sizeof name);
  for (int i = 0; i < n_vshapes; i++)
    if (!strcmp(vshapes[i].name, name)) {
      vcur = &vshapes[i];
      vcur->used = ++shape_clock;
      return 0;
    }
  vcur = NULL;
  const size_t bytes = vshape_bytes(s); /* at most half the dense shapes' budget, beside it */
  while (n_vshapes && (n_vshapes == VSHAPE_MAX || vshapes_bytes + bytes > SHAPE_CACHE_BYTES / 2)) {
    int lru = 0;
    for (int i = 1; i < n_vshapes; i++)
      if (vshapes[i].used < vshapes[lru].used) lru = i;
    vshape_drop(lru);
  }
  vshape_entry *e = &vshapes[n_vshapes];
  memset(e, 0, sizeof *e);
  if (varlen_build(s, seed, &e->vd)) {
    varlen_free(&e->vd);
    snprintf(err, n, "cannot allocate the inputs of %s", name);
    return -1;
  }
  for (int r = 0; r < s->n; r++) {
    if (!s->q_len[r]) continue;
    int64_t spot[SPOT_ROWS];
    const simdattn_problem *p = &e->vd.seq[r].p;
    const int64_t rows = p->heads_q * p->seq_q, k = sa_spread_rows(p, rows < SPOT_ROWS ? rows : SPOT_ROWS, spot);
    if (sa_truth_build(p, spot, k, 0, &e->truth[r])) {
      for (int t = 0; t < r; t++)
        if (s->q_len[t]) sa_truth_free(&e->truth[t]);
      varlen_free(&e->vd);
      snprintf(err, n, "cannot compute the oracle for %s", name);
      return -1;
    }
  }
  snprintf(e->name, sizeof e->name, "%s", name);
  e->used = ++shape_clock;
  e->bytes = bytes;
  vshapes_bytes += bytes;
  vcur = &vshapes[n_vshapes++];
  fprintf(stderr, "attn-bench: %s: oracle on %d spread rows of each sequence\n", name, SPOT_ROWS);
  return 0;
}
static void vshape_release(void) {
  while (n_vshapes) vshape_drop(n_vshapes - 1);
  vcur = NULL;
}
/* the row's check: each sequence's dense forward within the rule, the ragged call's rows its bits */
static int vshape_check(row *r, char *err, size_t n) {
  const simdattn_options opt = {r->threads, r->v->name, NULL, NULL, 0};
  varlen_data *vd = &vcur->vd;
  varlen_reset_outputs(vd);
  if (simdattn_forward(&vd->p, &opt) != SIMDATTN_OK) {
    snprintf(err, n, "simdattn_forward: %s", simdattn_last_error());
    return -1;
  }
  for (int s = 0; s < vd->spec.n; s++) {
    if (!vd->spec.q_len[s]) continue;
    case_data *cd = &vd->seq[s];
    case_reset_outputs(cd);
    if (simdattn_forward(&cd->p, &opt) != SIMDATTN_OK) {
      snprintf(err, n, "simdattn_forward of sequence %d: %s", s, simdattn_last_error());
      return -1;
    }
    float *got = malloc(sizeof(float) * (size_t)(vcur->truth[s].n * cd->spec.dv + 1));
    sa_gather(&cd->p, &vcur->truth[s], got, NULL);
    const sa_verdict v = sa_judge(&vcur->truth[s], got, NULL);
    free(got);
    if (!v.pass) {
      snprintf(err, n, "sequence %d fails the equivalence rule against the oracle: err %.3g, budget %.3g", s, v.err_out,
               vcur->truth[s].budget_out);
      return -1;
    }
    if (!varlen_same_bits(vd, s)) {
      snprintf(err, n, "sequence %d's bits in the ragged call differ from its dense forward's", s);
      return -1;
    }
  }
  return 0;
}

/* Runs the row's implementation once on the current shape. */
static int bwd_row_once(row *r, char *err, size_t n);
static int run_once(row *r, char *err, size_t n) {
  if (r->kind == ROW_BWD) return bwd_row_once(r, err, n);
  simdattn_problem *p = r->vspec ? &vcur->vd.p : &cur->cd.p;
  if (r->kind == ROW_BLAS) return sa_unfused_run(p, blas_ws, r->threads, err, n);
  if (r->kind == ROW_NAIVE) return sa_naive_decode_run(p, naive_ws, r->threads, err, n);
  if (r->plan) {
    const simdattn_status st = simdattn_plan_execute(r->planned, p, r->ws, r->ws_size);
    if (st != SIMDATTN_OK) {
      snprintf(err, n, "simdattn_plan_execute: %s", simdattn_last_error());
      return -1;
    }
    return 0;
  }
  const simdattn_options opt = {r->threads, r->v->name, NULL, NULL, r->flags};
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
  if (r->kind == ROW_NAIVE) return sizeof(float) * sa_naive_decode_workspace(p);
  if (r->plan) return r->ws_size;
  sa_job j;
  if (sa_validate(p, &j) != SIMDATTN_OK) return 0;
  sa_plan(&j, r->v->kernel);
  const simdattn_options opt = {r->threads, NULL, NULL, NULL, 0};
  return sa_workspace_bytes(&j, r->v, sa_parallel_workers(&opt, sa_task_count(&j)));
}

/* blas_ws of at least `bytes` (the unfused forward's S, the backward's P and dS) */
static int blas_ws_reserve(size_t bytes, char *err, size_t n) {
  if (bytes <= blas_ws_bytes) return 0;
  const size_t need = (bytes + 63) / 64 * 64;
  free(blas_ws);
  blas_ws = aligned_alloc(64, need);
  blas_ws_bytes = blas_ws ? need : 0;
  if (!blas_ws) snprintf(err, n, "the unfused baseline's matrices need %.3g GB, which cannot be allocated", need * 1e-9);
  return blas_ws ? 0 : -1;
}

static int attn_setup(void *ctx, char *err, size_t n) {
  row *r = (row *)ctx;
  if (r->failed) {
    snprintf(err, n, "%s", r->why);
    return -1;
  }
  if (r->vspec) { /* a ragged or paged row */
    if (vshape_acquire(r->vspec, err, n)) return -1;
    if (r->spec.seq_q == 1 && !r->stream_fresh) {
      const double now = sa_stream_measure(&stream_buf, r->threads, 0.1);
      if (now > r->stream_div) r->stream_div = now;
      r->stream_fresh = 1;
    }
    if (r->checked) return 0;
    r->checked = 1;
    if (vshape_check(r, r->why, sizeof r->why) == 0) {
      /* the workspace the library takes for the call: a plan's for this problem */
      const simdattn_options opt = {r->threads, r->v->name, NULL, NULL, 0};
      simdattn_plan *plan = NULL;
      const size_t ws =
          simdattn_plan_create(&vcur->vd.p, &opt, &plan) == SIMDATTN_OK ? simdattn_plan_workspace_size(plan) : 0;
      simdattn_plan_destroy(plan);
      if (r->bench) gbs_value(r->bench, "workspace_bytes", (double)ws); /* (a layout/ row's side has none) */
      return 0;
    }
    r->failed = 1;
    snprintf(err, n, "%s", r->why);
    fprintf(stderr, "attn-bench: ERROR %s\n", r->why);
    return -1;
  }
  if (shape_acquire(&r->spec, err, n)) return -1;
  if (r->kind == ROW_BLAS && blas_ws_reserve(sa_unfused_workspace(&cur->cd.p), err, n)) return -1;
  if (r->kind == ROW_NAIVE && sa_naive_decode_workspace(&cur->cd.p) > naive_ws_floats) {
    free(naive_ws);
    naive_ws_floats = sa_naive_decode_workspace(&cur->cd.p);
    naive_ws = malloc(sizeof(float) * naive_ws_floats);
    if (!naive_ws) {
      naive_ws_floats = 0;
      snprintf(err, n, "cannot allocate naive_decode's scores");
      return -1;
    }
  }
  if (r->plan && !r->planned) { /* planned once, as an engine would, with its workspace */
    const simdattn_options opt = {r->threads, r->v->name, NULL, NULL, r->flags};
    if (simdattn_plan_create(&cur->cd.p, &opt, &r->planned) != SIMDATTN_OK) {
      snprintf(err, n, "simdattn_plan_create: %s", simdattn_last_error());
      return -1;
    }
    r->ws_size = (simdattn_plan_workspace_size(r->planned) + SIMDATTN_WORKSPACE_ALIGN - 1) / SIMDATTN_WORKSPACE_ALIGN *
                 SIMDATTN_WORKSPACE_ALIGN;
    r->ws = r->ws_size ? aligned_alloc(SIMDATTN_WORKSPACE_ALIGN, r->ws_size) : NULL;
    if (r->ws_size && !r->ws) {
      snprintf(err, n, "cannot allocate %zu bytes of plan workspace", r->ws_size);
      return -1;
    }
  }
  if (r->bench) /* a layout/ row's sides are not registered */
    gbs_value(r->bench, "workspace_bytes", (double)workspace_of(r, &cur->cd.p));
  if (r->spec.seq_q == 1 && !r->call && !r->stream_fresh) {
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
    else return 0;
  }
  r->failed = 1;
  snprintf(err, n, "%s", r->why);
  fprintf(stderr, "attn-bench: ERROR %s\n", r->why);
  return -1;
}

/* ---- load: foreign CPU use while a row ran (harness/load.h) ----
 * A reading over a window shorter than WINDOW_MIN is all clock-tick noise, so a short batch is
 * judged over the WINDOW_MIN before its end (the load around the row, whichever row ran then). */
#define FOREIGN_MAX 0.25 /* report.py's threshold too (context key foreign_cpu_max) */
#define RERUNS 2
#define WINDOW_MIN 0.1
#define MARKS 64
static struct {
  double wall;
  sa_load_mark m;
} marks[MARKS];
static int n_marks, next_mark;

static void mark_now(double wall, sa_load_mark *m) {
  sa_load_mark_now(m);
  marks[next_mark].wall = wall;
  marks[next_mark].m = *m;
  next_mark = (next_mark + 1) % MARKS;
  if (n_marks < MARKS) n_marks++;
}

/* the load from `begin` (or earlier, to span WINDOW_MIN: the latest mark that old, else the
 * oldest one kept; main() leaves one at startup) to `end` */
static void load_over(double t_begin, const sa_load_mark *begin, double t_end, const sa_load_mark *end, double *foreign,
                      double *steal) {
  const sa_load_mark *from = begin;
  if (t_end - t_begin < WINDOW_MIN) {
    double best = -1.0, oldest = t_begin;
    const sa_load_mark *oldest_mark = begin;
    for (int k = 0; k < n_marks; k++) {
      if (marks[k].wall <= t_end - WINDOW_MIN && marks[k].wall > best) best = marks[k].wall, from = &marks[k].m;
      if (marks[k].wall < oldest) oldest = marks[k].wall, oldest_mark = &marks[k].m;
    }
    if (best < 0.0) from = oldest_mark;
  }
  sa_load_between(from, end, foreign, steal);
}

/* The row's iterations; again (at most RERUNS times) while other processes took more than
 * FOREIGN_MAX of the machine: the attempt with the least foreign load stands, its time and load
 * are the row's. */
static int attn_run(void *ctx, int64_t iters, double *seconds, char *err, size_t n) {
  row *r = (row *)ctx;
  double best_foreign = 2.0, best_steal = 0.0, best_time = 0.0;
  int attempt = 0;
  for (;; attempt++) {
    sa_load_mark a, b;
    const double t0 = sa_seconds();
    mark_now(t0, &a);
    for (int64_t t = 0; t < iters; t++)
      if (run_once(r, err, n)) return -1;
    const double t1 = sa_seconds();
    mark_now(t1, &b);
    double foreign, steal;
    load_over(t0, &a, t1, &b, &foreign, &steal);
    if (foreign < best_foreign) best_foreign = foreign, best_steal = steal, best_time = t1 - t0;
    if (foreign <= FOREIGN_MAX || attempt == RERUNS) break;
  }
  *seconds = best_time;
  if (r->call) gbs_value(r->bench, "us_per_call", best_time / (double)iters * 1e6);
  gbs_value(r->bench, "foreign_cpu", best_foreign);
  gbs_value(r->bench, "steal", best_steal);
  gbs_value(r->bench, "reruns", attempt);
  return 0;
}

/* ---- layout/ rows: an interleaved cache against a head-major one, call by call ----
 * Rows of one shape in the two layouts run minutes apart in a sweep, where what the last row left
 * in L3 and the host's memory bandwidth move a decode row by a third (a BSHD/BHSD ratio of 0.70
 * in one run read 0.91 when paired). A layout/ row runs the two rows' calls alternately, round
 * after round, each side's calls of a round timed together, and reports the median of the
 * per-round ratios (BHSD's time over BSHD's: BSHD's speed relative to BHSD's) and each side's best
 * round, as scripts/bench-pair does between two builds. A side's calls in a round read at least
 * PAIR_ROUND_BYTES of K/V (several calls of a small shape: the first finds the other layout's
 * data in cache, the rest their own, as a row of repeated calls does). Each side is checked
 * against the oracle first, as its own row is. */
#define PAIR_MIN_ROUNDS 7
/* a layout/ row's counters: the second side interleaved (BSHD) or paged; then rounds, foreign_cpu, steal */
static const char *const pair_counters[2][7] = {{"bshd_over_bhsd", "bshd_over_bhsd_best", "bhsd_tokens_per_s",
                                                 "bshd_tokens_per_s", "rounds", "foreign_cpu", "steal"},
                                                {"paged_over_bhsd", "paged_over_bhsd_best", "bhsd_tokens_per_s",
                                                 "paged_tokens_per_s", "rounds", "foreign_cpu", "steal"}};
#define PAIR_ROUND_BYTES 64e6
static int pair_one_call; /* --quick: one call a side a round */
static int pair_setup(void *ctx, char *err, size_t n) {
  row *r = (row *)ctx;
  for (int s = 0; s < 2; s++)
    if (attn_setup(r->pair[s], err, n)) return -1;
  return 0;
}
static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
/* the median of v[0..n) (n >= 1; sorts v) */
static double median_of(double *v, int64_t n) {
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
/* a side's calls in a round: at least PAIR_ROUND_BYTES of K/V (one with --quick) */
static int64_t pair_calls(double kv_bytes) {
  return pair_one_call || kv_bytes >= PAIR_ROUND_BYTES ? 1 : (int64_t)(PAIR_ROUND_BYTES / kv_bytes) + 1;
}
static int pair_run(void *ctx, int64_t iters, double *seconds, char *err, size_t n) {
  row *r = (row *)ctx;
  /* both shapes in the cache at once (finding a cached one never evicts another; building one may).
   * A paged side's inputs live in the other cache (vshapes): acquiring one never evicts a dense one. */
  shape_entry *sh[2];
  vshape_entry *vsh[2] = {NULL, NULL};
  char names[2][VSHAPE_KEY];
  for (int s = 0; s < 2; s++) {
    if (r->pair[s]->vspec) {
      if (vshape_acquire(r->pair[s]->vspec, err, n)) return -1;
      vshape_key(r->pair[s]->vspec, names[s], sizeof names[s]);
    } else {
      if (shape_acquire(&r->pair[s]->spec, err, n)) return -1;
      case_name(&r->pair[s]->spec, names[s], sizeof names[s]);
    }
  }
  for (int s = 0; s < 2; s++) {
    sh[s] = NULL;
    if (r->pair[s]->vspec) {
      for (int i = 0; i < n_vshapes; i++)
        if (!strcmp(vshapes[i].name, names[s])) vsh[s] = &vshapes[i];
      if (!vsh[s]) {
        snprintf(err, n, "the paged side's inputs left the shape cache");
        return -1;
      }
      continue;
    }
    for (int i = 0; i < n_shapes; i++)
      if (!strcmp(shapes[i].name, names[s])) sh[s] = &shapes[i];
    if (!sh[s]) {
      snprintf(err, n, "the two layouts' inputs do not fit the shape cache (%.3g GB) together",
               SHAPE_CACHE_BYTES * 1e-9);
      return -1;
    }
  }
  const int64_t rounds = iters > PAIR_MIN_ROUNDS ? iters : PAIR_MIN_ROUNDS;
  const case_spec *sp = &r->spec;
  const int64_t calls = pair_calls(kv_bytes_of(sp, sp->seq_kv));
  double *ratio = malloc(sizeof(double) * (size_t)rounds);
  if (!ratio) {
    snprintf(err, n, "cannot allocate %lld ratios", (long long)rounds);
    return -1;
  }
  double best[2] = {1e300, 1e300};
  sa_load_mark a, b;
  const double t_begin = sa_seconds();
  mark_now(t_begin, &a);
  for (int64_t k = 0; k < rounds; k++) {
    double t[2];
    for (int s = 0; s < 2; s++) {
      if (vsh[s]) vcur = vsh[s];
      else cur = sh[s];
      const double t0 = sa_seconds();
      for (int64_t c = 0; c < calls; c++)
        if (run_once(r->pair[s], err, n)) {
          free(ratio);
          return -1;
        }
      t[s] = (sa_seconds() - t0) / (double)calls;
      if (t[s] < best[s]) best[s] = t[s];
    }
    ratio[k] = t[1] > 0.0 ? t[0] / t[1] : 0.0;
  }
  const double t_end = sa_seconds();
  mark_now(t_end, &b);
  double foreign, steal;
  load_over(t_begin, &a, t_end, &b, &foreign, &steal);
  const double med = median_of(ratio, rounds);
  free(ratio);
  *seconds = t_end - t_begin; /* every round's calls (no rate of this row reads it) */
  const double tokens = (double)(r->spec.seq_q * r->spec.batch);
  const char *const *c = pair_counters[r->pair_paged];
  gbs_value(r->bench, c[0], med);
  gbs_value(r->bench, c[1], best[1] > 0.0 ? best[0] / best[1] : 0.0);
  gbs_value(r->bench, c[2], tokens / best[0]);
  gbs_value(r->bench, c[3], tokens / best[1]);
  gbs_value(r->bench, "rounds", (double)rounds);
  gbs_value(r->bench, "foreign_cpu", foreign);
  gbs_value(r->bench, "steal", steal);
  return 0;
}

/* ---- limit/ rows: a decode row over this machine's limits measured beside it, round by round ----
 * The quantized decode targets divide a row's tokens/s by the lower of two limits: the stream read
 * over the K/V bytes a token reads, and half the FMA peak of the variant's ISA over its 4 d hq skv
 * FLOPs. The report's table divides the row's best repetition by the best probes of the whole run,
 * measured minutes apart, on a host whose speed moves by a third between them (the same binary's
 * q4_0 decode read 115 and 175 tokens/s in two runs a minute apart, Zen 5). A limit/ row runs,
 * round after round (at least LIMIT_MIN_ROUNDS), the row's calls (at least PAIR_ROUND_BYTES of
 * K/V, as a layout/ row's side), then the ISA's FMA probe (about LIMIT_PROBE_SECONDS) and the
 * stream read at the same thread count, and reports the median over the rounds of each round's
 * tokens/s over that round's own limit (over_limit); beside it the best round over the best probes
 * (over_limit_best), the best round's tokens/s, the limit the median round found
 * (limit_tokens_per_s) and the share of rounds the FMA term was the lower one (fma_bound). The call
 * is checked against the oracle first, as its row is. Pairing does not remove all of the host's
 * noise: in a slow minute the FMA probe and the stream read held steady while the call slowed by a
 * third (Zen 5: the last-level cache and memory other tenants share, which neither probe sees). */
#define LIMIT_PROBE_SECONDS 0.004
#define LIMIT_MIN_ROUNDS 9
static const char *const limit_counters[] = {"over_limit", "over_limit_best", "tokens_per_s", "limit_tokens_per_s",
                                             "fma_bound",  "rounds",          "foreign_cpu",  "steal"};
static int limit_setup(void *ctx, char *err, size_t n) { return attn_setup(((row *)ctx)->pair[0], err, n); }
static int limit_run(void *ctx, int64_t iters, double *seconds, char *err, size_t n) {
  row *r = (row *)ctx, *k = r->pair[0];
  if (shape_acquire(&k->spec, err, n)) return -1;
  const sa_probes *pr = r->probe;
  const int t = r->threads;
  const double fma_iter = *pr->peak_flops * (double)t; /* FLOPs of one probe iteration on every thread */
  const double pk = peak_gflops[pr - probes][tix(t)];
  int64_t piters = pk > 0.0 ? (int64_t)(LIMIT_PROBE_SECONDS * pk * 1e9 / fma_iter) : (int64_t)1 << 14;
  if (piters < ((int64_t)1 << 10)) piters = (int64_t)1 << 10;
  const int64_t rounds = iters > LIMIT_MIN_ROUNDS ? iters : LIMIT_MIN_ROUNDS;
  const case_spec *sp = &k->spec;
  const double kv_bytes = kv_bytes_of(sp, sp->seq_kv), flops = flops_of(sp), tokens = (double)(sp->seq_q * sp->batch);
  const int64_t calls = pair_calls(kv_bytes);
  double *ratio = malloc(sizeof(double) * 2 * (size_t)rounds), *lim = ratio + rounds;
  if (!ratio) {
    snprintf(err, n, "cannot allocate %lld ratios", (long long)rounds);
    return -1;
  }
  double best_call = 1e300, best_gflops = 0.0, best_gbps = 0.0;
  int64_t fma_rounds = 0;
  volatile float sink = 0.0f;
  sa_load_mark a, b;
  const double t_begin = sa_seconds();
  mark_now(t_begin, &a);
  for (int64_t q = 0; q < rounds; q++) {
    double t0 = sa_seconds();
    for (int64_t c = 0; c < calls; c++)
      if (run_once(k, err, n)) {
        free(ratio);
        return -1;
      }
    const double call = (sa_seconds() - t0) / (double)calls;
    t0 = sa_seconds();
    sink += sa_peak_run(pr, t, piters);
    const double gflops = fma_iter * (double)piters / (sa_seconds() - t0) * 1e-9;
    t0 = sa_seconds();
    sink += sa_stream_run(&stream_buf, t);
    const double gbps = (double)stream_buf.bytes / (sa_seconds() - t0) * 1e-9;
    const double by_fma = 0.5 * gflops * 1e9 / flops * tokens, by_bw = gbps * 1e9 / kv_bytes * tokens;
    fma_rounds += by_fma <= by_bw;
    lim[q] = by_fma < by_bw ? by_fma : by_bw;
    ratio[q] = call > 0.0 ? tokens / call / lim[q] : 0.0;
    if (call < best_call) best_call = call;
    if (gflops > best_gflops) best_gflops = gflops;
    if (gbps > best_gbps) best_gbps = gbps;
  }
  (void)sink;
  const double t_end = sa_seconds();
  mark_now(t_end, &b);
  double foreign, steal;
  load_over(t_begin, &a, t_end, &b, &foreign, &steal);
  const double med = median_of(ratio, rounds), med_lim = median_of(lim, rounds);
  free(ratio);
  const double best_fma = 0.5 * best_gflops * 1e9 / flops * tokens, best_bw = best_gbps * 1e9 / kv_bytes * tokens;
  *seconds = t_end - t_begin; /* every round's calls and probes (no rate of this row reads it) */
  gbs_value(r->bench, "over_limit", med);
  gbs_value(r->bench, "over_limit_best", tokens / best_call / (best_fma < best_bw ? best_fma : best_bw));
  gbs_value(r->bench, "tokens_per_s", tokens / best_call);
  gbs_value(r->bench, "limit_tokens_per_s", med_lim);
  gbs_value(r->bench, "fma_bound", (double)fma_rounds / (double)rounds);
  gbs_value(r->bench, "rounds", (double)rounds);
  gbs_value(r->bench, "foreign_cpu", foreign);
  gbs_value(r->bench, "steal", steal);
  return 0;
}

static int peak_run(void *ctx, int64_t iters, double *seconds, char *err, size_t n) {
  (void)err, (void)n, (void)seconds;
  row *r = (row *)ctx;
  volatile float sink = 0.0f;
  const double t0 = sa_seconds();
  for (int64_t t = 0; t < iters; t++) sink += sa_peak_run(r->probe, r->threads, 1 << 16);
  const double dt = sa_seconds() - t0;
  if (dt > 0.02) /* long enough to mean something: a better peak serves the rows after it */
    peak_update((int)(r->probe - probes), r->threads,
                *r->probe->peak_flops * r->threads * 65536.0 * (double)iters / dt * 1e-9);
  return 0;
}

static int stream_run(void *ctx, int64_t iters, double *seconds, char *err, size_t n) {
  (void)err, (void)n, (void)seconds;
  row *r = (row *)ctx;
  volatile float sink = 0.0f;
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

static const char *baseline_name(row_kind kind) { return kind == ROW_NAIVE ? "naive_decode" : "blas_unfused"; }

/* v NULL: the baseline `kind` (ROW_BLAS or ROW_NAIVE) */
static void register_row_flags(row_kind kind, const sa_variant *v, const case_spec *s, int threads, int plan,
                               unsigned flags) {
  row *r = new_row(v ? ROW_ATTN : kind, threads);
  r->v = v;
  r->spec = *s;
  r->plan = plan;
  r->flags = flags;
  char name[256];
  row_name(name, sizeof name, "attn", v ? v->name : baseline_name(kind), s, threads);
  snprintf(name + strlen(name), sizeof name - strlen(name), "%s%s", s->layout == LAYOUT_BSHD ? "/bshd" : "",
           flags & SIMDATTN_CHUNK_INVARIANT ? "/chunkinv" : "");
  gbs_bench *b = gbs_register(name, attn_setup, attn_run, r);
  gbs_rate(b, "GFLOPS", flops_of(s), 1e-9);
  gbs_ratio_ref(b, "peak_frac", "GFLOPS", peak_ref(v ? v->isa : NULL, threads));
  gbs_rate(b, "tokens_per_s", (double)(s->seq_q * s->batch), 1.0);
  gbs_value(b, "foreign_cpu", 0.0); /* set by every timed batch (attn_run) */
  if (s->seq_q == 1) {
    gbs_rate(b, "GBps", kv_bytes_of(s, s->seq_kv), 1e-9);
    r->stream_div = stream_gbps[tix(threads)];
    gbs_ratio_ref(b, "bw_frac", "GBps", &r->stream_div);
  }
  r->bench = b;
}
static void register_row(row_kind kind, const sa_variant *v, const case_spec *s, int threads, int plan) {
  register_row_flags(kind, v, s, threads, plan, 0);
}

static void register_attn(const sa_variant *v, const case_spec *s, int threads) {
  register_row(ROW_BLAS, v, s, threads, 0);
}

/* attn/...same name.../chunkinv: the row with options.flags = SIMDATTN_CHUNK_INVARIANT (every row
 * through the prefill path, keys never split), beside the row without */
static void register_chunkinv(const sa_variant *v, const case_spec *s, int threads) {
  register_row_flags(ROW_BLAS, v, s, threads, 0, SIMDATTN_CHUNK_INVARIANT);
}

/* call/<variant>/<forward|plan>/d<d>/kv<N>/h<hq>x<hkv>/t<T> and call/naive_decode/loop/...: the
 * latency of one small decode call (us_per_call) */
static void register_call(row_kind kind, const sa_variant *v, const case_spec *s, int plan) {
  row *r = new_row(v ? ROW_ATTN : kind, 1);
  r->v = v;
  r->spec = *s;
  r->plan = plan;
  r->call = 1;
  char name[256];
  snprintf(name, sizeof name, "call/%s/%s/d%" PRId64 "/kv%" PRId64 "/h%" PRId64 "x%" PRId64 "/t1",
           v ? v->name : baseline_name(kind), v ? (plan ? "plan" : "forward") : "loop", s->d, s->seq_kv, s->heads_q,
           s->heads_kv);
  gbs_bench *b = gbs_register(name, attn_setup, attn_run, r);
  gbs_rate(b, "GFLOPS", flops_of(s), 1e-9);
  gbs_rate(b, "tokens_per_s", (double)(s->seq_q * s->batch), 1.0);
  gbs_value(b, "us_per_call", 0.0); /* set by every timed batch (attn_run) */
  gbs_value(b, "foreign_cpu", 0.0);
  r->bench = b;
}

/* layout/<variant>/<q>-<kv>/d<d>/q1/kv<N>/h<hq>x<hkv>/causal/t<T>: the decode shape's BHSD and BSHD
 * calls alternately (pair_run) */
static void register_pair(const sa_variant *v, const case_spec *s, int threads) {
  row *r = new_row(ROW_ATTN, threads);
  r->v = v;
  r->spec = *s;
  for (int k = 0; k < 2; k++) {
    row *side = new_row(ROW_ATTN, threads);
    side->v = v;
    side->spec = *s;
    side->spec.layout = k ? LAYOUT_BSHD : LAYOUT_BHSD;
    side->stream_fresh = 1; /* no bw_frac here: attn_setup need not measure the stream again */
    r->pair[k] = side;
  }
  char name[256];
  row_name(name, sizeof name, "layout", v->name, s, threads);
  gbs_bench *b = gbs_register(name, pair_setup, pair_run, r);
  for (int c = 0; c < 7; c++) gbs_value(b, pair_counters[0][c], 0.0); /* set by pair_run */
  r->bench = b;
}

static int is_scalar(const sa_variant *v) { return !strcmp(v->isa, "scalar"); }

/* limit/<variant>/<q>-<kv>/d<d>/q1/kv<N>/h<hq>x<hkv>/causal/t<T>: the attn/ row of that name over the
 * limits measured beside it (limit_run); none for a variant whose ISA has no probes */
static void register_limit(const sa_variant *v, const case_spec *s, int threads) {
  const sa_probes *pr = NULL;
  for (int p = 0; p < n_probes; p++)
    if (!strcmp(probes[p].isa, v->isa) && sa_probes_available(&probes[p])) pr = &probes[p];
  if (!pr) return;
  row *r = new_row(ROW_ATTN, threads), *side = new_row(ROW_ATTN, threads);
  r->v = side->v = v;
  r->spec = side->spec = *s;
  r->probe = pr;
  side->stream_fresh = 1; /* (its row's bw_frac is not this row's) */
  r->pair[0] = side;
  char name[256];
  row_name(name, sizeof name, "limit", v->name, s, threads);
  gbs_bench *b = gbs_register(name, limit_setup, limit_run, r);
  for (int c = 0; c < (int)SA_ARRAY_SIZE(limit_counters); c++) gbs_value(b, limit_counters[c], 0.0); /* limit_run */
  r->bench = b;
}

/* ---- attn_bwd/ rows: the backward pass ----
 * attn_bwd/<variant>/<q>-<kv>/d<d>/q<N>/kv<N>/h<hq>x<hkv>/<full|causal>/t<T> (and blas_unfused's), and
 * attn_fwdbwd/ (same tail) at seq 2048: a training step's attention, the forward then the backward:
 * simdattn_backward of the prefill shape, the forward's out and lse (the `ref` variant's) given.
 * GFLOPS counts 2.5 times the forward's FLOPs (FlashAttention's convention: 5 matrix products
 * to the forward's 2), peak_frac against the same peaks. Every row is first judged against the
 * float64 oracle's gradients with the rule (per tensor, err(ref) over the naive orders), as
 * attn-check judges bwd/ cases. The shapes (few, small) are all kept. */
typedef struct {
  case_spec spec;
  case_data cd;
  float *dout, *dq, *dk, *dv;
  simdattn_grad g;
  double *oracle[3], budget[3];
  size_t n[3];
  float *step_out, *step_lse; /* attn_fwdbwd/ rows' forward outputs (never the checked ones) */
  int64_t *spot[2], n_spot[2]; /* long shapes: the judged dq rows and dk, dv keys (flat); NULL: all */
} bwd_shape;
#define BWD_FULL_CHECK_MACS (1LL << 32) /* above this the check judges SPOT_ROWS rows and keys */

/* the element of gradient k (dq, dk, dv) that judged element t stands for */
static size_t bwd_elem(const bwd_shape *b, int k, size_t t) {
  if (!b->spot[0]) return t;
  const size_t w = (size_t)(k == 2 ? b->spec.dv : b->spec.d);
  return (size_t)b->spot[k ? 1 : 0][t / w] * w + t % w;
}
#define BWD_SHAPES 32
static bwd_shape bwd_shapes[BWD_SHAPES];
static int n_bwd_shapes;

static bwd_shape *bwd_acquire(const case_spec *s, char *err, size_t n) {
  for (int t = 0; t < n_bwd_shapes; t++)
    if (!memcmp(&bwd_shapes[t].spec, s, sizeof *s)) return &bwd_shapes[t];
  if (n_bwd_shapes == BWD_SHAPES) {
    snprintf(err, n, "more than %d backward shapes", BWD_SHAPES);
    return NULL;
  }
  bwd_shape *b = &bwd_shapes[n_bwd_shapes];
  memset(b, 0, sizeof *b);
  b->spec = *s;
  if (case_build(s, seed, &b->cd)) {
    snprintf(err, n, "cannot build the backward shape");
    case_free(&b->cd);
    return NULL;
  }
  const size_t nq = (size_t)(s->batch * s->heads_q * s->seq_q), nk = (size_t)(s->batch * s->heads_kv * s->seq_kv);
  b->dout = malloc(sizeof(float) * nq * (size_t)s->dv);
  b->dq = malloc(sizeof(float) * nq * (size_t)s->d);
  b->dk = malloc(sizeof(float) * nk * (size_t)s->d);
  b->dv = malloc(sizeof(float) * nk * (size_t)s->dv);
  const int spots = visible_pairs(s) * (double)(s->d + s->dv) * (double)(s->batch * s->heads_q) > (double)BWD_FULL_CHECK_MACS;
  size_t nj[2] = {nq, nk};
  if (spots) /* SPOT_ROWS rows and keys spread evenly (first and last included) */
    for (int k = 0; k < 2; k++) {
      b->n_spot[k] = sa_min64(SPOT_ROWS, (int64_t)nj[k]);
      b->spot[k] = malloc(sizeof(int64_t) * SPOT_ROWS);
      for (int64_t t = 0; b->spot[k] && t < b->n_spot[k]; t++)
        b->spot[k][t] = b->n_spot[k] > 1 ? t * ((int64_t)nj[k] - 1) / (b->n_spot[k] - 1) : 0;
      nj[k] = (size_t)b->n_spot[k];
    }
  b->n[0] = nj[0] * (size_t)s->d, b->n[1] = nj[1] * (size_t)s->d, b->n[2] = nj[1] * (size_t)s->dv;
  for (int k = 0; k < 3; k++) b->oracle[k] = malloc(sizeof(double) * b->n[k]);
  if (spots && (!b->spot[0] || !b->spot[1])) {
    snprintf(err, n, "cannot allocate the backward shape's spots");
    return NULL;
  }
  if (!b->dout || !b->dq || !b->dk || !b->dv || !b->oracle[0] || !b->oracle[1] || !b->oracle[2]) {
    snprintf(err, n, "cannot allocate the backward shape");
    return NULL;
  }
  case_fill_normal(seed, "bench-dout", b->dout, nq * (size_t)s->dv);
  simdattn_grad *g = &b->g;
  g->struct_size = SIMDATTN_GRAD_SIZE;
  g->dout = b->dout, g->dq = b->dq, g->dk = b->dk, g->dv = b->dv;
  g->dout_stride_seq = s->dv, g->dout_stride_head = s->seq_q * s->dv, g->dout_stride_batch = s->heads_q * s->seq_q * s->dv;
  g->dq_stride_seq = s->d, g->dq_stride_head = s->seq_q * s->d, g->dq_stride_batch = s->heads_q * s->seq_q * s->d;
  g->dk_stride_seq = s->d, g->dk_stride_head = s->seq_kv * s->d, g->dk_stride_batch = s->heads_kv * s->seq_kv * s->d;
  g->dv_stride_seq = s->dv, g->dv_stride_head = s->seq_kv * s->dv,
  g->dv_stride_batch = s->heads_kv * s->seq_kv * s->dv;
  /* out and lse: the `ref` forward's (a long shape's: the fastest variant's; its spot oracle judges
   * the backward given them, ref/ref.h sa_oracle_bwd_spots) */
  const simdattn_options ref = {0, "ref", NULL, NULL, 0}, fwd = {0, spots ? NULL : "ref", NULL, NULL, 0};
  sa_bwd_job J;
  if (simdattn_forward(&b->cd.p, &fwd) != SIMDATTN_OK ||
      sa_validate_backward(&b->cd.p, g, 1, NULL, 0, &J) != SIMDATTN_OK ||
      (spots ? sa_oracle_bwd_spots(&J, b->spot[0], b->n_spot[0], b->spot[1], b->n_spot[1], b->oracle[0], b->oracle[1],
                                   b->oracle[2])
             : sa_oracle_bwd(&J, b->oracle[0], b->oracle[1], b->oracle[2], NULL))) {
    snprintf(err, n, "cannot build the backward oracle: %s", simdattn_last_error());
    return NULL;
  }
  double ref_err[3] = {0, 0, 0}, mx[3] = {0, 0, 0};
  float *spot_got[3] = {NULL, NULL, NULL};
  if (spots)
    for (int k = 0; k < 3; k++)
      if (!(spot_got[k] = malloc(sizeof(float) * b->n[k]))) {
        snprintf(err, n, "cannot allocate the backward shape's spots");
        return NULL;
      }
  for (int order = 0; order < SA_REF_N_BWD_ORDERS; order++) {
    const int failed = spots ? sa_ref_bwd_spots(&J, order, b->spot[0], b->n_spot[0], b->spot[1], b->n_spot[1],
                                                spot_got[0], spot_got[1], spot_got[2]) != 0
                             : sa_backward_ordered(&b->cd.p, g, &ref, order) != SIMDATTN_OK;
    if (failed) {
      snprintf(err, n, "the naive backward: %s", spots ? "out of memory" : simdattn_last_error());
      return NULL;
    }
    const float *got[3] = {b->dq, b->dk, b->dv};
    for (int k = 0; k < 3; k++)
      for (size_t t = 0; t < b->n[k]; t++) {
        const double e = fabs((double)(spots ? spot_got[k][t] : got[k][t]) - b->oracle[k][t]);
        if (!(e <= ref_err[k])) ref_err[k] = e;
        if (order == 0 && fabs(b->oracle[k][t]) > mx[k]) mx[k] = fabs(b->oracle[k][t]);
      }
  }
  for (int k = 0; k < 3; k++) b->budget[k] = 2.0 * ref_err[k] + 2.0 * FLT_EPSILON * mx[k], free(spot_got[k]);
  char judged[64] = "every element";
  if (spots) snprintf(judged, sizeof judged, "%d spread rows and keys", SPOT_ROWS);
  fprintf(stderr,
          "attn-bench: bwd shape q%" PRId64 " d%" PRId64 " h%" PRId64 " %s: oracle on %s, budgets dq %.3g dk %.3g dv %.3g\n",
          s->seq_q, s->d, s->heads_q, s->causal ? "causal" : "full", judged, b->budget[0], b->budget[1], b->budget[2]);
  n_bwd_shapes++;
  return b;
}

static void bwd_release(void) {
  for (int t = 0; t < n_bwd_shapes; t++) {
    bwd_shape *b = &bwd_shapes[t];
    free(b->dout), free(b->dq), free(b->dk), free(b->dv), free(b->step_out), free(b->step_lse);
    free(b->spot[0]), free(b->spot[1]);
    for (int k = 0; k < 3; k++) free(b->oracle[k]);
    case_free(&b->cd);
  }
}

static int bwd_once(row *r, bwd_shape *b, char *err, size_t n) {
  simdattn_problem p = b->cd.p;
  if (r->step) { /* attn_fwdbwd/: the training step's forward (with lse) first, into the step's own out and lse */
    const size_t nr = (size_t)(p.batch * p.heads_q * p.seq_q);
    if (!b->step_out) {
      b->step_out = malloc(sizeof(float) * nr * (size_t)b->spec.dv);
      b->step_lse = malloc(sizeof(float) * nr);
      if (!b->step_out || !b->step_lse) {
        snprintf(err, n, "cannot allocate the step's out and lse");
        return -1;
      }
    }
    p.out = b->step_out, p.lse = b->step_lse;
    p.out_stride_seq = b->spec.dv, p.out_stride_head = p.seq_q * b->spec.dv, p.out_stride_batch = p.heads_q * p.seq_q * b->spec.dv;
    if (!r->v) {
      simdattn_problem pf = p;
      pf.lse = NULL; /* (blas_unfused's forward keeps no lse: its backward recomputes the softmax) */
      if (sa_unfused_run(&pf, blas_ws, r->threads, err, n)) return -1;
    } else {
      const simdattn_options fo = {r->threads, r->v->name, NULL, NULL, 0};
      if (simdattn_forward(&p, &fo) != SIMDATTN_OK) {
        snprintf(err, n, "simdattn_forward: %s", simdattn_last_error());
        return -1;
      }
    }
  }
  if (!r->v) return sa_unfused_bwd_run(&p, &b->g, blas_ws, r->threads, err, n);
  const simdattn_options opt = {r->threads, r->v->name, NULL, NULL, 0};
  if (simdattn_backward(&p, &b->g, &opt) != SIMDATTN_OK) {
    snprintf(err, n, "simdattn_backward: %s", simdattn_last_error());
    return -1;
  }
  return 0;
}

static int bwd_setup(void *ctx, char *err, size_t n) {
  row *r = (row *)ctx;
  if (r->failed) {
    snprintf(err, n, "%s", r->why);
    return -1;
  }
  bwd_shape *b = bwd_acquire(&r->spec, err, n);
  if (!b) return -1;
  if (!r->v && blas_ws_reserve(sa_unfused_bwd_workspace(&b->cd.p), err, n)) return -1;
  if (r->checked) return 0;
  r->checked = 1;
  if (!r->v) gbs_value(r->bench, "workspace_bytes", (double)sa_unfused_bwd_workspace(&b->cd.p));
  else {
    simdattn_plan *plan = NULL;
    const simdattn_options opt = {r->threads, r->v->name, NULL, NULL, 0};
    if (simdattn_plan_create_backward(&b->cd.p, &opt, &plan) == SIMDATTN_OK)
      gbs_value(r->bench, "workspace_bytes", (double)simdattn_plan_workspace_size(plan));
    simdattn_plan_destroy(plan);
  }
  const int step = r->step;
  r->step = 0; /* the check: the backward alone, on the `ref` forward's out and lse the budget was set with */
  const int ran = bwd_once(r, b, r->why, sizeof r->why);
  r->step = step;
  if (ran == 0) {
    const float *got[3] = {b->dq, b->dk, b->dv};
    static const char *const tn[3] = {"dq", "dk", "dv"};
    int k = 0;
    double e = 0.0;
    for (; k < 3; k++) {
      e = 0.0;
      for (size_t t = 0; t < b->n[k]; t++) {
        const double d = fabs((double)got[k][bwd_elem(b, k, t)] - b->oracle[k][t]);
        if (!(d <= e)) e = d;
      }
      if (!(e <= b->budget[k])) break;
    }
    if (k == 3) return 0;
    snprintf(r->why, sizeof r->why, "fails the equivalence rule against the oracle's gradients: %s err %.3g, budget %.3g",
             tn[k], e, b->budget[k]);
  }
  r->failed = 1;
  snprintf(err, n, "%s", r->why);
  fprintf(stderr, "attn-bench: ERROR %s\n", r->why);
  return -1;
}

/* run_once's ROW_BWD row */
static int bwd_row_once(row *r, char *err, size_t n) {
  bwd_shape *b = bwd_acquire(&r->spec, err, n);
  return b ? bwd_once(r, b, err, n) : -1;
}

/* v NULL: blas_unfused's backward; step: attn_fwdbwd/, the forward then the backward (a training
 * step's attention), GFLOPS over 3.5 times the forward's FLOPs */
static void register_bwd_row(const sa_variant *v, const case_spec *s, int threads, int step) {
  row *r = new_row(ROW_BWD, threads);
  r->v = v;
  r->spec = *s;
  r->step = step;
  char name[256];
  snprintf(name, sizeof name, "%s/%s/f32-f32/d%" PRId64 "/q%" PRId64 "/kv%" PRId64 "/h%" PRId64 "x%" PRId64 "/%s/t%d",
           step ? "attn_fwdbwd" : "attn_bwd", v ? v->name : "blas_unfused", s->d, s->seq_q, s->seq_kv, s->heads_q,
           s->heads_kv, s->causal == SIMDATTN_CAUSAL_NONE ? "full" : "causal", threads);
  gbs_bench *b = gbs_register(name, bwd_setup, attn_run, r);
  gbs_rate(b, "GFLOPS", (step ? 3.5 : 2.5) * flops_of(s), 1e-9);
  gbs_ratio_ref(b, "peak_frac", "GFLOPS", peak_ref(v ? v->isa : NULL, threads));
  gbs_rate(b, "tokens_per_s", (double)(s->seq_q * s->batch), 1.0);
  gbs_value(b, "workspace_bytes", 0.0);
  gbs_value(b, "foreign_cpu", 0.0);
  r->bench = b;
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

/* ---- the command line ---- */
typedef struct {
  int quick, long_seqs, all_dims, scalar_all, blas, list_only;
  const char *only[32];
  int n_only;
  char **gb_argv; /* what Google Benchmark gets */
  int gb_argc;
} options;

/* Returns 0, 1 on an error (said), or -1 after --help. */
static int parse_args(int argc, char **argv, options *o) {
  memset(o, 0, sizeof *o);
  o->blas = 1;
  int have_min_time = 0, have_reps = 0;
  o->gb_argv = calloc((size_t)argc + 6, sizeof(char *));
  o->gb_argv[o->gb_argc++] = argv[0];
  for (int a = 1; a < argc; a++) {
    const char *opt = argv[a];
    if (!strcmp(opt, "--quick")) o->quick = 1;
    else if (!strcmp(opt, "--long")) o->long_seqs = 1;
    else if (!strcmp(opt, "--all-dims")) o->all_dims = 1;
    else if (!strcmp(opt, "--scalar-all")) o->scalar_all = 1;
    else if (!strcmp(opt, "--no-blas")) o->blas = 0;
    else if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
      usage(stdout);
      return -1;
    } else if ((!strcmp(opt, "--variant") || !strcmp(opt, "--seed") || !strcmp(opt, "--context")) && a + 1 < argc) {
      const char *val = argv[++a];
      if (!strcmp(opt, "--seed")) {
        seed = strtoull(val, NULL, 10);
      } else if (!strcmp(opt, "--context")) {
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
        if (o->n_only < (int)SA_ARRAY_SIZE(o->only)) o->only[o->n_only++] = val;
      }
    } else {
      if (!strncmp(opt, "--benchmark_min_time", 20)) have_min_time = 1;
      if (!strncmp(opt, "--benchmark_repetitions", 23)) have_reps = 1;
      if (!strncmp(opt, "--benchmark_list_tests", 22)) o->list_only = 1;
      o->gb_argv[o->gb_argc++] = argv[a];
    }
  }
  /* The full sweep: every row three times (0.1 s each) in random order, so a slow moment on a
   * shared machine (measured here: two-thread rows halving for seconds) rarely hits all three of a
   * row's repetitions, nor only the rows a ratio compares; report.py takes each row's best. */
  if (!have_reps && !o->quick) {
    o->gb_argv[o->gb_argc++] = "--benchmark_repetitions=3";
    o->gb_argv[o->gb_argc++] = "--benchmark_enable_random_interleaving=true";
    o->gb_argv[o->gb_argc++] = "--benchmark_display_aggregates_only=true";
  }
  if (!have_min_time)
    o->gb_argv[o->gb_argc++] = o->quick    ? "--benchmark_min_time=0.02"
                               : have_reps ? "--benchmark_min_time=0.25"
                                           : "--benchmark_min_time=0.1";
  return 0;
}

/* ---- this run's limits: measured first, even when the filter hides their rows ---- */
static int n_threads;     /* 1 or 2 thread counts */
static int threads_of[2]; /* 1 and all cores */

static int measure_limits(const options *o) {
  char buf[64], key[64];
  n_probes = sa_probe_sets(&probes);
  if (n_probes > (int)SA_ARRAY_SIZE(peak_gflops)) {
    fprintf(stderr, "attn-bench: %d ISAs with probes, room for %d: raise peak_gflops\n", n_probes,
            (int)SA_ARRAY_SIZE(peak_gflops));
    return 1;
  }
  if (!o->list_only)
    for (int p = 0; p < n_probes; p++)
      for (int t = 0; t < n_threads && sa_probes_available(&probes[p]); t++) {
        peak_update(p, threads_of[t], sa_peak_measure(&probes[p], threads_of[t], o->quick ? 0.05 : 0.2));
        fprintf(stderr, "attn-bench: peak %s t%d: %.1f GFLOP/s\n", probes[p].isa, threads_of[t], peak_gflops[p][t]);
        snprintf(key, sizeof key, "peak_gflops_%s_t%d", probes[p].isa, threads_of[t]);
        snprintf(buf, sizeof buf, "%.2f", peak_gflops[p][t]);
        gbs_context(key, buf);
      }
  /* 16 x a 32 MiB last-level cache; 256 MiB in the quick form */
  if (sa_stream_alloc(&stream_buf, (size_t)(o->quick ? 256 : 512) << 20)) {
    fprintf(stderr, "attn-bench: cannot allocate the stream buffer\n");
    return 1;
  }
  if (!o->list_only)
    for (int t = 0; t < n_threads; t++) {
      stream_gbps[t] = sa_stream_measure(&stream_buf, threads_of[t], o->quick ? 0.1 : 0.5);
      fprintf(stderr, "attn-bench: stream t%d: %.1f GB/s\n", threads_of[t], stream_gbps[t]);
      snprintf(key, sizeof key, "stream_gbps_t%d", threads_of[t]);
      snprintf(buf, sizeof buf, "%.2f", stream_gbps[t]);
      gbs_context(key, buf);
    }
  return 0;
}

/* OpenBLAS picked its kernels as it loaded; when it picked kernels without the vector ISA this CPU
 * has (sa_unfused_core_wanted), this process runs itself again with OPENBLAS_CORETYPE naming the
 * right ones, and the context says so (blas_coretype). A variable the environment set is kept. */
#define BLAS_CHOSE_ENV "SIMDATTN_BENCH_BLAS_CHOSE"
static void blas_core_reexec(char **argv) {
  const char *want = sa_unfused_core_wanted();
  if (!want || getenv(BLAS_CHOSE_ENV)) return;
  if (setenv(BLAS_CHOSE_ENV, sa_unfused_corename(), 1) || setenv("OPENBLAS_CORETYPE", want, 1)) return;
  execv("/proc/self/exe", argv);
  fprintf(stderr, "attn-bench: could not run again with OPENBLAS_CORETYPE=%s: blas_unfused runs OpenBLAS's %s\n", want,
          sa_unfused_corename());
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv(BLAS_CHOSE_ENV);
}

static void blas_core_context(void) {
  char buf[256];
  if (!sa_unfused_available()) {
    gbs_context("blas_coretype", "none");
    return;
  }
  const char *chose = getenv(BLAS_CHOSE_ENV), *set = getenv("OPENBLAS_CORETYPE");
  if (chose && set)
    snprintf(buf, sizeof buf, "%s: OPENBLAS_CORETYPE=%s set by attn-bench (this OpenBLAS chose %s for this CPU)",
             sa_unfused_corename(), set, chose);
  else if (set && *set)
    snprintf(buf, sizeof buf, "%s: OPENBLAS_CORETYPE=%s from the environment", sa_unfused_corename(), set);
  else snprintf(buf, sizeof buf, "%s: OpenBLAS's own choice", sa_unfused_corename());
  gbs_context("blas_coretype", buf);
  if (chose && set) fprintf(stderr, "attn-bench: blas_unfused: %s\n", buf);
}

/* ---- the JSON context: what ran where (tools read these keys) ---- */
static void write_context(void) {
  char buf[256];
  gbs_context("simdattn_version", simdattn_version());
  gbs_context("cpu_model", cpu_model(buf, sizeof buf)); /* under emulation: the host's */
#if defined(__aarch64__)
  gbs_context("arch", "aarch64");
#elif defined(__x86_64__)
  gbs_context("arch", "x86_64");
#endif
  gbs_context("cpu_features", sa_cpu_feature_names(sa_cpu_features(), buf, sizeof buf));
  /* the ISA table's rows this build has, best first (check_bench_json.py and report.py read it) */
  buf[0] = '\0';
  for (int i = 0; i < sa_isa_count(); i++)
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? "," : "", sa_isa_at(i)->name);
  gbs_context("isas", buf);
  gbs_context("compiler", SIMDATTN_COMPILER);
  gbs_context("build_flags", SIMDATTN_BUILD_FLAGS);
  gbs_context("git_commit_built", SIMDATTN_GIT_COMMIT);
  /* a sanitizer build (SIMDATTN_SANITIZE) instruments our code, not OpenBLAS: its peaks and
   * timings are not the CPU's (the peak probe read 30 of 236 GFLOP/s under ASan on a Xeon) */
#ifdef SIMDATTN_SANITIZED
  gbs_context("sanitized", "yes");
  fprintf(stderr, "attn-bench: a sanitizer build: these timings say nothing about hardware\n");
#else
  gbs_context("sanitized", "no");
#endif
  snprintf(buf, sizeof buf, "%d", n_all);
  gbs_context("threads_all", buf);
  const int emulated = detect_emulated();
  gbs_context("emulated", emulated ? "yes" : "no");
  if (emulated) fprintf(stderr, "attn-bench: running under emulation: these timings say nothing about hardware\n");
  gbs_context("stream_isa", sa_stream_isa());
  gbs_context("naive_decode_isa", sa_naive_decode_isa());
  gbs_context("blas_config", sa_unfused_config());
  gbs_context("blas_threading", sa_unfused_threading());
  blas_core_context();
  gbs_context("heads_rule",
              "prefill: heads_q = heads_kv = the largest power of two <= 64 keeping a call at "
              "<= 256 MFLOP; decode: 32 query heads on 32, 8 and 1 kv heads, d 128; call rows: 6x6 heads, d 48");
  gbs_context("check_rule",
              "every row checked against the float64 oracle before timing: all rows when the "
              "shape is small, else 32 spread rows; equivalence rule of README.md");
  snprintf(buf, sizeof buf, "%.2f", FOREIGN_MAX);
  gbs_context("foreign_cpu_max", buf);
  snprintf(buf, sizeof buf,
           "rows whose other processes took more than foreign_cpu_max of the machine "
           "(/proc/stat busy minus our getrusage) are run again, at most %d times",
           RERUNS);
  gbs_context("load_rule", buf);
  case_spec s = prefill_shape(2048, 128, 0);
  case_data cd;
  if (!case_build(&s, 1, &cd)) {
    const char *best = simdattn_best_variant(&cd.p);
    gbs_context("auto_variant", best ? best : "none");
    case_free(&cd);
  }
}

/* ---- the rows ---- */
static void register_limits(void) {
  char buf[64];
  for (int p = 0; p < n_probes; p++)
    for (int t = 0; t < n_threads && sa_probes_available(&probes[p]); t++) {
      row *r = new_row(ROW_PEAK, threads_of[t]);
      r->probe = &probes[p];
      snprintf(buf, sizeof buf, "peak/%s/t%d", probes[p].isa, threads_of[t]);
      gbs_rate(gbs_register(buf, NULL, peak_run, r), "GFLOPS", *probes[p].peak_flops * threads_of[t] * 65536.0, 1e-9);
    }
  for (int t = 0; t < n_threads; t++) {
    row *r = new_row(ROW_STREAM, threads_of[t]);
    snprintf(buf, sizeof buf, "stream/t%d", threads_of[t]);
    gbs_rate(gbs_register(buf, NULL, stream_run, r), "GBps", (double)stream_buf.bytes, 1e-9);
  }
}

static const sa_variant *vars[64]; /* the variants this run times: the ones named, this CPU runs */
static int n_vars;

static void select_variants(const options *o) {
  const sa_variant *named[64];
  const int n_named = sa_variant_select(o->only, o->n_only, named, (int)SA_ARRAY_SIZE(named));
  for (int t = 0; t < n_named; t++) {
    if (sa_variant_available(named[t])) vars[n_vars++] = named[t];
    else fprintf(stderr, "attn-bench: %s skipped: this CPU cannot run it\n", named[t]->name);
  }
}

static void register_all_threads(const sa_variant *v, const case_spec *s) {
  for (int t = 0; t < n_threads; t++) register_attn(v, s, threads_of[t]);
}

/* prefill, f32: every sequence length and head dim, non-causal and causal; blas_unfused beside */
static void register_prefill(const options *o) {
  static const int64_t seqs_default[] = {128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768};
  static const int64_t seqs_quick[] = {128, 1024};
  static const int64_t dims[] = {64, 128, 32, 80, 96, 256};
  const int64_t *seqs = o->quick ? seqs_quick : seqs_default;
  const int n_seqs = o->quick ? (int)SA_ARRAY_SIZE(seqs_quick) : o->long_seqs ? 9 : 7;
  const int n_dims = o->quick ? 1 : o->all_dims ? (int)SA_ARRAY_SIZE(dims) : 2;
  for (int di = 0; di < n_dims; di++)
    for (int causal = 0; causal < 2; causal++)
      for (int si = 0; si < n_seqs; si++) {
        const case_spec s = prefill_shape(seqs[si], dims[di], causal);
        for (int vi = 0; vi < n_vars; vi++) {
          if (is_scalar(vars[vi]) && seqs[si] > 1024 && !o->scalar_all) continue;
          if (sa_variant_accepts_dtypes(vars[vi], SIMDATTN_F32, SIMDATTN_F32, SIMDATTN_F32))
            register_all_threads(vars[vi], &s);
        }
        if (o->blas && sa_unfused_available()) register_all_threads(NULL, &s);
      }
}

/* the backward pass: prefill shapes at seq 512, 1024, 2048, d 64 and 128, non-causal and causal,
 * every variant with a backward pass (scalar ones at 512 only), blas_unfused beside; quick: seq 512,
 * d64, non-causal, the SIMD variants and blas_unfused (the scalar backwards' minutes under an
 * emulator and the sanitizers buy CI nothing that attn-check's bwd/ cases do not test) */
static void register_bwd(const options *o) {
  static const int64_t seqs[] = {512, 1024, 2048};
  const int n_seqs = o->quick ? 1 : (int)SA_ARRAY_SIZE(seqs);
  for (int di = 0; di < (o->quick ? 1 : 2); di++)
    for (int causal = 0; causal < (o->quick ? 1 : 2); causal++)
      for (int si = 0; si < n_seqs; si++) {
        case_spec s = prefill_shape(seqs[si], di ? 128 : 64, causal);
        s.lse = 1; /* the backward reads the forward's lse */
        for (int vi = 0; vi < n_vars; vi++) {
          const sa_variant *v = vars[vi];
          if (!v->kernel->bwd_run || (is_scalar(v) && (seqs[si] > 512 || o->quick)) || !(v->dtypes & SA_DT_F32))
            continue;
          for (int t = 0; t < n_threads; t++) register_bwd_row(v, &s, threads_of[t], 0);
          if (!is_scalar(v) && seqs[si] == 2048) /* a training step's attention, forward and backward */
            for (int t = 0; t < n_threads; t++) register_bwd_row(v, &s, threads_of[t], 1);
        }
        if (o->blas && sa_unfused_available())
          for (int t = 0; t < n_threads; t++) {
            register_bwd_row(NULL, &s, threads_of[t], 0);
            if (seqs[si] == 2048) register_bwd_row(NULL, &s, threads_of[t], 1);
          }
      }
  if (o->quick) return;
  /* a long sequence: causal seq 32768, d128, where the unfused backward would hold two 32768^2
   * matrices (8.6 GB); the best SIMD variant only (judged on spread rows and keys) */
  case_spec s = prefill_shape(32768, 128, 1);
  s.lse = 1;
  for (int vi = 0; vi < n_vars; vi++)
    if (vars[vi]->kernel->bwd_run && !is_scalar(vars[vi]) && (vars[vi]->dtypes & SA_DT_F32)) {
      for (int t = 0; t < n_threads; t++) register_bwd_row(vars[vi], &s, threads_of[t], 0);
      break;
    }
}

/* reduced-precision inputs: K/V in f16 and bf16 under f32 queries, and bf16 throughout, for every
 * SIMD variant that accepts them (non-causal prefill at three lengths, and decode) */
static const simdattn_dtype dt_pairs[][2] = {
    {SIMDATTN_F32, SIMDATTN_F16}, {SIMDATTN_F32, SIMDATTN_BF16}, {SIMDATTN_BF16, SIMDATTN_BF16}};

static void register_dtypes(const options *o) {
  static const int64_t seqs_default[] = {512, 2048, 8192};
  static const int64_t seqs_quick[] = {1024};
  const int64_t *seqs = o->quick ? seqs_quick : seqs_default;
  const int n_seqs = o->quick ? (int)SA_ARRAY_SIZE(seqs_quick) : (int)SA_ARRAY_SIZE(seqs_default);
  for (int di = 0; di < (o->quick ? 1 : 2); di++)
    for (int si = 0; si < n_seqs; si++)
      for (int pi = 0; pi < (int)SA_ARRAY_SIZE(dt_pairs); pi++) {
        case_spec s = prefill_shape(seqs[si], di ? 128 : 64, 0);
        s.qt = dt_pairs[pi][0];
        s.kvt = dt_pairs[pi][1];
        for (int vi = 0; vi < n_vars; vi++)
          if (!is_scalar(vars[vi]) && sa_variant_accepts_dtypes(vars[vi], s.qt, s.kvt, s.kvt))
            register_all_threads(vars[vi], &s);
      }
}

/* decode, d128, 32 query heads on 32 (MHA), 8 (GQA) and 1 (MQA) kv heads, K/V head-major (BHSD)
 * and interleaved (BSHD, `/bshd`): f32 for every SIMD variant and naive_decode (scalar variants
 * and blas_unfused on the GQA BHSD shape only), the dtype pairs for SIMD variants (BSHD: f32-f16) */
static void register_decode(const options *o) {
  static const int64_t lens_default[] = {512, 2048, 8192, 32768};
  static const int64_t lens_quick[] = {2048};
  static const int64_t kv_heads[] = {32, 8, 1};
  const int64_t *lens = o->quick ? lens_quick : lens_default;
  const int n_lens = o->quick ? (int)SA_ARRAY_SIZE(lens_quick) : (int)SA_ARRAY_SIZE(lens_default);
  for (int si = 0; si < n_lens; si++)
    for (int hi = 0; hi < (int)SA_ARRAY_SIZE(kv_heads); hi++)
      for (int li = 0; li < 2; li++)
        for (int pi = -1; pi < (int)SA_ARRAY_SIZE(dt_pairs); pi++) {
          const case_layout layout = li ? LAYOUT_BSHD : LAYOUT_BHSD;
          const int gqa_bhsd = kv_heads[hi] == 8 && layout == LAYOUT_BHSD;
          if (pi >= 0 && (o->quick || (layout == LAYOUT_BSHD && pi > 0))) continue;
          case_spec s = decode_shape(lens[si], kv_heads[hi], layout);
          if (pi >= 0) {
            s.qt = dt_pairs[pi][0];
            s.kvt = dt_pairs[pi][1];
          }
          for (int vi = 0; vi < n_vars; vi++)
            if (sa_variant_accepts_dtypes(vars[vi], s.qt, s.kvt, s.kvt) &&
                (!is_scalar(vars[vi]) || (pi < 0 && gqa_bhsd)))
              register_all_threads(vars[vi], &s);
          if (pi >= 0) continue;
          if (layout == LAYOUT_BSHD) /* and the two layouts paired, call by call */
            for (int vi = 0; vi < n_vars; vi++)
              if (!is_scalar(vars[vi]) && sa_variant_accepts_dtypes(vars[vi], s.qt, s.kvt, s.kvt))
                for (int t = 0; t < n_threads; t++) register_pair(vars[vi], &s, threads_of[t]);
          for (int t = 0; t < n_threads; t++) register_row(ROW_NAIVE, NULL, &s, threads_of[t], 0);
          if (gqa_bhsd && o->blas && sa_unfused_available()) register_all_threads(NULL, &s);
        }
}

/* quantized K/V caches (README, "Quantized KV caches") under f32 queries, each format and llama.cpp's
 * mixed q8_0 K / q4_0 V, fp8 with a per-tensor scale: GQA decode (32 x 8 heads, d128, BHSD) at every
 * decode length and non-causal prefill at d128, seq 512, 2048 and 8192, for every SIMD variant that
 * takes them, and the limit/ rows of the decode at 32768 (quick: q8_0 decode at 2048, its limit/ rows too) */
static const simdattn_dtype quant_kv[][2] = {{SIMDATTN_Q8_0, SIMDATTN_Q8_0},
                                             {SIMDATTN_Q4_0, SIMDATTN_Q4_0},
                                             {SIMDATTN_FP8E4M3, SIMDATTN_FP8E4M3},
                                             {SIMDATTN_FP8E5M2, SIMDATTN_FP8E5M2},
                                             {SIMDATTN_Q8_0, SIMDATTN_Q4_0}};
static void register_quant(const options *o) {
  static const int64_t lens[] = {512, 2048, 8192, 32768}, seqs[] = {512, 2048, 8192};
  for (int fi = 0; fi < (o->quick ? 1 : (int)SA_ARRAY_SIZE(quant_kv)); fi++)
    for (int prefill = 0; prefill < (o->quick ? 1 : 2); prefill++)
      for (int li = 0; li < (prefill ? (int)SA_ARRAY_SIZE(seqs) : (int)SA_ARRAY_SIZE(lens)); li++) {
        if (o->quick && li != 1) continue;
        case_spec s = prefill ? prefill_shape(seqs[li], 128, 0) : decode_shape(lens[li], 8, LAYOUT_BHSD);
        s.kvt = quant_kv[fi][0];
        s.mixed_v = quant_kv[fi][1] != quant_kv[fi][0], s.vt = quant_kv[fi][1];
        s.kvscale = 1;
        for (int vi = 0; vi < n_vars; vi++)
          if (!is_scalar(vars[vi]) && sa_variant_accepts_dtypes(vars[vi], s.qt, s.kvt, case_vt(&s))) {
            register_all_threads(vars[vi], &s);
            if (!prefill && (o->quick || lens[li] == 32768)) /* the targets' shape over its limits, paired */
              for (int t = 0; t < n_threads; t++) register_limit(vars[vi], &s, threads_of[t]);
          }
      }
}

/* per-call latency of tiny decode calls (llama2.c-sized: 6 heads of 48, seq_kv 1, 16, 256):
 * every variant through simdattn_forward and through a plan, and naive_decode's loop */
static void register_calls(void) {
  static const int64_t lens[] = {1, 16, 256};
  for (int si = 0; si < (int)SA_ARRAY_SIZE(lens); si++) {
    case_spec s = decode_shape(lens[si], 6, LAYOUT_BHSD);
    s.heads_q = 6;
    s.d = s.dv = 48;
    for (int vi = 0; vi < n_vars; vi++)
      if (sa_variant_accepts_dtypes(vars[vi], s.qt, s.kvt, s.kvt))
        for (int plan = 0; plan < 2; plan++) register_call(ROW_ATTN, vars[vi], &s, plan);
    register_call(ROW_NAIVE, NULL, &s, 0);
  }
}

/* ---- ragged and paged rows ----
 * attn/<variant>/<q>-<kv>/d128/q1/kv<N>/h32x8/causal/t<T>/paged<bs> (vLLM's cache layout) and
 * .../bshd/paged<bs> (FlashAttention's): one sequence's decode from a paged cache with a shuffled
 * block table, beside the contiguous BHSD row of the same bytes (its name without the suffix);
 * ragged/<variant>/f32-f32/d128/n8/q37-2048/h<h>x<h>/causal/t<T>: a prefill batch of eight whole
 * prompts of 37 to 2048 tokens (contiguous K/V), beside the dense q2048 causal row of the same
 * heads; step/<variant>/f32-f32/d128/n32/h32x8/t<T>: a serving step over a paged cache (block size
 * 16): 31 decode sequences with 1024 to 8192 cached keys and one 512-query chunk over a 4096-key
 * prefix. Counters as the dense rows' (GFLOPS over every sequence's visible pairs; tokens_per_s
 * their query rows; decode rows GBps and bw_frac). */
static varlen_spec vrow_specs[64];
static int n_vrow_specs;
static double varlen_flops(const varlen_spec *v) {
  double f = 0;
  for (int r = 0; r < v->n; r++) {
    case_spec c = v->base;
    c.batch = 1, c.seq_q = v->q_len[r], c.seq_kv = v->kv_len[r];
    f += flops_of(&c);
  }
  return f;
}
static void register_varlen_row(const sa_variant *v, const varlen_spec *vs, const char *name, int threads) {
  row *r = new_row(ROW_ATTN, threads);
  r->v = v;
  r->vspec = vs;
  r->spec = vs->base;
  int64_t tokens = 0;
  for (int s = 0; s < vs->n; s++) tokens += vs->q_len[s];
  r->spec.seq_q = tokens; /* 1: a decode row (GBps, bw_frac) */
  gbs_bench *b = gbs_register(name, attn_setup, attn_run, r);
  gbs_rate(b, "GFLOPS", varlen_flops(vs), 1e-9);
  gbs_ratio_ref(b, "peak_frac", "GFLOPS", peak_ref(v->isa, threads));
  gbs_rate(b, "tokens_per_s", (double)tokens, 1.0);
  gbs_value(b, "foreign_cpu", 0.0);
  if (vs->n == 1 && vs->q_len[0] == 1) {
    const case_spec *c = &vs->base;
    gbs_rate(b, "GBps", (double)sa_dtype_bytes(c->kvt, c->heads_kv * vs->kv_len[0] * (c->d + c->dv)), 1e-9);
    r->stream_div = stream_gbps[tix(threads)];
    gbs_ratio_ref(b, "bw_frac", "GBps", &r->stream_div);
  }
  r->bench = b;
}
/* layout/<variant>/f32-f32/d128/q1/kv<N>/h32x8/causal/t<T>[/bshd]/paged<bs>: the paged decode row's
 * calls and its contiguous BHSD row's alternately (pair_run): paged_over_bhsd, the paged cache's
 * speed relative to the head-major one's, paired round by round (the two rows alone run minutes
 * apart, where the host's memory bandwidth moves a decode row by a third) */
static void register_paged_pair(const sa_variant *v, const varlen_spec *vs, const char *paged_name, int threads) {
  row *r = new_row(ROW_ATTN, threads);
  r->v = v;
  r->spec = decode_shape(vs->kv_len[0], vs->base.heads_kv, LAYOUT_BHSD);
  r->pair_paged = 1;
  row *side = new_row(ROW_ATTN, threads);
  side->v = v;
  side->spec = r->spec;
  side->stream_fresh = 1;
  r->pair[0] = side;
  side = new_row(ROW_ATTN, threads);
  side->v = v;
  side->vspec = vs;
  side->spec = vs->base;
  side->spec.seq_q = 1;
  side->stream_fresh = 1;
  r->pair[1] = side;
  char name[272]; /* "layout/" and the paged row's name without "attn/" */
  snprintf(name, sizeof name, "layout/%s", paged_name + strlen("attn/"));
  gbs_bench *b = gbs_register(name, pair_setup, pair_run, r);
  for (int c = 0; c < 7; c++) gbs_value(b, pair_counters[1][c], 0.0); /* set by pair_run */
  r->bench = b;
}
static varlen_spec *new_vspec(varlen_kind kind, int64_t bs, int n, int64_t hq, int64_t hkv) {
  varlen_spec *v = &vrow_specs[n_vrow_specs++];
  memset(v, 0, sizeof *v);
  v->tag = "bench";
  v->kind = kind;
  v->block_size = bs;
  v->n = n;
  v->base = case_default("bench", 0, 0);
  v->base.heads_q = hq, v->base.heads_kv = hkv, v->base.d = v->base.dv = 128;
  v->base.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  v->base.layout = LAYOUT_BSHD;
  v->base.lse = 0;
  return v;
}
static int simd_f32(const sa_variant *v) {
  return !is_scalar(v) && sa_variant_accepts_dtypes(v, SIMDATTN_F32, SIMDATTN_F32, SIMDATTN_F32);
}
static void register_varlen(const options *o) {
  static const int64_t lens_default[] = {512, 2048, 8192, 32768}, lens_quick[] = {2048};
  const int64_t *lens = o->quick ? lens_quick : lens_default;
  const int n_lens = o->quick ? 1 : 4;
  static const struct {
    varlen_kind kind;
    int64_t bs;
  } forms[] = {{VL_PAGED_VLLM, 16}, {VL_PAGED_VLLM, 1}, {VL_PAGED_FA, 16}};
  char name[256];
  for (int si = 0; si < n_lens; si++)
    for (int f = 0; f < 3; f++) {
      varlen_spec *vs = new_vspec(forms[f].kind, forms[f].bs, 1, 32, 8);
      vs->q_len[0] = 1, vs->kv_len[0] = lens[si];
      for (int vi = 0; vi < n_vars; vi++)
        for (int t = 0; t < n_threads && simd_f32(vars[vi]); t++) {
          snprintf(name, sizeof name, "attn/%s/f32-f32/d128/q1/kv%" PRId64 "/h32x8/causal/t%d%s/paged%" PRId64,
                   vars[vi]->name, lens[si], threads_of[t], forms[f].kind == VL_PAGED_FA ? "/bshd" : "", forms[f].bs);
          register_varlen_row(vars[vi], vs, name, threads_of[t]);
          register_paged_pair(vars[vi], vs, name, threads_of[t]);
        }
    }
  /* a ragged prefill batch, with the heads of the dense q2048 causal row */
  static const int64_t q[8] = {37, 100, 256, 512, 700, 1024, 1500, 2048};
  const case_spec dense = prefill_shape(2048, 128, 1);
  varlen_spec *vs = new_vspec(VL_RAGGED, 0, 8, dense.heads_q, dense.heads_kv);
  for (int r = 0; r < 8; r++) vs->q_len[r] = vs->kv_len[r] = q[r];
  for (int vi = 0; vi < n_vars; vi++)
    for (int t = 0; t < n_threads && simd_f32(vars[vi]); t++) {
      snprintf(name, sizeof name, "ragged/%s/f32-f32/d128/n8/q37-2048/h%" PRId64 "x%" PRId64 "/causal/t%d",
               vars[vi]->name, dense.heads_q, dense.heads_kv, threads_of[t]);
      register_varlen_row(vars[vi], vs, name, threads_of[t]);
      if (o->quick) register_attn(vars[vi], &dense, threads_of[t]); /* its dense row, in the sweep already */
    }
  /* the chunk-invariant mode's cost: GQA decode (BHSD, f32) at every length, causal prefill at 2048 */
  for (int vi = 0; vi < n_vars; vi++)
    for (int t = 0; t < n_threads && simd_f32(vars[vi]); t++) {
      for (int si = 0; si < n_lens; si++) {
        const case_spec d = decode_shape(lens[si], 8, LAYOUT_BHSD);
        register_chunkinv(vars[vi], &d, threads_of[t]);
      }
      register_chunkinv(vars[vi], &dense, threads_of[t]);
    }
  /* a serving step: 31 decode sequences and a chunk of prefill, paged */
  if (o->quick) return;
  vs = new_vspec(VL_PAGED_VLLM, 16, 32, 32, 8);
  for (int r = 0; r < 31; r++) vs->q_len[r] = 1, vs->kv_len[r] = 1024 + (int64_t)r * 7168 / 30;
  vs->q_len[31] = 512, vs->kv_len[31] = 4096 + 512;
  for (int vi = 0; vi < n_vars; vi++)
    for (int t = 0; t < n_threads && simd_f32(vars[vi]); t++) {
      snprintf(name, sizeof name, "step/%s/f32-f32/d128/n32/h32x8/t%d", vars[vi]->name, threads_of[t]);
      register_varlen_row(vars[vi], vs, name, threads_of[t]);
    }
}

int main(int argc, char **argv) {
  blas_core_reexec(argv);
  options o;
  const int prc = parse_args(argc, argv, &o);
  if (prc) {
    free(o.gb_argv);
    return prc < 0 ? 0 : 1;
  }
  sa_load_mark startup; /* the first rows' load windows can reach back to here */
  mark_now(sa_seconds(), &startup);
  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  n_all = ncpu > 0 ? (int)ncpu : 1;
  threads_of[0] = 1;
  threads_of[1] = n_all;
  n_threads = n_all > 1 ? 2 : 1;
  if (measure_limits(&o)) return 1;
  write_context();

  cap_rows = 4096; /* the shim keeps pointers into rows[]: sized once */
  rows = calloc((size_t)cap_rows, sizeof(row));
  register_limits();
  select_variants(&o);
  register_prefill(&o);
  register_bwd(&o);
  register_dtypes(&o);
  pair_one_call = o.quick;
  register_decode(&o);
  register_quant(&o);
  register_calls();
  register_varlen(&o);
  const int rc = gbs_run(o.gb_argc, o.gb_argv);
  shape_release();
  vshape_release();
  bwd_release();
  for (int t = 0; t < n_rows; t++) {
    simdattn_plan_destroy(rows[t].planned);
    free(rows[t].ws);
  }
  sa_stream_free(&stream_buf);
  free(rows);
  free(o.gb_argv);
  if (rc == 2) fprintf(stderr, "attn-bench: the filter matched no benchmark\n");
  return rc;
}
