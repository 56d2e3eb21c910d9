/* tests/test_backward.c: the backward pass.
 *   1. The float64 oracle's gradients (ref/oracle.c sa_oracle_bwd) against central differences of
 *      the forward oracle, L = sum dout . out, on tiny problems with every feature: the judge judged.
 *   2. Bitwise determinism: 1 thread, 2, all, and a caller's pool (running the tasks backwards)
 *      give the same bits, for every variant with a backward pass that this CPU runs.
 *   3. Bad input: a status and a message naming the field, and nothing written.
 *   4. The long-sequence judges (attn-bench): the naive backward on chosen rows and keys gives the
 *      bits of the whole naive backward in every order; the spot oracle (from the given out and
 *      lse) agrees with the oracle to the forward's f32 rounding. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness/cases.h"
#include "ref/ref.h"
#include "src/internal.h"

/* ---- 1. finite differences ---- */
typedef struct {
  case_data cd;
  float *dout, *dq, *dk, *dv, *ds;
  simdattn_grad g;
} fd_case;

static int fd_build(const case_spec *s, fd_case *c) {
  memset(c, 0, sizeof *c);
  if (case_build(s, 7, &c->cd)) return -1;
  const size_t nq = (size_t)(s->batch * s->heads_q * s->seq_q), nk = (size_t)(s->batch * s->heads_kv * s->seq_kv);
  c->dout = malloc(sizeof(float) * (nq * (size_t)s->dv + 1));
  c->dq = malloc(sizeof(float) * (nq * (size_t)s->d + 1));
  c->dk = malloc(sizeof(float) * (nk * (size_t)s->d + 1));
  c->dv = malloc(sizeof(float) * (nk * (size_t)s->dv + 1));
  c->ds = malloc(sizeof(float) * (size_t)(s->heads_q + 1));
  if (!c->dout || !c->dq || !c->dk || !c->dv || !c->ds) return -1;
  for (size_t t = 0; t < nq * (size_t)s->dv; t++) c->dout[t] = (float)sin(1.0 + 0.7 * (double)t);
  simdattn_grad *g = &c->g;
  g->struct_size = SIMDATTN_GRAD_SIZE;
  g->dout = c->dout, g->dq = c->dq, g->dk = c->dk, g->dv = c->dv, g->d_sinks = s->sinks ? c->ds : NULL;
  g->dout_stride_seq = s->dv, g->dout_stride_head = s->seq_q * s->dv, g->dout_stride_batch = s->heads_q * s->seq_q * s->dv;
  g->dq_stride_seq = s->d, g->dq_stride_head = s->seq_q * s->d, g->dq_stride_batch = s->heads_q * s->seq_q * s->d;
  g->dk_stride_seq = s->d, g->dk_stride_head = s->seq_kv * s->d, g->dk_stride_batch = s->heads_kv * s->seq_kv * s->d;
  g->dv_stride_seq = s->dv, g->dv_stride_head = s->seq_kv * s->dv, g->dv_stride_batch = s->heads_kv * s->seq_kv * s->dv;
  return 0;
}
static void fd_free(fd_case *c) {
  free(c->dout), free(c->dq), free(c->dk), free(c->dv), free(c->ds);
  case_free(&c->cd);
}

/* L = sum over rows of dout . out, by the forward oracle */
static double fd_loss(fd_case *c) {
  sa_job j;
  if (sa_validate(&c->cd.p, &j) != SIMDATTN_OK) return NAN;
  const int64_t n = j.batch * j.heads_q * j.seq_q;
  double *o = malloc(sizeof(double) * (size_t)(n * j.dv + 1)), L = 0.0;
  if (!o || sa_oracle_rows(&j, NULL, n, o, NULL, NULL, NULL)) L = NAN;
  for (int64_t t = 0; o && t < n * j.dv; t++) L += (double)c->dout[t] * o[t];
  free(o);
  return L;
}

