/* tests/fuzz/fuzz_forward.c: libFuzzer target — valid problems from the input's bytes, every
 * variant this CPU runs, judged by the float64 oracle.
 *
 * The bytes choose a shape within small limits (batch 1-2, heads_kv 1-3 in groups of 1-3,
 * seq_q 0-40, seq_kv 0-70, head_dim 1-72 or up to 160, head_dim_v), every feature (both causal
 * alignments, window, mask full / broadcast / per-row, softcap, alibi, sinks, lse, scale), the
 * layout (BHSD, BSHD, padded rows), the dtypes of q and k/v (k and v also quantized, each its own
 * format, fp8 with scales; their rows quantized, or raw bytes in the wild regime), and then the values themselves, in
 * one of three regimes: moderate, moderate with rare specials, or wild (NaN, +-inf, -0,
 * subnormals, any exponent, raw f32/f16/bf16 bit patterns). Past the input's end the values
 * come from a PRNG seeded by the input. For each variant that accepts the dtypes:
 *   - status OK, and nothing written outside the out rows and lse entries (guard regions);
 *   - the equivalence rule against the float64 oracle (0 / inf / NaN elements exactly); for
 *     scores with terms >= 1024, or >= 4 softcaps, each element within twice the reference's
 *     derived bound instead (SCORES_ORDER_BOUND);
 *   - 2 threads give the same bits as 1, and the plan path (simdattn_plan_create + _execute in a
 *     workspace of the size the plan asks) the same bits as simdattn_forward.
 * The reference's own orders are held to their derived bounds too. Problems outside the numeric
 * contract (a score term or a column's sum of |v| past 2^125: f32 cannot hold them) still run
 * and must be safe and thread-count independent, but are not judged. Any failure prints the case
 * and aborts (libFuzzer keeps the input). Built by scripts/fuzz (clang, -fsanitize=fuzzer,address,
 * undefined); tests/fuzz/replay.c runs the corpus in ordinary builds. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "harness/cases.h"
#include "harness/equiv.h"

typedef struct {
  const uint8_t *p;
  size_t n, at;
  uint64_t x; /* PRNG past the end */
} reader;

static uint8_t u8(reader *r) {
  if (r->at < r->n) return r->p[r->at++];
  r->x = r->x * 6364136223846793005ull + 1442695040888963407ull;
  return (uint8_t)(r->x >> 56);
}
static uint16_t u16(reader *r) { return (uint16_t)(u8(r) | u8(r) << 8); }
static uint32_t u32(reader *r) { return (uint32_t)u16(r) | (uint32_t)u16(r) << 16; }

/* A value in the regime: 0 moderate, 1 moderate with rare specials, 2 wild. *raw gets a raw
 * 16-bit pattern for f16/bf16 tensors when the bytes ask for one (then returns NAN, ignored). */
static float value(reader *r, int regime, int dt, int *raw16, uint16_t *raw) {
  *raw16 = 0;
  const uint8_t c = u8(r);
  if (regime == 0 || (regime == 1 && c >= 4)) return ((int)u8(r) - 128) / 32.0f;
  switch (regime == 1 ? c : c >> 5) {
    case 0:
    case 1:
    case 2:
      return ((int)u8(r) - 128) / 32.0f;
    case 3: {
      static const float special[8] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY, 0x1p-140f, 3e38f, -65504.0f};
      return special[u8(r) & 7];
    }
    case 4:
      if (dt != SIMDATTN_F32) {
        *raw16 = 1;
        *raw = u16(r);
        return NAN;
      }
      return sa_bits_to_f32(u32(r));
    default: { /* any exponent: subnormal, overflowing to inf in narrow dtypes, ... */
      const float m = 1.0f + u8(r) / 256.0f;
      return ldexpf(u8(r) & 1 ? -m : m, (int)(u8(r) % 300) - 160);
    }
  }
}

static void store(void *base, int64_t at, int dt, reader *r, int regime) {
  int raw16;
  uint16_t raw;
  const float v = value(r, regime, dt, &raw16, &raw);
  if (raw16) memcpy((char *)base + sa_dtype_bytes((simdattn_dtype)dt, at), &raw, 2);
  else sa_store_f32(base, (simdattn_dtype)dt, at, &v, 1);
}

