/* harness/baselines.h: what attn-bench measures beside the kernels, in the same run —
 * the CPU's FMA peak per ISA (probes compiled in the ISA folders), streaming-read bandwidth,
 * and the unfused path users otherwise write (OpenBLAS sgemm, a plain softmax, sgemm). */
#ifndef SA_HARNESS_BASELINES_H
#define SA_HARNESS_BASELINES_H

#include <stddef.h>
#include <stdint.h>

#include "simdattn.h"

typedef struct {
  const char *isa;      /* "avx512", "avx2", "neon" */
  unsigned cpu;         /* SA_CPU_* bits it needs */
  float (*fn)(int64_t iters);
  const double *flops;  /* per iteration */
} sa_peak_probe;

/* The probes this build has (available or not on this CPU). */
int sa_peak_probes(const sa_peak_probe **out);
int sa_peak_available(const sa_peak_probe *p);
/* Runs the probe for `iters` iterations on each of `threads` threads; returns a checksum. */
float sa_peak_run(const sa_peak_probe *p, int threads, int64_t iters);
/* A monotonic clock, in seconds. */
double sa_seconds(void);
/* GFLOP/s: the best of a few timed runs of about `seconds` each. */
double sa_peak_measure(const sa_peak_probe *p, int threads, double seconds);

/* The ISA builds of core/exp.h's inlined exp, for tests/test_exp.c: fn computes it, and SLEEF's
 * u10 exp, on n floats (n a multiple of 16). */
typedef struct {
  const char *isa;
  unsigned cpu;
  void (*fn)(const float *x, float *ours, float *sleef, int64_t n);      /* exp */
  void (*fn2)(const float *x, float *ours, float *sleef, int64_t n);     /* exp2, x <= 0 */
} sa_exp_check;
int sa_exp_checks(const sa_exp_check **out);
int sa_exp_check_available(const sa_exp_check *c);

/* Streaming read of `bytes` (far beyond the last-level cache) on `threads` threads. */
typedef struct {
  uint64_t *buf;
  size_t bytes;
} sa_stream_buf;
int sa_stream_alloc(sa_stream_buf *s, size_t bytes); /* 0, or -1 */
void sa_stream_free(sa_stream_buf *s);
uint64_t sa_stream_run(const sa_stream_buf *s, int threads); /* with the widest loads this CPU has */
const char *sa_stream_isa(void);
double sa_stream_measure(const sa_stream_buf *s, int threads, double seconds); /* GB/s, best of a few */

/* The unfused baseline: per (batch, head) S = scale Q K^T (OpenBLAS sgemm), a per-row softmax
 * (scalar libm expf, no ISA flags; rows over `threads` OpenMP threads), O = P V (sgemm), with
 * OpenBLAS on `threads` threads. f32 only; no mask, softcap, alibi, sinks, window or lse.
 * Available when the build found OpenBLAS (sa_unfused_available). */
int sa_unfused_available(void);
/* Which OpenBLAS ran: its config string and threading ("openmp", "pthreads", "serial"). */
const char *sa_unfused_config(void);
const char *sa_unfused_threading(void);
/* Bytes of its S/P matrix: seq_q x seq_kv floats (rows padded to 64 bytes). */
size_t sa_unfused_workspace(const simdattn_problem *p);
/* Runs it with ws (64-byte aligned, sa_unfused_workspace bytes). 0, or -1 when p is outside
 * what it supports (then why[] says what). */
int sa_unfused_run(const simdattn_problem *p, float *ws, int threads, char *why, size_t why_size);

#endif
