/* harness/equiv.h: the equivalence rule, written once for attn-check and attn-bench.
 *   err(x) = max |x - oracle| over the oracle's finite elements
 *   pass iff err(x) <= 2 err(ref) + 2 FLT_EPSILON max|oracle|      (out, and lse)
 * with elements the oracle says are +-inf or NaN matched exactly, and zeros the semantics give
 * (rows without a visible key); a zero double reached by cancellation is measured. err(ref) is the largest
 * error of the naive fp32 reference over its operation orders, each held to the worst-case
 * bound of ref/oracle.c. Works on all rows of a problem or on chosen rows (long sequences). */
#ifndef SA_HARNESS_EQUIV_H
#define SA_HARNESS_EQUIV_H

#include <stdint.h>

#include "simdattn.h"

typedef struct {
  int64_t n, dv;
  int64_t *rows;          /* flat row indices (b * heads_q + h) * seq_q + i; NULL = all rows */
  int has_lse;            /* judge lse too */
  double *o_out, *o_lse;  /* the oracle: [n][dv], [n] */
  double max_out, max_lse;
  double ref_out, ref_lse;   /* err(ref), over every operation order */
  double ref_bound_ratio;    /* max over orders and elements of |ref - oracle| / bound */
  int ref_ok;                /* every order exact where it must be and within its bound */
  double budget_out, budget_lse;
  double *b_out, *b_lse;     /* per element: the worst-case error bound of the fp32 reference */
} sa_truth;

typedef struct {
  double err_out, err_lse;
  int exact;    /* 0 / inf / NaN elements of the oracle matched exactly */
  double ratio; /* max(err_out / budget_out, err_lse / budget_lse) */
  int pass;     /* exact && ratio <= 1 */
} sa_verdict;

/* The oracle and err(ref) for rows of p (rows NULL and n = every row; else n chosen rows, which
 * are copied). Returns 0, or -1 on a bad problem or no memory. */
int sa_truth_build(const simdattn_problem *p, const int64_t *rows, int64_t n, int with_lse, sa_truth *t);
void sa_truth_free(sa_truth *t);
/* n rows spread evenly over all of p's rows (first and last included), into rows[n]. */
int64_t sa_spread_rows(const simdattn_problem *p, int64_t n, int64_t *rows);
/* Copies the truth's rows of p's out (and lse) into out[n][dv] (and lse[n]). */
void sa_gather(const simdattn_problem *p, const sa_truth *t, float *out, float *lse);
/* Judges out[n][dv] and lse[n] (as gathered) against the truth. */
sa_verdict sa_judge(const sa_truth *t, const float *out, const float *lse);
/* The same exactness, but each element's error against `factor` times the reference's derived
 * worst-case bound instead of the ordering budget (ratio: the worst err / (factor bound)). For
 * problems whose scores are so large that one rounding of a dot product moves the answer more
 * than any set of operation orders can show (tests/fuzz). */
sa_verdict sa_judge_bound(const sa_truth *t, const float *out, const float *lse, double factor);

#endif
