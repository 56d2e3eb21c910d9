/* tests/test_oracle.c: the float64 oracle against hand-computed answers, so the judge itself is
 * checked: one key, two keys with known weights, sinks, rows with no visible key, both causal
 * alignments, the window, alibi's sign; and the exact f16/bf16 conversions, exhaustively. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "core/convert.h"
#include "harness/cases.h"
#include "ref/ref.h"
#include "src/internal.h"

static double out[64], lse[8];

/* q, k: [seq][2], v: [seq][1]; one batch, one head, head_dim 2, head_dim_v 1 */
static int solve(simdattn_problem *p, int64_t sq, int64_t skv, const float *q, const float *k, const float *v) {
  static float o[16];
  p->batch = p->heads_q = p->heads_kv = 1;
  p->seq_q = sq;
  p->seq_kv = skv;
  p->head_dim = 2;
  p->head_dim_v = 1;
  p->q = (simdattn_tensor){q, SIMDATTN_F32, 0, 0, 2};
  p->k = (simdattn_tensor){k, SIMDATTN_F32, 0, 0, 2};
  p->v = (simdattn_tensor){v, SIMDATTN_F32, 0, 0, 1};
  p->out = o;
  p->out_stride_seq = 1;
  sa_job j;
  if (sa_validate(p, &j) != SIMDATTN_OK) return -1;
  return sa_oracle_rows(&j, NULL, sq, out, lse, NULL, NULL);
}

static int near(double a, double b) { return fabs(a - b) <= 1e-12 * (1 + fabs(b)); }