/* every element of x (n floats): the oracle's gradient g against (L(x + h) - L(x - h)) / (x+ - x-) */
static void fd_compare(fd_case *c, float *x, size_t n, const double *g, const char *what, const char *name) {
  double worst = 0.0, scale = 1e-3;
  for (size_t t = 0; t < n; t++) scale = fmax(scale, fabs(g[t]));
  for (size_t t = 0; t < n; t++) {
    const float x0 = x[t];
    const float h = 0x1p-12f * fmaxf(1.0f, fabsf(x0));
    x[t] = x0 + h;
    const double xp = x[t], Lp = fd_loss(c);
    x[t] = x0 - h;
    const double xm = x[t], Lm = fd_loss(c);
    x[t] = x0;
    const double fd = (Lp - Lm) / (xp - xm), e = fabs(fd - g[t]) / scale;
    if (e > worst) worst = e;
  }
  printf("  %-48s %-7s %3zu elements, max |fd - oracle| / max|grad| = %.2e\n", name, what, n, worst);
  CHECK(worst < 2e-5, "%s %s: finite differences disagree with the oracle's gradient (%.3g)", name, what, worst);
}

static void test_finite_differences(void) {
  case_spec specs[8];
  int n = 0;
  case_spec s = case_default("fd", 3, 5);
  s.d = 4, s.dv = 3, s.heads_q = 2, s.heads_kv = 1;
  specs[n++] = s;
  case_spec t = s;
  t.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT, t.window = 3, t.heads_q = 4, t.heads_kv = 2;
  specs[n++] = t;
  t = s, t.softcap = 2.0f, t.dist = DIST_SOFTCAP;
  specs[n++] = t;
  t = s, t.alibi = 1, t.sinks = 1, t.causal = SIMDATTN_CAUSAL_TOP_LEFT;
  specs[n++] = t;
  t = s, t.mask = MASK_FULL, t.sinks = 1, t.batch = 2;
  specs[n++] = t;
  t = s, t.qt = t.kvt = SIMDATTN_F32, t.seq_q = 6, t.seq_kv = 2, t.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT, t.sinks = 1;
  specs[n++] = t; /* rows that see no key */
  printf("oracle gradients against central differences of the forward oracle:\n");
  for (int k = 0; k < n; k++) {
    fd_case c;
    char name[160];
    case_name(&specs[k], name, sizeof name);
    if (fd_build(&specs[k], &c)) {
      CHECK(0, "%s: cannot build", name);
      fd_free(&c);
      continue;
    }
    sa_bwd_job J;
    CHECK(sa_validate_backward(&c.cd.p, &c.g, 0, NULL, 0, &J) == SIMDATTN_OK, "%s: %s", name, simdattn_last_error());
    const case_spec *sp = &specs[k];
    const size_t nq = (size_t)(sp->batch * sp->heads_q * sp->seq_q * sp->d);
    const size_t nk = (size_t)(sp->batch * sp->heads_kv * sp->seq_kv * sp->d);
    const size_t nv = (size_t)(sp->batch * sp->heads_kv * sp->seq_kv * sp->dv);
    double *gq = malloc(sizeof(double) * (nq + 1)), *gk = malloc(sizeof(double) * (nk + 1));
    double *gv = malloc(sizeof(double) * (nv + 1)), *gs = malloc(sizeof(double) * (size_t)(sp->heads_q + 1));
    CHECK(gq && gk && gv && gs && !sa_oracle_bwd(&J, gq, gk, gv, sp->sinks ? gs : NULL), "%s: oracle", name);
    /* the case's tensors are contiguous BHSD f32: element order matches the oracle's */
    fd_compare(&c, (float *)c.cd.q, nq, gq, "dq", name);
    fd_compare(&c, (float *)c.cd.k, nk, gk, "dk", name);
    fd_compare(&c, (float *)c.cd.v, nv, gv, "dv", name);
    if (sp->sinks) fd_compare(&c, c.cd.sinks, (size_t)sp->heads_q, gs, "dsinks", name);
    free(gq), free(gk), free(gv), free(gs);
    fd_free(&c);
  }
}

/* ---- 2. determinism ---- */
static void reverse_pool(void *pool, void (*task)(void *, int64_t), void *ctx, int64_t count) {
  (void)pool;
  for (int64_t i = count - 1; i >= 0; i--) task(ctx, i);
}

