/* harness/baselines.c: peak, stream and unfused baselines (see baselines.h), from the probes each
 * ISA folder compiles (src/isas.inc). Compiled without ISA flags itself. */
#include "baselines.h"

#include <math.h>
#include <sleef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef SIMDATTN_HAVE_OPENBLAS
#include <cblas.h>
#endif

#include "src/internal.h"

/* ---- the probes of every built SIMD ISA (objects from the ISA folders, src/isas.inc) ---- */
#define SA_PROBE_DECLS(isa)                                                       \
  float sa_peak_fma_##isa(int64_t iters);                                         \
  extern const double sa_peak_fma_flops_##isa;                                    \
  void sa_exp_batch_##isa(const float *x, float *ours, float *sleef, int64_t n);  \
  void sa_exp2_batch_##isa(const float *x, float *ours, float *sleef, int64_t n); \
  float sa_stream_##isa(const float *buf, size_t n);                              \
  void sa_softmax_row_##isa(float *s, int64_t n);
#define SA_FEATURE(id, name, arch, cpuinfo, detect)
#define SA_ISA(name, folder, arch, features, flags, probes) SA_IF(SA_HAVE_##name, SA_IF(probes, SA_PROBE_DECLS(name)))
#include "src/isas.inc"
#undef SA_ISA

static const sa_probes sa_probe_table[] = {
#define SA_PROBE_ROW(isa, features) \
  {#isa,                            \
   (features),                      \
   sa_peak_fma_##isa,               \
   &sa_peak_fma_flops_##isa,        \
   sa_exp_batch_##isa,              \
   sa_exp2_batch_##isa,             \
   sa_stream_##isa,                 \
   sa_softmax_row_##isa},
#define SA_ISA(name, folder, arch, features, flags, probes) \
  SA_IF(SA_HAVE_##name, SA_IF(probes, SA_PROBE_ROW(name, features)))
#include "src/isas.inc"
#undef SA_ISA
#undef SA_FEATURE
    {NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL}};

int sa_probe_sets(const sa_probes **out) {
  *out = sa_probe_table;
  return (int)(sizeof sa_probe_table / sizeof sa_probe_table[0]) - 1;
}

int sa_probes_available(const sa_probes *p) { return (sa_cpu_features() & p->cpu) == p->cpu; }

double sa_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

float sa_peak_run(const sa_probes *p, int threads, int64_t iters) {
  float sum = 0.0f;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : sum)
#else
  (void)threads;
#endif
  sum += p->peak(iters);
  return sum;
}

double sa_peak_measure(const sa_probes *p, int threads, double seconds) {
  volatile float sink = 0.0f;
  int64_t iters = 1 << 12; /* calibrate: a run of at least seconds / 3 */
  for (;;) {
    const double t0 = sa_seconds();
    sink += sa_peak_run(p, threads, iters);
    if (sa_seconds() - t0 >= seconds / 3 || iters >= (int64_t)1 << 40) break;
    iters *= 2;
  }
  double best = 0.0; /* then the best of five: a denominator measured low would inflate every peak_frac */
  for (int round = 0; round < 5; round++) {
    const double t0 = sa_seconds();
    sink += sa_peak_run(p, threads, iters);
    const double gflops = *p->peak_flops * (double)iters * threads / (sa_seconds() - t0) * 1e-9;
    if (gflops > best) best = gflops;
  }
  (void)sink;
  return best;
}

/* The widest probe set this CPU runs (the table is best first), or NULL */
static const sa_probes *sa_probes_best(void) {
  for (const sa_probes *p = sa_probe_table; p->isa; p++)
    if (sa_probes_available(p)) return p;
  return NULL;
}

/* ---- streaming read ---- */
int sa_stream_alloc(sa_stream_buf *s, size_t bytes) {
  s->bytes = bytes / 256 * 256;
  s->buf = aligned_alloc(64, s->bytes);
  if (!s->buf) return -1;
  const size_t n = s->bytes / sizeof(float);
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (size_t t = 0; t < n; t++) s->buf[t] = (float)(t % 7) * 0.125f; /* small and exact: no inf, no subnormal */
  return 0;
}

void sa_stream_free(sa_stream_buf *s) {
  free(s->buf);
  s->buf = NULL;
}

/* The widest loads this CPU has (a core pulls more from DRAM with them: the decode ceiling must be
 * what the CPU can do, not what the baseline ISA's 16-byte loads get). */
static float sa_stream_scalar(const float *buf, size_t n) {
  float s[4] = {0, 0, 0, 0};
  for (size_t t = 0; t + 4 <= n; t += 4)
    for (int k = 0; k < 4; k++) s[k] += buf[t + k];
  return s[0] + s[1] + s[2] + s[3];
}

const char *sa_stream_isa(void) {
  const sa_probes *p = sa_probes_best();
  return p ? p->isa : "scalar";
}

float sa_stream_run(const sa_stream_buf *s, int threads) {
  const sa_probes *p = sa_probes_best();
  float (*fn)(const float *, size_t) = p ? p->stream : sa_stream_scalar;
  const size_t chunk = s->bytes / (size_t)(threads > 0 ? threads : 1) / 256 * 256 / sizeof(float);
  float sum = 0.0f;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : sum)
#endif
  for (int t = 0; t < threads; t++) sum += fn(s->buf + (size_t)t * chunk, chunk);
  return sum;
}

