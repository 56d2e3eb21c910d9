/* harness/naive_decode.c: the decode loop an engine writes when it has no attention kernel (the
 * shape of llama2.c's run.c: per query head, scores by dot products over the cached keys, a
 * softmax, a weighted sum of the value rows), our own code. A baseline, not a registry row: it is
 * compiled once per ISA row of src/isas.inc with -O3 -ffast-math and that row's flags (the way
 * engines build it: -Ofast -march=native), as sa_naive_decode_<isa>, and attn-bench runs the best
 * one this CPU has (harness/baselines.c). f32, one query row per head, every key visible. */
#include <math.h>
#include <stdint.h>

#include "baselines.h"

#ifndef SA_NAIVE_ISA
#error "compile with -DSA_NAIVE_ISA=<isa> (CMakeLists.txt does)"
#endif
#define SA_NAIVE_CAT2(a, b) a##b
#define SA_NAIVE_CAT(a, b) SA_NAIVE_CAT2(a, b)

void SA_NAIVE_CAT(sa_naive_decode_, SA_NAIVE_ISA)(const sa_naive_args *a);

/* one (batch, query head): the engine's inner loops, every stride the caller's */
static void naive_head(const sa_naive_args *a, int64_t bh) {
  const int64_t b = bh / a->heads_q, h = bh % a->heads_q, hk = h / (a->heads_q / a->heads_kv);
  const int64_t n = a->seq_kv, d = a->d, dv = a->dv;
  const float *restrict q = a->q + b * a->q_stride_batch + h * a->q_stride_head;
  const float *restrict kb = a->k + b * a->k_stride_batch + hk * a->k_stride_head;
  const float *restrict vb = a->v + b * a->v_stride_batch + hk * a->v_stride_head;
  float *restrict att = a->att + bh * n;
  float *restrict o = a->out + b * a->out_stride_batch + h * a->out_stride_head;
  for (int64_t t = 0; t < n; t++) {
    const float *restrict k = kb + t * a->k_stride_seq;
    float s = 0.0f;
    for (int64_t i = 0; i < d; i++) s += q[i] * k[i];
    att[t] = s * a->scale;
  }
  float m = att[0];
  for (int64_t t = 1; t < n; t++) m = att[t] > m ? att[t] : m;
  float sum = 0.0f;
  for (int64_t t = 0; t < n; t++) {
    att[t] = expf(att[t] - m);
    sum += att[t];
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < dv; i++) o[i] = 0.0f;
  for (int64_t t = 0; t < n; t++) {
    const float *restrict v = vb + t * a->v_stride_seq;
    const float w = att[t] * inv;
    for (int64_t i = 0; i < dv; i++) o[i] += w * v[i];
  }
}

void SA_NAIVE_CAT(sa_naive_decode_, SA_NAIVE_ISA)(const sa_naive_args *a) {
  const int64_t heads = a->batch * a->heads_q;
  if (a->seq_kv <= 0) return;
  if (a->threads <= 1) { /* an engine's single-threaded build: no OpenMP region at all */
    for (int64_t bh = 0; bh < heads; bh++) naive_head(a, bh);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel for num_threads(a->threads) schedule(static)
#endif
  for (int64_t bh = 0; bh < heads; bh++) naive_head(a, bh);
}