static void test_determinism(void) {
  case_spec s = case_default("det", 150, 300);
  s.batch = 2, s.heads_q = 4, s.heads_kv = 2, s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT, s.sinks = 1;
  fd_case c;
  if (fd_build(&s, &c)) {
    CHECK(0, "cannot build the determinism case");
    fd_free(&c);
    return;
  }
  const simdattn_options ref = {1, "ref", NULL, NULL, 0};
  CHECK(simdattn_forward(&c.cd.p, &ref) == SIMDATTN_OK, "forward: %s", simdattn_last_error());
  const size_t nq = (size_t)(s.batch * s.heads_q * s.seq_q * s.d), nk = (size_t)(s.batch * s.heads_kv * s.seq_kv * s.d);
  const size_t nv = (size_t)(s.batch * s.heads_kv * s.seq_kv * s.dv), ns = (size_t)s.heads_q;
  float *keep = malloc(sizeof(float) * (nq + nk + nv + ns));
  for (int t = 0; keep && t < sa_variant_total(); t++) {
    const sa_variant *v = sa_variant_at(t);
    if (!v->kernel->bwd_run || !sa_variant_available(v) || !(v->dtypes & SA_DT_F32)) continue;
    simdattn_options runs[4] = {{1, v->name, NULL, NULL, 0},
                                {2, v->name, NULL, NULL, 0},
                                {0, v->name, NULL, NULL, 0},
                                {0, v->name, reverse_pool, NULL, 0}};
    for (int r = 0; r < 4; r++) {
      CHECK(simdattn_backward(&c.cd.p, &c.g, &runs[r]) == SIMDATTN_OK, "%s: %s", v->name, simdattn_last_error());
      if (r == 0) {
        memcpy(keep, c.dq, sizeof(float) * nq), memcpy(keep + nq, c.dk, sizeof(float) * nk);
        memcpy(keep + nq + nk, c.dv, sizeof(float) * nv), memcpy(keep + nq + nk + nv, c.ds, sizeof(float) * ns);
        continue;
      }
      const int same = !memcmp(keep, c.dq, sizeof(float) * nq) && !memcmp(keep + nq, c.dk, sizeof(float) * nk) &&
                       !memcmp(keep + nq + nk, c.dv, sizeof(float) * nv) &&
                       !memcmp(keep + nq + nk + nv, c.ds, sizeof(float) * ns);
      CHECK(same, "%s: run %d (threads %d%s) differs from 1 thread", v->name, r, runs[r].n_threads,
            runs[r].parallel ? ", a caller's pool" : "");
    }
    printf("determinism: %-28s the same bits at 1, 2 and all threads and with a caller's pool\n", v->name);
  }
  free(keep);
  fd_free(&c);
}