double sa_stream_measure(const sa_stream_buf *s, int threads, double seconds) {
  double best = 0.0, spent = 0.0;
  const size_t chunk = s->bytes / (size_t)(threads > 0 ? threads : 1) / 256 * 256;
  volatile float sink = 0.0f;
  for (int round = 0; round < 3 || spent < seconds; round++) {
    const double t0 = sa_seconds();
    sink += sa_stream_run(s, threads);
    const double dt = sa_seconds() - t0;
    spent += dt;
    if ((double)chunk * threads / dt * 1e-9 > best) best = (double)chunk * threads / dt * 1e-9;
    if (round > 20) break;
  }
  (void)sink;
  return best;
}

/* ---- unfused: sgemm, softmax, sgemm ---- */
int sa_unfused_available(void) {
#ifdef SIMDATTN_HAVE_OPENBLAS
  return 1;
#else
  return 0;
#endif
}

const char *sa_unfused_config(void) {
#ifdef SIMDATTN_HAVE_OPENBLAS
  return openblas_get_config();
#else
  return "none";
#endif
}

const char *sa_unfused_corename(void) {
#ifdef SIMDATTN_HAVE_OPENBLAS
  return openblas_get_corename();
#else
  return "none";
#endif
}

/* OpenBLAS (DYNAMIC_ARCH) picks its kernels once, as it loads, from cpuid's family and model, and a
 * build older than the CPU falls back to its oldest x86-64 kernels: Debian 12's 0.3.21 ran Prescott
 * (SSE3) on a Xeon of family 6 model 207 with AVX-512, at 0.15 of the FMA peak where its AVX-512
 * kernels run near 0.5 — a baseline that measured that build's CPU table, not what users get from
 * it. The cores below have AVX2+FMA kernels or better (names as openblas_get_corename prints them). */
