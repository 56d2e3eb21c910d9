/* harness/baselines.h: what attn-bench measures beside the kernels, in the same run —
 * the CPU's FMA peak per ISA (probes compiled in the ISA folders), streaming-read bandwidth,
 * and the unfused path users otherwise write (OpenBLAS sgemm, a vectorised softmax, sgemm). */
#ifndef SA_HARNESS_BASELINES_H
#define SA_HARNESS_BASELINES_H

#include <stddef.h>
#include <stdint.h>

#include "simdattn.h"

/* One ISA's probes (core/probes.inc, compiled by <folder>/probes.c): every built ISA row of
 * src/isas.inc with probes, best first. */
typedef struct {
  const char *isa; /* "avx512", "avx2", "neon": the ISA table's names */
  unsigned cpu;    /* SA_CPU_* bits it needs: the ISA's */
  float (*peak)(int64_t iters);
  const double *peak_flops;                                           /* per iteration */
  void (*exp)(const float *x, float *ours, float *sleef, int64_t n);  /* core/exp.h's exp and SLEEF's */
  void (*exp2)(const float *x, float *ours, float *sleef, int64_t n); /* the same for exp2 */
  float (*stream)(const float *buf, size_t n);
  void (*softmax_row)(float *s, int64_t n);
} sa_probes;

/* The probe sets this build has (available or not on this CPU). */
int sa_probe_sets(const sa_probes **out);
int sa_probes_available(const sa_probes *p);
/* Runs the FMA probe for `iters` iterations on each of `threads` threads; returns a checksum. */
float sa_peak_run(const sa_probes *p, int threads, int64_t iters);
/* A monotonic clock, in seconds. */
double sa_seconds(void);
/* GFLOP/s: the best of a few timed runs of about `seconds` each. */
double sa_peak_measure(const sa_probes *p, int threads, double seconds);

/* Streaming read of `bytes` (far beyond the last-level cache) on `threads` threads. */
typedef struct {
  float *buf;
  size_t bytes;
} sa_stream_buf;
int sa_stream_alloc(sa_stream_buf *s, size_t bytes); /* 0, or -1 */
void sa_stream_free(sa_stream_buf *s);
float sa_stream_run(const sa_stream_buf *s, int threads); /* with the widest loads this CPU has */
const char *sa_stream_isa(void);
double sa_stream_measure(const sa_stream_buf *s, int threads, double seconds); /* GB/s, best of a few */

/* The unfused baseline: per (batch, head) S = scale Q K^T (OpenBLAS sgemm), a per-row softmax
 * (SLEEF's vector exp with the widest ISA this CPU has: core/probes.inc; rows over `threads`
 * OpenMP threads), O = P V (sgemm), with OpenBLAS on `threads` threads. f32 only; no mask,
 * softcap, alibi, sinks, window or lse.
 * Available when the build found OpenBLAS (sa_unfused_available). */
int sa_unfused_available(void);
/* Which OpenBLAS ran: its config string and threading ("openmp", "pthreads", "serial"). */
const char *sa_unfused_config(void);
/* The OpenBLAS kernels to ask for (OPENBLAS_CORETYPE) when this OpenBLAS chose, when it loaded,
 * kernels without the AVX2/AVX-512 this CPU has, because the variable is unset and the build does
 * not know the CPU's model; NULL when its own choice stands (or the variable is set: the user's) */
const char *sa_unfused_core_wanted(void);
const char *sa_unfused_corename(void); /* the kernels this process's OpenBLAS runs, e.g. "SkylakeX" */
const char *sa_unfused_threading(void);
/* Bytes of its S/P matrix: seq_q x seq_kv floats (rows padded to 64 bytes). */
size_t sa_unfused_workspace(const simdattn_problem *p);
/* The unfused backward (attn_bwd/blas_unfused rows): per (batch, head) P = softmax(scale Q K^T)
 * recomputed and dP = dO V^T materialised (sgemm), dS = P (dP - D) scale by rows (the forward's
 * vector softmax, D = rowsum(dO o O)), then dV (+)= P^T dO, dQ = dS K, dK (+)= dS^T Q (sgemm; a kv
 * head's query heads summed). f32, no mask, softcap, alibi, sinks or window. Workspace: two
 * seq_q x seq_kv matrices (sa_unfused_bwd_workspace bytes, 64-byte aligned). */
size_t sa_unfused_bwd_workspace(const simdattn_problem *p);
int sa_unfused_bwd_run(const simdattn_problem *p, const simdattn_grad *g, float *ws, int threads, char *why,
                       size_t why_size);
/* Runs it with ws (64-byte aligned, sa_unfused_workspace bytes). 0, or -1 when p is outside
 * what it supports (then why[] says what). */
int sa_unfused_run(const simdattn_problem *p, float *ws, int threads, char *why, size_t why_size);

/* naive_decode: the per-head loop an engine writes without a kernel library
 * (harness/naive_decode.c), compiled once per ISA row with -O3 -ffast-math and the row's flags;
 * the best one this CPU runs is used. f32 Q, K, V and out; one query row (decode) seeing every
 * key: seq_q 1, no mask, softcap, alibi, sinks, window or lse. */
typedef struct {
  const float *q, *k, *v;
  float *out;
  float *att; /* batch x heads_q x seq_kv scores: the engine's preallocated scratch */
  int64_t batch, heads_q, heads_kv, seq_kv, d, dv;
  int64_t q_stride_batch, q_stride_head;
  int64_t k_stride_batch, k_stride_head, k_stride_seq;
  int64_t v_stride_batch, v_stride_head, v_stride_seq;
  int64_t out_stride_batch, out_stride_head;
  float scale;
  int threads; /* OpenMP threads over the heads */
} sa_naive_args;
/* The ISA of the copy that runs here ("avx512", ..., "scalar"). */
const char *sa_naive_decode_isa(void);
/* Floats of its score scratch. */
size_t sa_naive_decode_workspace(const simdattn_problem *p);
/* Runs it; 0, or -1 when p is outside what it covers (why[] says what). */
int sa_naive_decode_run(const simdattn_problem *p, float *att, int threads, char *why, size_t why_size);

#endif