/* ---- 3. bad input ---- */
static void test_errors(void) {
  case_spec s = case_default("err", 8, 12);
  s.sinks = 1;
  fd_case c;
  if (fd_build(&s, &c)) {
    CHECK(0, "cannot build the error case");
    fd_free(&c);
    return;
  }
  const size_t nq = (size_t)(s.heads_q * s.seq_q * s.d);
  for (size_t t = 0; t < nq; t++) c.dq[t] = 1234.0f;
#define BAD_BWD(setup, needle)                                                                          \
  do {                                                                                                  \
    simdattn_problem p = c.cd.p;                                                                        \
    simdattn_grad g = c.g;                                                                              \
    setup;                                                                                              \
    const simdattn_status st = simdattn_backward(&p, &g, NULL);                                         \
    CHECK(st == SIMDATTN_ERR_INVALID && strstr(simdattn_last_error(), needle), "%s: got %d '%s'", needle, \
          (int)st, simdattn_last_error());                                                              \
    int untouched = 1;                                                                                  \
    for (size_t t = 0; t < nq; t++) untouched &= c.dq[t] == 1234.0f;                                    \
    CHECK(untouched, "%s: dq written on an error", needle);                                             \
  } while (0)
  BAD_BWD(p.lse = NULL, "lse must not be NULL");
  BAD_BWD(g.dout = NULL, "dout must not be NULL");
  BAD_BWD(g.dk = NULL, "dk must not be NULL");
  BAD_BWD(g.d_sinks = NULL, "d_sinks must not be NULL");
  BAD_BWD(p.sinks = NULL, "d_sinks must be NULL");
  BAD_BWD(g.struct_size = 3, "grad.struct_size");
  BAD_BWD(g.dq = (float *)c.cd.q, "dq overlaps q");
  BAD_BWD(g.dv = c.dk, "dv overlaps dk");
  BAD_BWD(g.dk_stride_seq = 1, "dk_stride_seq");
  BAD_BWD(g.dq_stride_head = 1, "dq_stride_head");
  BAD_BWD(g.dout_stride_seq = -5, "dout_stride_seq");
  BAD_BWD(p.k.dtype = SIMDATTN_Q8_0, "k.dtype");
  simdattn_varlen vl = {0};
  BAD_BWD(p.varlen = &vl, "varlen");
  {
    const simdattn_status st = simdattn_backward(&c.cd.p, NULL, NULL);
    CHECK(st == SIMDATTN_ERR_INVALID && strstr(simdattn_last_error(), "grad must not be NULL"), "NULL grad: %s",
          simdattn_last_error());
  }
  /* plans: a backward plan runs only backward, a forward plan only forward */
  simdattn_plan *fw = NULL, *bw = NULL;
  CHECK(simdattn_plan_create(&c.cd.p, NULL, &fw) == SIMDATTN_OK, "%s", simdattn_last_error());
  CHECK(simdattn_plan_create_backward(&c.cd.p, NULL, &bw) == SIMDATTN_OK, "%s", simdattn_last_error());
  const size_t fb = simdattn_plan_workspace_size(fw), bb = simdattn_plan_workspace_size(bw);
  void *ws = aligned_alloc(64, (fb > bb ? fb : bb) / 64 * 64 + 64);
  CHECK(simdattn_plan_execute_backward(fw, &c.cd.p, &c.g, ws, fb) == SIMDATTN_ERR_INVALID &&
            strstr(simdattn_last_error(), "forward plan"),
        "a forward plan to execute_backward: %s", simdattn_last_error());
  CHECK(simdattn_plan_execute(bw, &c.cd.p, ws, bb) == SIMDATTN_ERR_INVALID &&
            strstr(simdattn_last_error(), "backward plan"),
        "a backward plan to execute: %s", simdattn_last_error());
  CHECK(simdattn_plan_execute_backward(bw, &c.cd.p, &c.g, ws, bb ? bb - 1 : 0) == (bb ? SIMDATTN_ERR_INVALID : SIMDATTN_OK),
        "a short workspace: %s", simdattn_last_error());
  simdattn_problem p2 = c.cd.p;
  p2.seq_q = 7;
  CHECK(simdattn_plan_execute_backward(bw, &p2, &c.g, ws, bb) == SIMDATTN_ERR_INVALID &&
            strstr(simdattn_last_error(), "seq_q"),
        "another shape: %s", simdattn_last_error());
  free(ws);
  simdattn_plan_destroy(fw);
  simdattn_plan_destroy(bw);
  fd_free(&c);
}