const char *sa_unfused_core_wanted(void) {
#ifdef SIMDATTN_HAVE_OPENBLAS
  const char *set = getenv("OPENBLAS_CORETYPE");
  if (set && *set) return NULL; /* the environment's choice (the Zen machines set Haswell) */
  static const char *const wide[] = {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"};
  const char *core = openblas_get_corename();
  for (size_t i = 0; core && i < sizeof wide / sizeof wide[0]; i++)
    if (!strcasecmp(core, wide[i])) return NULL;
  const unsigned f = sa_cpu_features();
  const unsigned avx512 = SA_CPU_AVX512F | SA_CPU_AVX512BW | SA_CPU_AVX512DQ | SA_CPU_AVX512VL | SA_CPU_FMA;
  if ((f & avx512) == avx512) return "SkylakeX";
  if ((f & (SA_CPU_AVX2 | SA_CPU_FMA)) == (SA_CPU_AVX2 | SA_CPU_FMA)) return "Haswell";
#endif
  return NULL;
}

const char *sa_unfused_threading(void) {
#ifdef SIMDATTN_HAVE_OPENBLAS
  const int par = openblas_get_parallel();
  return par == 2 ? "openmp" : par == 1 ? "pthreads" : "serial";
#else
  return "none";
#endif
}

#ifdef SIMDATTN_HAVE_OPENBLAS
/* the softmax of one row without SIMD (a build or CPU without any SIMD ISA) */
static void sa_softmax_row_scalar(float *s, int64_t n) {
  float m = -INFINITY, sum = 0.0f;
  for (int64_t j = 0; j < n; j++) m = s[j] > m ? s[j] : m;
  for (int64_t j = 0; j < n; j++) sum += (s[j] = Sleef_expf_u10(s[j] - m));
  const float inv = n > 0 ? 1.0f / sum : 0.0f;
  for (int64_t j = 0; j < n; j++) s[j] *= inv;
}
#endif

static int64_t unfused_ld(const simdattn_problem *p) { return (p->seq_kv + 15) / 16 * 16; }

/* what the unfused forward and backward share: sizes, the causal diagonal, the scale, the softmax */
typedef struct {
  int64_t sq, skv, d, dv, ld, group, diag;
  float scale;
  void (*softmax_row)(float *, int64_t);
} unfused_dims;
__attribute__((unused)) static unfused_dims unfused_dims_of(const simdattn_problem *p) {
  unfused_dims u;
  u.sq = p->seq_q, u.skv = p->seq_kv, u.d = p->head_dim, u.dv = p->head_dim_v ? p->head_dim_v : u.d;
  u.ld = unfused_ld(p), u.group = p->heads_q / p->heads_kv;
  u.diag = p->causal == SIMDATTN_CAUSAL_TOP_LEFT ? 0 : u.skv - u.sq;
  u.scale = p->scale != 0.0f ? p->scale : 1.0f / sqrtf((float)u.d);
  const sa_probes *best = sa_probes_best();
  u.softmax_row = best ? best->softmax_row : sa_softmax_row_scalar;
  return u;
}

/* (batch b, query head h)'s q rows and its kv head hk's k and v rows (f32) */
__attribute__((unused)) static void unfused_head(const simdattn_problem *p, int64_t b, int64_t h, int64_t hk,
                                                 const float **q, const float **k, const float **v) {
  *q = (const float *)p->q.data + b * p->q.stride_batch + h * p->q.stride_head;
  *k = (const float *)p->k.data + b * p->k.stride_batch + hk * p->k.stride_head;
  *v = (const float *)p->v.data + b * p->v.stride_batch + hk * p->v.stride_head;
}

size_t sa_unfused_workspace(const simdattn_problem *p) {
  return sizeof(float) * (size_t)(p->seq_q > 0 ? p->seq_q : 1) * (size_t)unfused_ld(p);
}

int sa_unfused_run(const simdattn_problem *p, float *ws, int threads, char *why, size_t why_size) {
  if (p->q.dtype != SIMDATTN_F32 || p->k.dtype != SIMDATTN_F32 || p->mask || p->softcap != 0.0f || p->alibi_slopes ||
      p->sinks || p->window || p->lse) {
    snprintf(why, why_size, "blas_unfused covers f32 with no mask, softcap, alibi, sinks, window or lse");
    return -1;
  }
#ifndef SIMDATTN_HAVE_OPENBLAS
  (void)ws;
  (void)threads;
  snprintf(why, why_size, "built without OpenBLAS");
  return -1;
#else
  const unfused_dims u = unfused_dims_of(p);
  const int64_t sq = u.sq, skv = u.skv, d = u.d, dv = u.dv, ld = u.ld, group = u.group, diag = u.diag;
  const float scale = u.scale;
  void (*softmax_row)(float *, int64_t) = u.softmax_row;
  openblas_set_num_threads(threads);
  for (int64_t b = 0; b < p->batch; b++)
    for (int64_t h = 0; h < p->heads_q; h++) {
      const int64_t hk = h / group;
      const float *q, *k, *v;
      unfused_head(p, b, h, hk, &q, &k, &v);
      float *o = p->out + b * p->out_stride_batch + h * p->out_stride_head;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)sq, (int)skv, (int)d, scale, q, (int)p->q.stride_seq, k,
                  (int)p->k.stride_seq, 0.0f, ws, (int)ld);
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
      for (int64_t i = 0; i < sq; i++) {
        float *s = ws + i * ld;
        int64_t hi = skv;
        if (p->causal != SIMDATTN_CAUSAL_NONE) hi = i + diag + 1 < 0 ? 0 : i + diag + 1 < skv ? i + diag + 1 : skv;
        softmax_row(s, hi);
        for (int64_t j = hi; j < skv; j++) s[j] = 0.0f;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)sq, (int)dv, (int)skv, 1.0f, ws, (int)ld, v,
                  (int)p->v.stride_seq, 0.0f, o, (int)p->out_stride_seq);
    }
  return 0;
