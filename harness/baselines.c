/* harness/baselines.c: peak, stream and unfused baselines (see baselines.h). Compiled without
 * ISA flags: the unfused softmax is the plain loop a user writes next to BLAS. */
#include "baselines.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef SIMDATTN_HAVE_OPENBLAS
#include <cblas.h>
#endif

#include "src/internal.h"

/* ---- FMA peak probes (objects from the ISA folders) ---- */
#if SA_HAVE_AVX512
float sa_peak_fma_avx512(int64_t iters);
extern const double sa_peak_fma_flops_avx512;
#endif
#if SA_HAVE_AVX2
float sa_peak_fma_avx2(int64_t iters);
extern const double sa_peak_fma_flops_avx2;
#endif
#if SA_HAVE_NEON
float sa_peak_fma_neon(int64_t iters);
extern const double sa_peak_fma_flops_neon;
#endif

static const sa_peak_probe sa_probes[] = {
#if SA_HAVE_AVX512
    {"avx512", SA_CPU_AVX512F | SA_CPU_FMA, sa_peak_fma_avx512, &sa_peak_fma_flops_avx512},
#endif
#if SA_HAVE_AVX2
    {"avx2", SA_CPU_AVX2 | SA_CPU_FMA, sa_peak_fma_avx2, &sa_peak_fma_flops_avx2},
#endif
#if SA_HAVE_NEON
    {"neon", SA_CPU_NEON, sa_peak_fma_neon, &sa_peak_fma_flops_neon},
#endif
    {NULL, 0, NULL, NULL}};

int sa_peak_probes(const sa_peak_probe **out) {
  *out = sa_probes;
  return (int)(sizeof sa_probes / sizeof sa_probes[0]) - 1;
}

int sa_peak_available(const sa_peak_probe *p) { return (sa_cpu_features() & p->cpu) == p->cpu; }

double sa_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

float sa_peak_run(const sa_peak_probe *p, int threads, int64_t iters) {
  float sum = 0.0f;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : sum)
#else
  (void)threads;
#endif
  sum += p->fn(iters);
  return sum;
}

double sa_peak_measure(const sa_peak_probe *p, int threads, double seconds) {
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
    const double gflops = *p->flops * (double)iters * threads / (sa_seconds() - t0) * 1e-9;
    if (gflops > best) best = gflops;
  }
  (void)sink;
  return best;
}

/* ---- exp checks (objects from the ISA folders) ---- */
#if SA_HAVE_AVX512
void sa_exp_batch_avx512(const float *x, float *ours, float *sleef, int64_t n);
void sa_exp2_batch_avx512(const float *x, float *ours, float *sleef, int64_t n);
#endif
#if SA_HAVE_AVX2
void sa_exp_batch_avx2(const float *x, float *ours, float *sleef, int64_t n);
void sa_exp2_batch_avx2(const float *x, float *ours, float *sleef, int64_t n);
#endif
#if SA_HAVE_NEON
void sa_exp_batch_neon(const float *x, float *ours, float *sleef, int64_t n);
void sa_exp2_batch_neon(const float *x, float *ours, float *sleef, int64_t n);
#endif
static const sa_exp_check sa_exp_table[] = {
#if SA_HAVE_AVX512
    {"avx512", SA_CPU_AVX512F | SA_CPU_AVX512DQ | SA_CPU_FMA, sa_exp_batch_avx512, sa_exp2_batch_avx512},
#endif
#if SA_HAVE_AVX2
    {"avx2", SA_CPU_AVX2 | SA_CPU_FMA, sa_exp_batch_avx2, sa_exp2_batch_avx2},
#endif
#if SA_HAVE_NEON && SA_HAVE_NEON_EXP
    {"neon", SA_CPU_NEON, sa_exp_batch_neon, sa_exp2_batch_neon},
#endif
    {NULL, 0, NULL, NULL}};

int sa_exp_checks(const sa_exp_check **out) {
  *out = sa_exp_table;
  return (int)(sizeof sa_exp_table / sizeof sa_exp_table[0]) - 1;
}

int sa_exp_check_available(const sa_exp_check *c) { return (sa_cpu_features() & c->cpu) == c->cpu; }

/* ---- streaming read ---- */
int sa_stream_alloc(sa_stream_buf *s, size_t bytes) {
  s->bytes = bytes / 64 * 64;
  s->buf = aligned_alloc(64, s->bytes);
  if (!s->buf) return -1;
  const size_t n = s->bytes / sizeof(uint64_t);
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (size_t t = 0; t < n; t++) s->buf[t] = t * 0x9e3779b97f4a7c15ull;
  return 0;
}

void sa_stream_free(sa_stream_buf *s) {
  free(s->buf);
  s->buf = NULL;
}

/* The widest loads this CPU has: a core pulls more from DRAM with them (the decode ceiling
 * must be what the CPU can do, not what the baseline ISA's 16-byte loads get). */