/* A quantized K or V row (README, "Quantized KV caches"): the public quantizer's encoding of values in
 * the regime (non-finite ones 0: a block format takes finite input), and in the wild regime also raw
 * bytes anywhere in it (any byte is an encoding: block scales of inf or NaN, fp8 NaN codes) */
static void store_quant_row(void *row_base, int dt, int64_t row, reader *r, int regime) {
  float v[512];
  for (int64_t x = 0; x < row; x++) {
    int raw16;
    uint16_t raw;
    v[x] = value(r, regime, SIMDATTN_F32, &raw16, &raw);
    if (!isfinite(v[x])) v[x] = 0.0f;
  }
  simdattn_quantize(row_base, (simdattn_dtype)dt, v, SIMDATTN_F32, row, 0.0f);
  if (regime == 2)
    for (int64_t b = 0; b < sa_dtype_bytes((simdattn_dtype)dt, row); b++)
      if (u8(r) < 16) ((uint8_t *)row_base)[b] = u8(r);
}

static void fill(const simdattn_tensor *t, int64_t nb, int64_t nh, int64_t ns, int64_t row, reader *r, int regime) {
  for (int64_t b = 0; b < nb; b++)
    for (int64_t h = 0; h < nh; h++)
      for (int64_t s = 0; s < ns; s++) {
        const int64_t at = b * t->stride_batch + h * t->stride_head + s * t->stride_seq;
        if (!sa_dtype_float(t->dtype)) {
          store_quant_row((char *)t->data + sa_dtype_bytes(t->dtype, at), t->dtype, row, r, regime);
          continue;
        }
        for (int64_t x = 0; x < row; x++) store((void *)t->data, at + x, t->dtype, r, regime);
      }
}

/* Inside the numeric contract (README, Semantics): every score term (sum |q_x k_x|, before and
 * after the scale: found by tests/fuzz, a product 3e38 * -3 overflows f32 where the scaled sum
 * would not) and every column's sum of |v| far from f32's limit, so that f32 can hold the
 * scores and the weighted sums (a score past FLT_MAX becomes -inf in f32 and hides its key; in the oracle's double it
 * does not). Computed in double over the finite elements (inf and NaN inputs are inf and NaN in both). */
#define RANGE 0x1p125
static double at_f(const simdattn_tensor *t, int64_t at) { return (double)sa_load_f32(t->data, t->dtype, at); }
/* an element of k or v as the kernels read it: an fp8 value times its kv head's scale */
static double at_kv(const simdattn_problem *p, int is_v, int64_t hk, int64_t at) {
  const simdattn_tensor *t = is_v ? &p->v : &p->k;
  const float *sc = is_v ? p->v_scale : p->k_scale;
  const float x = sa_load_f32(t->data, t->dtype, at);
  return sc && sa_dtype_scaled(t->dtype) ? (double)(sc[hk * p->kv_scale_stride] * x) : (double)x;
}
static int in_range(const case_data *cd, double *max_terms, double *max_v) {
  const simdattn_problem *p = &cd->p;
  const int64_t d = p->head_dim, dv = p->head_dim_v ? p->head_dim_v : d, g = p->heads_q / p->heads_kv;
  const double scale = p->scale != 0.0f ? p->scale : 1.0 / sqrt((double)d);
  for (int64_t b = 0; b < p->batch; b++)
    for (int64_t hk = 0; hk < p->heads_kv; hk++) {
      for (int64_t x = 0; x < dv; x++) {
        double sum = 0.0;
        for (int64_t j = 0; j < p->seq_kv; j++) {
          const double v = at_kv(p, 1, hk, b * p->v.stride_batch + hk * p->v.stride_head + j * p->v.stride_seq + x);
          if (isfinite(v)) sum += fabs(v);
          if (isfinite(v) && fabs(v) > *max_v) *max_v = fabs(v);
        }
        if (sum >= RANGE) return 0;
      }
      for (int64_t h = hk * g; h < (hk + 1) * g; h++)
        for (int64_t i = 0; i < p->seq_q; i++)
          for (int64_t j = 0; j < p->seq_kv; j++) {
            double sum = 0.0;
            for (int64_t x = 0; x < d; x++) {
              const double a = at_f(&p->q, b * p->q.stride_batch + h * p->q.stride_head + i * p->q.stride_seq + x);
              const double c = at_kv(p, 0, hk, b * p->k.stride_batch + hk * p->k.stride_head + j * p->k.stride_seq + x);
              if (isfinite(a) && isfinite(c)) sum += fabs(a * c);
            }
            if (sum >= RANGE || scale * sum >= RANGE) return 0; /* the dot is summed before scaling */
            if (scale * sum > *max_terms) *max_terms = scale * sum;
            if (p->mask) {
              const float m = p->mask[b * p->mask_stride_batch + h * p->mask_stride_head + i * p->mask_stride_q + j];
              if (isfinite(m) && fabs(m) >= RANGE) return 0;
            }
          }
    }
  for (int64_t h = 0; h < p->heads_q; h++) {
    if (p->alibi_slopes && isfinite(p->alibi_slopes[h]) &&
        fabs(p->alibi_slopes[h]) * (double)(p->seq_q + p->seq_kv) >= RANGE)
      return 0;
    if (p->sinks && isfinite(p->sinks[h]) && fabs(p->sinks[h]) >= RANGE) return 0;
  }
  return 1;
}