#endif
}

/* ---- the unfused backward: P and dS materialised, five sgemm per head ---- */
size_t sa_unfused_bwd_workspace(const simdattn_problem *p) { return 2 * sa_unfused_workspace(p); }

int sa_unfused_bwd_run(const simdattn_problem *p, const simdattn_grad *g, float *ws, int threads, char *why,
                       size_t why_size) {
  if (p->q.dtype != SIMDATTN_F32 || p->k.dtype != SIMDATTN_F32 || p->v.dtype != SIMDATTN_F32 || p->mask ||
      p->softcap != 0.0f || p->alibi_slopes || p->sinks || p->window) {
    snprintf(why, why_size, "blas_unfused's backward covers f32 with no mask, softcap, alibi, sinks or window");
    return -1;
  }
  if (!sa_unfused_available()) {
    snprintf(why, why_size, "built without OpenBLAS");
    return -1;
  }
#ifdef SIMDATTN_HAVE_OPENBLAS
  const unfused_dims u = unfused_dims_of(p);
  openblas_set_num_threads(threads);
  const int64_t sq = u.sq, skv = u.skv, ld = u.ld, group = u.group;
  float *P = ws, *dS = ws + sq * ld;
  for (int64_t bh = 0; bh < p->batch * p->heads_q; bh++) { /* heads in order: a kv head's group runs together */
    const int64_t b = bh / p->heads_q, h = bh % p->heads_q, hk = h / group;
    {
      const float *q, *k, *v;
      unfused_head(p, b, h, hk, &q, &k, &v);
      const float *o = p->out + b * p->out_stride_batch + h * p->out_stride_head;
      const float *go = g->dout + b * g->dout_stride_batch + h * g->dout_stride_head;
      float *dq = g->dq + b * g->dq_stride_batch + h * g->dq_stride_head;
      float *dk = g->dk + b * g->dk_stride_batch + hk * g->dk_stride_head;
      float *dvv = g->dv + b * g->dv_stride_batch + hk * g->dv_stride_head;
      const float beta = h % group ? 1.0f : 0.0f; /* a kv head's dk, dv: its query heads summed */
      /* P = softmax(scale Q K^T) (recomputed), dP = dO V^T */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)sq, (int)skv, (int)u.d, u.scale, q, (int)p->q.stride_seq, k,
                  (int)p->k.stride_seq, 0.0f, P, (int)ld);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)sq, (int)skv, (int)u.dv, 1.0f, go,
                  (int)g->dout_stride_seq, v, (int)p->v.stride_seq, 0.0f, dS, (int)ld);
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
      for (int64_t i = 0; i < sq; i++) {
        float *s = P + i * ld, *ds = dS + i * ld;
        int64_t hi = skv;
        if (p->causal != SIMDATTN_CAUSAL_NONE) hi = i + u.diag + 1 < 0 ? 0 : i + u.diag + 1 < skv ? i + u.diag + 1 : skv;
        u.softmax_row(s, hi);
        float D = 0.0f;
        for (int64_t x = 0; x < u.dv; x++) D += go[i * g->dout_stride_seq + x] * o[i * p->out_stride_seq + x];
        for (int64_t j = 0; j < hi; j++) ds[j] = s[j] * (ds[j] - D) * u.scale;
        for (int64_t j = hi; j < skv; j++) s[j] = ds[j] = 0.0f;
      }
      /* dV (+)= P^T dO, dQ = dS K, dK (+)= dS^T Q */
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)skv, (int)u.dv, (int)sq, 1.0f, P, (int)ld, go,
                  (int)g->dout_stride_seq, beta, dvv, (int)g->dv_stride_seq);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)sq, (int)u.d, (int)skv, 1.0f, dS, (int)ld, k,
                  (int)p->k.stride_seq, 0.0f, dq, (int)g->dq_stride_seq);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)skv, (int)u.d, (int)sq, 1.0f, dS, (int)ld, q,
                  (int)p->q.stride_seq, beta, dk, (int)g->dk_stride_seq);
    }
  }
