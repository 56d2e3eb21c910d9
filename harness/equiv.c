/* harness/equiv.c: the equivalence rule (see equiv.h). */
#include "equiv.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"
#include "src/internal.h"

/* err and exactness of got[n][dv] / got_lse[n] against the oracle; with bounds, the worst ratio */
static sa_verdict compare(const sa_truth *t, const float *out, const float *lse, const double *b_out,
                          const double *b_lse, double *bound_ratio) {
  sa_verdict v = {0.0, 0.0, 1, 0.0, 0};
  double br = 0.0;
  for (int64_t k = 0; k < t->n * t->dv; k++) {
    const double want = t->o_out[k], got = (double)out[k];
    /* a zero the semantics give (no visible key: bound 0) must be exact; a zero that double
     * reached by cancellation (a positive bound) is measured like any value (found by
     * tests/fuzz: saturated softcap scores, V terms cancelling exactly in double) */
    if (isnan(want)) {
      v.exact &= isnan(got) != 0;
    } else if (isinf(want) || (want == 0.0 && !(t->b_out && t->b_out[k] > 0.0))) {
      v.exact &= got == want;
    } else {
      const double d = isfinite(got) ? fabs(got - want) : INFINITY;
      if (!(d <= v.err_out)) v.err_out = d;
      if (b_out && !(d / b_out[k] <= br)) br = d / b_out[k];
    }
  }
  for (int64_t k = 0; lse && k < t->n; k++) {
    const double want = t->o_lse[k], got = (double)lse[k];
    if (isnan(want) || isinf(want)) {
      v.exact &= isnan(want) ? isnan(got) != 0 : got == want;
    } else {
      const double d = isfinite(got) ? fabs(got - want) : INFINITY;
      if (!(d <= v.err_lse)) v.err_lse = d;
      if (b_lse && !(d / b_lse[k] <= br)) br = d / b_lse[k];
    }
  }
  if (bound_ratio) *bound_ratio = br;
  return v;
}

int sa_truth_build(const simdattn_problem *p, const int64_t *rows, int64_t n, int with_lse, sa_truth *t) {
  memset(t, 0, sizeof *t);
  sa_job j;
  if (sa_validate(p, &j) != SIMDATTN_OK) return -1;
  t->n = n;
  t->dv = j.dv;
  t->has_lse = with_lse;
  const size_t ne = (size_t)(n * j.dv) + 1, nr = (size_t)n + 1;
  if (rows) {
    t->rows = malloc(sizeof(int64_t) * nr);
    if (!t->rows) return -1;
    memcpy(t->rows, rows, sizeof(int64_t) * (size_t)n);
  }
  t->o_out = malloc(sizeof(double) * ne);
  t->o_lse = malloc(sizeof(double) * nr);
  double *b_out = t->b_out = malloc(sizeof(double) * ne), *b_lse = t->b_lse = malloc(sizeof(double) * nr);
  float *r_out = malloc(sizeof(float) * ne), *r_lse = malloc(sizeof(float) * nr);
  int rc = -1;
  if (!t->o_out || !t->o_lse || !b_out || !b_lse || !r_out || !r_lse) goto done;
  if (sa_oracle_rows(&j, t->rows, n, t->o_out, t->o_lse, b_out, b_lse)) goto done;
  for (int64_t k = 0; k < n * j.dv; k++)
    if (isfinite(t->o_out[k]) && fabs(t->o_out[k]) > t->max_out) t->max_out = fabs(t->o_out[k]);
  for (int64_t k = 0; k < n; k++)
    if (isfinite(t->o_lse[k]) && fabs(t->o_lse[k]) > t->max_lse) t->max_lse = fabs(t->o_lse[k]);
  t->ref_ok = 1;
  for (int order = 0; order < SA_REF_N_ORDERS; order++) {
    if (sa_ref_rows(&j, t->rows, n, order, r_out, r_lse)) goto done;
    double br;
    const sa_verdict v = compare(t, r_out, with_lse ? r_lse : NULL, b_out, b_lse, &br);
    t->ref_ok &= v.exact && br <= 1.0;
    if (v.err_out > t->ref_out) t->ref_out = v.err_out;
    if (v.err_lse > t->ref_lse) t->ref_lse = v.err_lse;
    if (br > t->ref_bound_ratio) t->ref_bound_ratio = br;
  }
  t->budget_out = 2.0 * t->ref_out + 2.0 * FLT_EPSILON * t->max_out;
  t->budget_lse = 2.0 * t->ref_lse + 2.0 * FLT_EPSILON * t->max_lse;
  rc = 0;
done:
  free(r_out);
  free(r_lse);
  if (rc) sa_truth_free(t);
  return rc;
}

void sa_truth_free(sa_truth *t) {
  free(t->rows);
  free(t->o_out);
  free(t->o_lse);
  free(t->b_out);
  free(t->b_lse);
  memset(t, 0, sizeof *t);
}

int64_t sa_spread_rows(const simdattn_problem *p, int64_t n, int64_t *rows) {
  const int64_t total = p->batch * p->heads_q * p->seq_q;
  if (n > total) n = total;
  for (int64_t k = 0; k < n; k++) rows[k] = n > 1 ? k * (total - 1) / (n - 1) : 0;
  return n;
}

void sa_gather(const simdattn_problem *p, const sa_truth *t, float *out, float *lse) {
  for (int64_t k = 0; k < t->n; k++) {
    const int64_t flat = t->rows ? t->rows[k] : k;
    const int64_t i = flat % p->seq_q, h = flat / p->seq_q % p->heads_q, b = flat / p->seq_q / p->heads_q;
    const float *row = p->out + b * p->out_stride_batch + h * p->out_stride_head + i * p->out_stride_seq;
    memcpy(out + k * t->dv, row, sizeof(float) * (size_t)t->dv);
    if (lse && p->lse) lse[k] = p->lse[flat];
  }
}

sa_verdict sa_judge_bound(const sa_truth *t, const float *out, const float *lse, double factor) {
  double br;
  sa_verdict v = compare(t, out, t->has_lse ? lse : NULL, t->b_out, t->b_lse, &br);
  v.ratio = br / factor;
  v.pass = v.exact && v.ratio <= 1.0;
  return v;
}

sa_verdict sa_judge(const sa_truth *t, const float *out, const float *lse) {
  sa_verdict v = compare(t, out, t->has_lse ? lse : NULL, NULL, NULL, NULL);
  const double r_out = v.err_out == 0.0 ? 0.0 : v.err_out / t->budget_out;
  const double r_lse = v.err_lse == 0.0 ? 0.0 : v.err_lse / t->budget_lse;
  v.ratio = r_out > r_lse ? r_out : r_lse;
  v.pass = v.exact && v.ratio <= 1.0;
  return v;
}