#if SA_HAVE_AVX512
uint64_t sa_stream_avx512(const void *buf, size_t bytes);
#endif
#if SA_HAVE_AVX2
uint64_t sa_stream_avx2(const void *buf, size_t bytes);
#endif
#if SA_HAVE_NEON
uint64_t sa_stream_neon(const void *buf, size_t bytes);
#endif
static uint64_t sa_stream_scalar(const void *buf, size_t bytes) {
  const uint64_t *p = (const uint64_t *)buf;
  uint64_t s[4] = {0, 0, 0, 0};
  for (size_t t = 0; t + 4 <= bytes / 8; t += 4)
    for (int k = 0; k < 4; k++) s[k] ^= p[t + k];
  return s[0] ^ s[1] ^ s[2] ^ s[3];
}
static const struct {
  const char *isa;
  unsigned cpu;
  uint64_t (*fn)(const void *, size_t);
} sa_stream_probes[] = {
#if SA_HAVE_AVX512
    {"avx512", SA_CPU_AVX512F, sa_stream_avx512},
#endif
#if SA_HAVE_AVX2
    {"avx2", SA_CPU_AVX2, sa_stream_avx2},
#endif
#if SA_HAVE_NEON
    {"neon", SA_CPU_NEON, sa_stream_neon},
#endif
    {"scalar", 0, sa_stream_scalar}};

const char *sa_stream_isa(void) {
  for (size_t k = 0;; k++)
    if ((sa_cpu_features() & sa_stream_probes[k].cpu) == sa_stream_probes[k].cpu) return sa_stream_probes[k].isa;
}

uint64_t sa_stream_run(const sa_stream_buf *s, int threads) {
  size_t k = 0;
  while ((sa_cpu_features() & sa_stream_probes[k].cpu) != sa_stream_probes[k].cpu) k++;
  uint64_t (*fn)(const void *, size_t) = sa_stream_probes[k].fn;
  const size_t chunk = s->bytes / (size_t)(threads > 0 ? threads : 1) / 256 * 256;
  uint64_t sum = 0;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static) reduction(^ : sum)
#endif
  for (int t = 0; t < threads; t++) sum ^= fn((const char *)s->buf + (size_t)t * chunk, chunk);
  return sum;
}

double sa_stream_measure(const sa_stream_buf *s, int threads, double seconds) {
  double best = 0.0, spent = 0.0;
  const size_t chunk = s->bytes / (size_t)(threads > 0 ? threads : 1) / 256 * 256;
  volatile uint64_t sink = 0;
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

const char *sa_unfused_threading(void) {
#ifdef SIMDATTN_HAVE_OPENBLAS
  const int par = openblas_get_parallel();
  return par == 2 ? "openmp" : par == 1 ? "pthreads" : "serial";
#else
  return "none";
#endif
}

static int64_t unfused_ld(const simdattn_problem *p) { return (p->seq_kv + 15) / 16 * 16; }

size_t sa_unfused_workspace(const simdattn_problem *p) {
  return sizeof(float) * (size_t)(p->seq_q > 0 ? p->seq_q : 1) * (size_t)unfused_ld(p);
}

int sa_unfused_run(const simdattn_problem *p, float *ws, int threads, char *why, size_t why_size) {
  if (p->q.dtype != SIMDATTN_F32 || p->k.dtype != SIMDATTN_F32 || p->mask || p->softcap != 0.0f ||
      p->alibi_slopes || p->sinks || p->window || p->lse) {
    snprintf(why, why_size, "blas_unfused covers f32 with no mask, softcap, alibi, sinks, window or lse");
    return -1;
  }
#ifndef SIMDATTN_HAVE_OPENBLAS
  (void)ws;
  (void)threads;
  snprintf(why, why_size, "built without OpenBLAS");
  return -1;
#else
  const int64_t sq = p->seq_q, skv = p->seq_kv, d = p->head_dim, dv = p->head_dim_v ? p->head_dim_v : d;
  const int64_t ld = unfused_ld(p), group = p->heads_q / p->heads_kv;
  const int64_t diag = p->causal == SIMDATTN_CAUSAL_TOP_LEFT ? 0 : skv - sq;
  const float scale = p->scale != 0.0f ? p->scale : 1.0f / sqrtf((float)d);
  openblas_set_num_threads(threads);
  for (int64_t b = 0; b < p->batch; b++)
    for (int64_t h = 0; h < p->heads_q; h++) {
      const int64_t hk = h / group;
      const float *q = (const float *)p->q.data + b * p->q.stride_batch + h * p->q.stride_head;
      const float *k = (const float *)p->k.data + b * p->k.stride_batch + hk * p->k.stride_head;
      const float *v = (const float *)p->v.data + b * p->v.stride_batch + hk * p->v.stride_head;
      float *o = p->out + b * p->out_stride_batch + h * p->out_stride_head;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)sq, (int)skv, (int)d, scale, q,
                  (int)p->q.stride_seq, k, (int)p->k.stride_seq, 0.0f, ws, (int)ld);
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
      for (int64_t i = 0; i < sq; i++) {
        float *s = ws + i * ld;
        int64_t hi = skv;
        if (p->causal != SIMDATTN_CAUSAL_NONE) hi = i + diag + 1 < 0 ? 0 : i + diag + 1 < skv ? i + diag + 1 : skv;
        float m = -INFINITY, sum = 0.0f;
        for (int64_t j = 0; j < hi; j++) m = s[j] > m ? s[j] : m;
        for (int64_t j = 0; j < hi; j++) sum += (s[j] = expf(s[j] - m));
        const float inv = hi > 0 ? 1.0f / sum : 0.0f;
        for (int64_t j = 0; j < hi; j++) s[j] *= inv;
        for (int64_t j = hi; j < skv; j++) s[j] = 0.0f;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)sq, (int)dv, (int)skv, 1.0f, ws, (int)ld, v,
                  (int)p->v.stride_seq, 0.0f, o, (int)p->out_stride_seq);
    }
  return 0;
#endif
}