/* Scores with terms this large (one rounding of such a dot product: >= 2^-14 absolute) put the
 * answer at the mercy of how each dot product rounds: two keys whose scores near 5e4 differ by 4
 * have weights that one ulp (0.004) of either score moves by 0.4%, whatever the order, and the
 * reference's few orders need not span what a kernel's order gets (found by tests/fuzz: AVX2 5x
 * the reference's error there). Such problems are judged element by element against twice the
 * reference's derived worst-case bound (ref/oracle.c), which accounts for every dot-product
 * order, instead of the ordering budget. EQUIVALENCE in README.md. Likewise with softcap when
 * the terms pass 4 softcaps: then a few cancelling dot products sit in tanh's steep part, which
 * is why FlashAttention scales q into the softcap's range for its comparisons (found by
 * tests/fuzz: terms 949, softcap 25, AVX2/AVX-512 at 4x the reference's error, within the bound). */
#define SCORES_ORDER_BOUND 1024.0
#define SOFTCAP_RANGE 4.0
/* The same on the V side: when every output is below 1/64 of the largest |v| it sums, the
 * weighted sums cancel and their error is the weights' rounding times |v|, which a few orders of
 * the reference need not span (found by tests/fuzz: AVX-512 5.5x the reference's error). */
#define V_CANCEL 64.0