/* ---- 4. the spot judges ---- */
static void test_spots(void) {
  case_spec s = case_default("spots", 37, 53);
  s.batch = 2, s.heads_q = 4, s.heads_kv = 2, s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT, s.window = 29;
  s.mask = MASK_FULL, s.softcap = 3.0f, s.dist = DIST_SOFTCAP, s.alibi = 1;
  fd_case c;
  if (fd_build(&s, &c)) {
    CHECK(0, "cannot build the spot case");
    fd_free(&c);
    return;
  }
  const simdattn_options ref = {1, "ref", NULL, NULL, 0};
  CHECK(simdattn_forward(&c.cd.p, &ref) == SIMDATTN_OK, "forward: %s", simdattn_last_error());
  const int64_t d = s.d, dv = s.dv, nrows = s.batch * s.heads_q * s.seq_q, nkeys = s.batch * s.heads_kv * s.seq_kv;
  int64_t rows[64], keys[64], nr = 0, nk = 0;
  for (int64_t t = 0; t < nrows; t += 7) rows[nr++] = t;
  for (int64_t t = nkeys - 1; t >= 0; t -= 5) keys[nk++] = t;
  float *full[3] = {malloc(sizeof(float) * (size_t)(nrows * d)), malloc(sizeof(float) * (size_t)(nkeys * d)),
                    malloc(sizeof(float) * (size_t)(nkeys * dv))};
  float *spot[3] = {malloc(sizeof(float) * (size_t)(nr * d)), malloc(sizeof(float) * (size_t)(nk * d)),
                    malloc(sizeof(float) * (size_t)(nk * dv))};
  double *o_full[3] = {malloc(sizeof(double) * (size_t)(nrows * d)), malloc(sizeof(double) * (size_t)(nkeys * d)),
                       malloc(sizeof(double) * (size_t)(nkeys * dv))};
  double *o_spot[3] = {malloc(sizeof(double) * (size_t)(nr * d)), malloc(sizeof(double) * (size_t)(nk * d)),
                       malloc(sizeof(double) * (size_t)(nk * dv))};
  sa_bwd_job J;
  CHECK(sa_validate_backward(&c.cd.p, &c.g, 1, NULL, 0, &J) == SIMDATTN_OK, "%s", simdattn_last_error());
  const int64_t width[3] = {d, d, dv};
  int same = 1;
  for (int order = 0; order < SA_REF_N_BWD_ORDERS; order++) {
    CHECK(sa_backward_ordered(&c.cd.p, &c.g, &ref, order) == SIMDATTN_OK, "order %d: %s", order, simdattn_last_error());
    memcpy(full[0], c.dq, sizeof(float) * (size_t)(nrows * d));
    memcpy(full[1], c.dk, sizeof(float) * (size_t)(nkeys * d));
    memcpy(full[2], c.dv, sizeof(float) * (size_t)(nkeys * dv));
    CHECK(!sa_ref_bwd_spots(&J, order, rows, nr, keys, nk, spot[0], spot[1], spot[2]), "spots: no memory");
    for (int k = 0; k < 3; k++)
      for (int64_t t = 0; t < (k ? nk : nr); t++) {
        const int64_t at = k ? keys[t] : rows[t];
        same &= !memcmp(spot[k] + t * width[k], full[k] + at * width[k], sizeof(float) * (size_t)width[k]);
      }
  }
  CHECK(same, "the naive backward on chosen rows and keys differs from the whole naive backward");
  CHECK(!sa_oracle_bwd(&J, o_full[0], o_full[1], o_full[2], NULL) &&
            !sa_oracle_bwd_spots(&J, rows, nr, keys, nk, o_spot[0], o_spot[1], o_spot[2]),
        "oracles: no memory");
  double worst = 0.0;
  for (int k = 0; k < 3; k++) {
    double mx = 0.0, e = 0.0;
    for (int64_t t = 0; t < (k ? nkeys : nrows) * width[k]; t++) mx = fmax(mx, fabs(o_full[k][t]));
    for (int64_t t = 0; t < (k ? nk : nr); t++)
      for (int64_t x = 0; x < width[k]; x++) {
        const int64_t at = (k ? keys[t] : rows[t]) * width[k] + x;
        e = fmax(e, fabs(o_spot[k][t * width[k] + x] - o_full[k][at]));
      }
    worst = fmax(worst, e / mx);
  }
  CHECK(worst < 1e-4, "the spot oracle differs from the oracle by %.3g of max|grad|", worst);
  printf("spots: the naive backward on %lld rows and %lld keys has the whole walk's bits in %d orders; "
         "the spot oracle is within %.2e of the oracle (max|grad|)\n",
         (long long)nr, (long long)nk, SA_REF_N_BWD_ORDERS, worst);
  for (int k = 0; k < 3; k++) free(full[k]), free(spot[k]), free(o_full[k]), free(o_spot[k]);
  fd_free(&c);
}

int main(void) {
  test_finite_differences();
  test_determinism();
  test_errors();
  test_spots();
  return check_report("test_backward");
}
