/* core/softmax.h: the per-row online-softmax state and its finishing steps, written once.
 *
 * A row's state after any prefix of its keys (Milakov & Gimelshein 2018, "Online normalizer
 * calculation for softmax"; FlashAttention-2, Dao 2023):
 *   m = max of the visible scores so far (-inf before any; NaN scores are not counted in m),
 *   l = sum of exp(s_j - m),   O = sum of exp(s_j - m) * v_j.
 * When a block raises m to m', l and O are multiplied by exp(m - m') ("lazy rescale": only then).
 * Exponentials are taken relative to m_use = (m == -inf ? 0 : m), so a row whose visible
 * scores are all NaN still turns NaN instead of being skipped, and hidden keys (score -inf)
 * give exactly 0. Sinks join only at the end, so partial states of key chunks merge freely.
 * Scalar code: these run once per row, not once per score. */
#ifndef SA_CORE_SOFTMAX_H
#define SA_CORE_SOFTMAX_H

#include <math.h>
#include <sleef.h>

#include "kernel.h"

/* The scalar exp/log/tanh of the library (SLEEF, <= 1 ULP): the reference, the scalar kernel
 * and every kernel's per-row steps use these. */
static inline float sa_expf(float x) { return Sleef_expf_u10(x); }
static inline float sa_exp2f(float x) { return Sleef_exp2f_u10(x); }
static inline float sa_logf(float x) { return Sleef_logf_u10(x); }
static inline float sa_tanhf(float x) { return Sleef_tanhf_u10(x); }

/* x * w for a weight w >= 0, where w == 0 stands for a positive weight that underflowed: a
 * visible key's weight is never 0 in exact arithmetic, so an inf (of V, or of an O that holds
 * one) stays inf, while finite x gives 0 and NaN stays NaN ((x 2^-149) 2^-149 is 0 for every
 * finite float). Not x * 0: that turns inf into NaN (found by tests/fuzz: inf in V at a key
 * whose weight underflows in f32 but not in the oracle's double). */
#define SA_TINY 0x1p-149f
static inline float sa_mul_weight(float x, float w) { return w != 0.0f ? x * w : (x * SA_TINY) * SA_TINY; }

/* The shift exponentials are taken against. */
static inline float sa_m_use(float m) { return m == -INFINITY ? 0.0f : m; }

/* Scores may be carried in natural units or, in a kernel's log2-score mode, times log2(e)
 * (then exponentials are powers of 2 and sinks are converted on the way in). */
#define SA_LOG2E 1.44269504088896341f
/* log2(e) in double: scale log2 e is formed in double, then split into a float pair (kernels and ref) */
#define SA_LOG2E_D 1.4426950408889634074
#define SA_LN2 0.693147180559945309f
static inline float sa_exp_units(float x, int log2) { return log2 ? sa_exp2f(x) : sa_expf(x); }
#define SA_SINK_SCALE 64.0f /* sa_finalize_row: beyond this, a sink-dominated row is rescaled */

/* Turn a finished row state (m, l, O[0..dv)) into out[0..dv) and *lse, adding the sink.
 * No visible key (l == 0) gives out = 0 and lse = sink, or -inf without one; a row whose visible
 * scores were all NaN has m == -inf but l NaN, and stays NaN. A sink of +inf or NaN is a logit
 * like a score of +inf or NaN, which make a row NaN (exp(inf - inf)): such a row takes the
 * general path, keys or not (found by tests/fuzz: zero keys and a +inf sink gave lse = inf).
 * In two steps: sa_finalize_scalars gives the row's coefficients (and writes lse); then each
 * element is out[x] = sa_mul_weight(O[x], a) / l * back (0 when `zero`): sa_finalize_row's loop,
 * or a kernel's vector loop with the same operations (core/flash_driver.inc, sa_task_end). */
typedef struct {
  float a, l, back;
  int zero;
} sa_finalize_coef;

static inline sa_finalize_coef sa_finalize_scalars(float m, float l, int has_sink, float sink, float *lse, int log2) {
  sa_finalize_coef c = {1.0f, l, 1.0f, 0};
  if (l == 0.0f && (!has_sink || sink < INFINITY)) {
    if (lse) *lse = has_sink ? sink : -INFINITY;
    c.zero = 1;
    return c;
  }
  float shift = sa_m_use(m);
  /* out = O a / l back: a = exp(m - shift) when the sink moves the shift */
  if (has_sink) {
    const float su = log2 ? sink * SA_LOG2E : sink;
    const float big = su > m ? su : m;
    shift = sa_m_use(big);
    if (big != m || m == -INFINITY) {
      const float y = m - shift;
      c.a = sa_exp_units(y, log2);
      c.l = l * c.a + sa_exp_units(su - shift, log2);
      /* A sink that dominates the row by more than 64 makes a tiny, down to f32's subnormal range
       * where it keeps only a few significant bits; O a would carry that error times |O| (found:
       * twice the true output at 3e-41). Scale a up by exp(64) and the quotient back down at the
       * end (y + 64 is exact for y < -64): one rounding into the subnormal range, not two. */
      if (y < -SA_SINK_SCALE) {
        c.a = sa_exp_units(y + SA_SINK_SCALE, log2);
        c.back = sa_exp_units(-SA_SINK_SCALE, log2);
      }
    } else {
      c.l = l + sa_exp_units(su - shift, log2);
    }
  }
  if (lse) *lse = (log2 ? shift * SA_LN2 : shift) + sa_logf(c.l);
  return c;
}

/* one element of out from its O element */
static inline float sa_finalize_elem(const sa_finalize_coef *c, float o) {
  return c->zero ? 0.0f : sa_mul_weight(o, c->a) / c->l * c->back;
}

static inline void sa_finalize_row(float m, float l, const float *o, int64_t dv, int has_sink, float sink, float *out,
                                   float *lse, int log2) {
  const sa_finalize_coef c = sa_finalize_scalars(m, l, has_sink, sink, lse, log2);
  for (int64_t x = 0; x < dv; x++) out[x] = sa_finalize_elem(&c, o[x]);
}

/* Merge the partial states of `n_chunks` key chunks of one row (in chunk order), then finalize.
 * part(c) points at chunk c's (m, l, O[dv]); chunk 0's storage receives the sum. */
static inline void sa_merge_row(float *const *part, int64_t n_chunks, int64_t dv, const sa_row *row, int log2) {
  float big = -INFINITY;
  for (int64_t c = 0; c < n_chunks; c++)
    if (part[c][0] > big) big = part[c][0];
  const float shift = sa_m_use(big);
  float *acc = part[0];
  float l = 0.0f;
  for (int64_t c = 0; c < n_chunks; c++) {
    const float *p = part[c];
    const float w = sa_exp_units(p[0] - shift, log2); /* 1 for the largest chunk, 0 for an empty one */
    l += p[1] * w;
    if (c == 0)
      for (int64_t x = 0; x < dv; x++) acc[2 + x] = sa_mul_weight(p[2 + x], w);
    else
      for (int64_t x = 0; x < dv; x++) acc[2 + x] += sa_mul_weight(p[2 + x], w);
  }
  sa_finalize_row(big, l, acc + 2, dv, row->has_sink, row->sink, row->out, row->lse, log2);
}

#endif