#else
  (void)p, (void)g, (void)ws, (void)threads;
#endif
  return 0;
}

/* ---- naive_decode: one copy per built ISA row (harness/naive_decode.c), the best one run ---- */
#define SA_FEATURE(id, name, arch, cpuinfo, detect)
#define SA_ISA(name, folder, arch, features, flags, probes) \
  SA_IF(SA_HAVE_##name, void sa_naive_decode_##name(const sa_naive_args *a);)
#include "src/isas.inc"
#undef SA_ISA
static const struct {
  const char *isa;
  unsigned cpu;
  void (*run)(const sa_naive_args *a);
} sa_naive_table[] = {
#define SA_ISA(name, folder, arch, features, flags, probes) \
  SA_IF(SA_HAVE_##name, {#name, (features), sa_naive_decode_##name},)
#include "src/isas.inc"
#undef SA_ISA
#undef SA_FEATURE
    {NULL, 0, NULL}};

static int sa_naive_best(void) {
  int t = 0;
  while (sa_naive_table[t + 1].isa && (sa_cpu_features() & sa_naive_table[t].cpu) != sa_naive_table[t].cpu) t++;
  return t; /* the table ends with the portable row, which every CPU runs */
}

const char *sa_naive_decode_isa(void) { return sa_naive_table[sa_naive_best()].isa; }

size_t sa_naive_decode_workspace(const simdattn_problem *p) {
  return (size_t)(p->batch > 0 ? p->batch : 1) * (size_t)(p->heads_q > 0 ? p->heads_q : 1) *
         (size_t)(p->seq_kv > 0 ? p->seq_kv : 1);
}

int sa_naive_decode_run(const simdattn_problem *p, float *att, int threads, char *why, size_t why_size) {
  if (p->q.dtype != SIMDATTN_F32 || p->k.dtype != SIMDATTN_F32 || p->v.dtype != SIMDATTN_F32 || p->seq_q != 1 ||
      p->mask || p->softcap != 0.0f || p->alibi_slopes || p->sinks || p->window || p->lse ||
      p->causal == SIMDATTN_CAUSAL_TOP_LEFT) {
    snprintf(why, why_size, "naive_decode covers f32 decode (seq_q 1, every key visible) with no mask, softcap, "
                            "alibi, sinks, window or lse");
    return -1;
  }
  const int64_t d = p->head_dim;
  const sa_naive_args a = {(const float *)p->q.data,
                           (const float *)p->k.data,
                           (const float *)p->v.data,
                           p->out,
                           att,
                           p->batch,
                           p->heads_q,
                           p->heads_kv,
                           p->seq_kv,
                           d,
                           p->head_dim_v ? p->head_dim_v : d,
                           p->q.stride_batch,
                           p->q.stride_head,
                           p->k.stride_batch,
                           p->k.stride_head,
                           p->k.stride_seq,
                           p->v.stride_batch,
                           p->v.stride_head,
                           p->v.stride_seq,
                           p->out_stride_batch,
                           p->out_stride_head,
                           p->scale != 0.0f ? p->scale : 1.0f / sqrtf((float)d),
                           threads};
  sa_naive_table[sa_naive_best()].run(&a);
  return 0;
}