static void fail(const case_data *cd, const char *variant, const char *what) {
  fprintf(stderr, "fuzz_forward: %s on %s: %s\n", variant, cd->name, what);
  if (!getenv("FUZZ_VERBOSE")) abort(); /* FUZZ_VERBOSE=1: every variant's verdict, no abort (triage) */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  reader r = {data, size, 0, 0x9e3779b97f4a7c15ull ^ size};
  for (size_t t = 0; t < size; t++) r.x = (r.x ^ data[t]) * 0x100000001b3ull;

  case_spec s = case_default("fuzz", 0, 0);
  s.batch = 1 + u8(&r) % 2;
  s.heads_kv = 1 + u8(&r) % 3;
  s.heads_q = s.heads_kv * (1 + u8(&r) % 3);
  s.seq_q = u8(&r) % 41;
  s.seq_kv = u8(&r) % 71;
  const uint8_t dims = u8(&r);
  s.d = 1 + (dims & 0x80 ? u8(&r) % 160 : u8(&r) % 72);
  s.dv = dims & 0x40 ? 1 + u8(&r) % 72 : s.d;
  s.causal = (simdattn_causal)(u8(&r) % 3);
  s.window = s.causal && u8(&r) % 2 ? u8(&r) % (s.seq_kv + 2) : 0;
  s.mask = (case_mask)(u8(&r) % 4);
  const uint8_t feat = u8(&r);
  s.softcap = feat & 1 ? 1.0f + u8(&r) % 50 : 0.0f;
  s.alibi = feat >> 1 & 1;
  s.sinks = feat >> 2 & 1;
  s.lse = feat >> 3 & 1;
  s.layout = (case_layout)(feat >> 4 & 3);
  const uint8_t dt = u8(&r);
  s.qt = (simdattn_dtype)(dt % 3);
  s.kvt = (simdattn_dtype)(dt / 3 % 3);
  if (dt >= 180) { /* a quantized cache: K (and V, or V its own format), fp8 scales per tensor or per kv head */
    const uint8_t f = u8(&r);
    s.kvt = (simdattn_dtype)(SIMDATTN_Q8_0 + f % 4);
    if (f & 4) s.mixed_v = 1, s.vt = (simdattn_dtype)(f >> 3 & 1 ? SIMDATTN_Q8_0 + (f >> 4) % 4 : (f >> 4) % 3);
    s.kvscale = (f >> 6) % 3;
    if (sa_dtype_block(s.kvt) > 1) s.d = 32 * (1 + s.d % 3);
    if (sa_dtype_block(case_vt(&s)) > 1) s.dv = 32 * (1 + s.dv % 3);
  }
  const int regime = u8(&r) % 3;
  const uint8_t sc = u8(&r);

  case_data cd;
  if (case_build(&s, 1, &cd)) return 0; /* out of memory: not a finding */
  if (sc < 64) cd.p.scale = (float)(1 + sc) / 32.0f;
  const int64_t dv = s.dv;
  fill(&cd.p.q, s.batch, s.heads_q, s.seq_q, s.d, &r, regime);
  fill(&cd.p.k, s.batch, s.heads_kv, s.seq_kv, s.d, &r, regime);
  fill(&cd.p.v, s.batch, s.heads_kv, s.seq_kv, dv, &r, regime);
  if (cd.p.mask) { /* every entry the strides reach, in its own (f32) dtype */
    const int64_t nb = cd.p.mask_stride_batch ? s.batch : 1, nh = cd.p.mask_stride_head ? s.heads_q : 1,
                  nq = cd.p.mask_stride_q ? s.seq_q : 1;
    const simdattn_tensor m = {cd.p.mask, SIMDATTN_F32, cd.p.mask_stride_batch, cd.p.mask_stride_head,
                               cd.p.mask_stride_q};
    fill(&m, nb, nh, nq, s.seq_kv, &r, regime);
  }
  for (int64_t h = 0; h < s.heads_q; h++) {
    int raw16;
    uint16_t raw;
    if (cd.alibi) cd.alibi[h] = value(&r, regime, SIMDATTN_F32, &raw16, &raw);
    if (cd.sinks) cd.sinks[h] = value(&r, regime, SIMDATTN_F32, &raw16, &raw);
  }

  const int64_t rows = s.batch * s.heads_q * s.seq_q;
  double terms = 0.0, max_v = 0.0;                  /* the largest scale * sum |q_x k_x| of a score; max |v| */
  const int judged = in_range(&cd, &terms, &max_v); /* outside: still run, safely and deterministically, unjudged */
  int by_bound = terms >= SCORES_ORDER_BOUND || (s.softcap != 0.0f && terms >= SOFTCAP_RANGE * s.softcap);
  sa_truth truth;
  memset(&truth, 0, sizeof truth);
  if (judged && sa_truth_build(&cd.p, NULL, rows, s.lse, &truth)) {
    case_free(&cd);
    return 0;
  }
  if (judged && !truth.ref_ok) fail(&cd, "ref", "an operation order of the reference breaks its derived bound");
  if (judged && max_v >= V_CANCEL * truth.max_out) by_bound = 1;
  if (getenv("FUZZ_VERBOSE"))
    fprintf(stderr, "largest score terms (scale sum |q k|): %.4g; max |v| / max |out|: %.4g\n", terms,
            max_v / truth.max_out);
  float *got = malloc(sizeof(float) * (size_t)(rows * dv + 1)), *got_lse = malloc(sizeof(float) * (size_t)(rows + 1));
  float *one_out = malloc(cd.out_len * sizeof(float)), *one_lse = malloc(cd.lse_len * sizeof(float));
  char why[512];
  for (int t = 0; t < simdattn_variant_count(); t++) {
    simdattn_variant_info info;
    simdattn_variant_get(t, &info);
    if (!info.available || !(info.dtypes >> s.qt & 1u) || !(info.dtypes >> s.kvt & 1u) ||
        !(info.dtypes >> case_vt(&s) & 1u))
      continue;
    const simdattn_options one = {1, info.name, NULL, NULL, 0}, two = {2, info.name, NULL, NULL, 0};
    case_reset_outputs(&cd);
    if (simdattn_forward(&cd.p, &one) != SIMDATTN_OK) {
      snprintf(why, sizeof why, "status not OK on a valid problem: %s", simdattn_last_error());
      fail(&cd, info.name, why);
    }
    if (!case_guards_intact(&cd)) fail(&cd, info.name, "wrote outside its out rows / lse entries");
    sa_verdict v = {0, 0, 1, 0, 1};
    if (judged) {
      sa_gather(&cd.p, &truth, got, got_lse);
      v = by_bound ? sa_judge_bound(&truth, got, s.lse ? got_lse : NULL, 2.0)
                   : sa_judge(&truth, got, s.lse ? got_lse : NULL);
    }
    if (getenv("FUZZ_VERBOSE"))
      fprintf(stderr,
              "%-26s %s: %s (ratio %.3g) out err %.3g budget %.3g, lse err %.3g budget %.3g (ref %.3g / %.3g)\n",
              info.name, cd.name, judged ? (v.pass ? (by_bound ? "pass (by bound)" : "pass") : "FAIL") : "unjudged",
              v.ratio, v.err_out, truth.budget_out, v.err_lse, truth.budget_lse, truth.ref_out, truth.ref_lse);
    if (!v.pass) {
      snprintf(why, sizeof why,
               "fails the equivalence rule: %s, out err %.3g (budget %.3g), lse err %.3g (budget %.3g)",
               v.exact ? "too far" : "a 0/inf/NaN element differs", v.err_out, truth.budget_out, v.err_lse,
               truth.budget_lse);
      fail(&cd, info.name, why);
    }
    memcpy(one_out, cd.out_buf, cd.out_len * sizeof(float));
    memcpy(one_lse, cd.lse_buf, cd.lse_len * sizeof(float));
    case_reset_outputs(&cd);
    if (simdattn_forward(&cd.p, &two) != SIMDATTN_OK) fail(&cd, info.name, "2 threads: status not OK");
    if (memcmp(one_out, cd.out_buf, cd.out_len * sizeof(float)) ||
        memcmp(one_lse, cd.lse_buf, cd.lse_len * sizeof(float)))
      fail(&cd, info.name, "2 threads give other bits than 1");
    /* the plan path: a plan for this problem, its workspace, execute: the same bits */
    simdattn_plan *plan = NULL;
    if (simdattn_plan_create(&cd.p, &two, &plan) != SIMDATTN_OK) fail(&cd, info.name, "plan_create: status not OK");
    const size_t wn = simdattn_plan_workspace_size(plan);
    void *ws = wn ? aligned_alloc(SIMDATTN_WORKSPACE_ALIGN, (wn + 63) / 64 * 64) : NULL;
    case_reset_outputs(&cd);
    if (simdattn_plan_execute(plan, &cd.p, ws, wn) != SIMDATTN_OK) fail(&cd, info.name, "plan_execute: status not OK");
    if (memcmp(one_out, cd.out_buf, cd.out_len * sizeof(float)) ||
        memcmp(one_lse, cd.lse_buf, cd.lse_len * sizeof(float)))
      fail(&cd, info.name, "plan_execute gives other bits than simdattn_forward");
    free(ws);
    simdattn_plan_destroy(plan);
  }
  free(got);
  free(got_lse);
  free(one_out);
  free(one_lse);
  sa_truth_free(&truth);
  case_free(&cd);
  return 0;
}