int main(void) {
  simdattn_problem p;
  /* one key: out = v, lse = the score */
  memset(&p, 0, sizeof p);
  const float q1[] = {1, 2}, k1[] = {3, 4}, v1[] = {5};
  p.scale = 0.5f;
  CHECK(solve(&p, 1, 1, q1, k1, v1) == 0, "solve");
  CHECK(out[0] == 5.0 && near(lse[0], 5.5), "one key: out %g lse %g", out[0], lse[0]);
  /* two keys, scores 0 and log 3: weights 1/4, 3/4 */
  memset(&p, 0, sizeof p);
  const float q2[] = {1, 0}, k2[] = {0, 0, (float)log(3.0), 0}, v2[] = {8, 4};
  p.scale = 1.0f;
  solve(&p, 1, 2, q2, k2, v2);
  CHECK(fabs(out[0] - (0.25 * 8 + 0.75 * 4)) < 1e-6 && fabs(lse[0] - log(4.0)) < 1e-6, "two keys: %g %g", out[0],
        lse[0]);
  /* a sink joins the denominator only: weights 1/(1+3+e^s) ... */
  const float sink = 1.5f;
  p.sinks = &sink;
  solve(&p, 1, 2, q2, k2, v2);
  const double e2 = exp((double)(float)log(3.0)), den = 1.0 + e2 + exp(1.5);
  CHECK(fabs(out[0] - (8.0 + e2 * 4.0) / den) < 1e-12 && fabs(lse[0] - log(den)) < 1e-12, "sink: out %g lse %g", out[0],
        lse[0]);
  /* no visible key: out 0, lse = sink, or -inf without a sink (bottom-right, seq_q > seq_kv) */
  const float q3[] = {1, 1, 1, 1, 1, 1}, k3[] = {1, 1}, v3[] = {2};
  p.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  solve(&p, 3, 1, q3, k3, v3);
  CHECK(out[0] == 0.0 && out[1] == 0.0 && lse[0] == 1.5 && lse[1] == 1.5, "no key + sink: %g %g", out[0], lse[0]);
  CHECK(near(out[2], 2.0 * exp(2.0) / (exp(2.0) + exp(1.5))),
        "the last row sees the one key (score 2) and the sink: %g", out[2]);
  p.sinks = NULL;
  solve(&p, 3, 1, q3, k3, v3);
  CHECK(out[0] == 0.0 && isinf(lse[0]) && lse[0] < 0, "no key: out %g lse %g", out[0], lse[0]);
  /* causal alignments: seq_q 2, seq_kv 4, constant scores -> the mean of the visible v */
  memset(&p, 0, sizeof p);
  const float q4[] = {0, 0, 0, 0}, k4[8] = {0}, v4[] = {1, 2, 4, 8};
  p.causal = SIMDATTN_CAUSAL_TOP_LEFT;
  solve(&p, 2, 4, q4, k4, v4);
  CHECK(near(out[0], 1.0) && near(out[1], 1.5), "top-left: row 0 sees key 0, row 1 keys 0-1: %g %g", out[0], out[1]);
  p.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  solve(&p, 2, 4, q4, k4, v4);
  CHECK(near(out[0], 7.0 / 3) && near(out[1], 15.0 / 4), "bottom-right: keys 0-2, 0-3: %g %g", out[0], out[1]);
  p.window = 2;
  solve(&p, 2, 4, q4, k4, v4);
  CHECK(near(out[0], 3.0) && near(out[1], 6.0), "window 2: keys 1-2, 2-3: %g %g", out[0], out[1]);
  /* alibi: + slope (j - i'); non-causal: positive after the diagonal */
  memset(&p, 0, sizeof p);
  const float slope = 1.0f;
  p.alibi_slopes = &slope;
  solve(&p, 1, 2, q4, k4, v4); /* i' = 0 + 2 - 1 = 1: scores -1, 0 */
  CHECK(near(out[0], (exp(-1.0) * 1 + 2) / (exp(-1.0) + 1)), "alibi: %g", out[0]);

  /* f16: every bit pattern converts exactly and rounds back to itself */
  int bad = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    const float f = sa_f16_to_f32((uint16_t)h);
    const int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
    if (is_nan ? !isnan(f) : sa_f32_to_f16(f) != h) bad++;
  }
  CHECK(bad == 0, "%d f16 patterns do not round-trip", bad);
  CHECK(sa_f16_to_f32(0x3c00) == 1.0f && sa_f16_to_f32(0x0001) == 0x1p-24f && sa_f16_to_f32(0x7bff) == 65504.0f &&
            sa_f16_to_f32(0xfc00) == -INFINITY && sa_f16_to_f32(0x8400) == -0x1p-14f,
        "f16 known values");
  bad = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    const float f = sa_bf16_to_f32((uint16_t)h);
    const int is_nan = (h & 0x7f80) == 0x7f80 && (h & 0x7f);
    if (is_nan ? !isnan(f) : sa_f32_to_bf16(f) != h) bad++;
  }
  CHECK(bad == 0, "%d bf16 patterns do not round-trip", bad);
  CHECK(sa_bf16_to_f32(0x3f80) == 1.0f && sa_bf16_to_f32(0x0001) == 0x1p-133f, "bf16 known values");
  CHECK(sa_f32_to_f16(65520.0f) == 0x7c00 && sa_f32_to_f16(65519.0f) == 0x7bff && sa_f32_to_f16(0x1p-25f) == 0 &&
            sa_f32_to_f16(0x1.8p-25f) == 1,
        "f16 rounding at the edges");
  /* f32 -> f16 in f16's subnormal range (integer rounding, independent of the FP environment)
   * against round-half-even done in double, on every f32 in [2^-26, 2^-14) */
  bad = 0;
  for (uint32_t u = 0x32800000u; u < 0x38800000u; u++) {
    const float f = sa_bits_to_f32(u);
    if (sa_f32_to_f16(f) != (uint16_t)nearbyint((double)f * 0x1p24) ||
        sa_f32_to_f16(-f) != (0x8000u | sa_f32_to_f16(f)))
      bad++;
  }
  CHECK(bad == 0, "%d f32 values round to the wrong f16 subnormal", bad);
  return check_report("test_oracle");
}
