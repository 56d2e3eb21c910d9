/* ref/oracle.c: the float64 oracle, and the forward-error bound that holds the fp32 reference.
 *
 * Every operation in double on inputs converted exactly (f16, bf16 and f32 values are all
 * doubles), following the semantics in README.md step by step. Double rounding adds relative
 * errors of order 1e-13 on these sizes, far below anything the float checks resolve.
 *
 * The bound on |ref - oracle| (for every operation order of ref.c), per element:
 * Notation: u = 2^-24, g(n) = n u / (1 - n u), A_j = sum_x |q_x k_x|, s_j the exact score.
 * 1. Score j as the reference forms it (dot, * scale, softcap, + alibi, + mask):
 *      dot in any order, with or without fma:   |err| <= g(d) A_j             (Higham, Thm 3.1)
 *      * scale:                                  scale g(d) A_j (1+u) + u |s|
 *      softcap t = c tanh(s/c): tanh is 1-Lipschitz, so the error passes through; s/c, tanhf
 *      (<= 1 ULP, 2u relative) and * c add        u |s| + 3u |t| (+ c 2^-149 near zero)
 *      + alibi a = slope (j - i') rounded, then the sum:   u |a| + u |t + a|
 *      + mask:                                   u |t + mask|
 *    giving delta_j;  delta_max = max_j delta_j;  S* = max(max_j s_j, sink).
 * 2. The exponent argument fl(s^_j - shift), shift the computed max, is off from s_j - shift by
 *      Delta_j <= delta_j + u (|s_j - S*| + delta_j + delta_max)       (a sink has delta = 0)
 *    and expf adds <= 1 ULP (2u relative), so p^_j = p_j (1 + rho_j) with
 *      |rho_j| <= r_j = e^Delta_j (1 + 2u) - 1,  plus an absolute 2^-149 for subnormal results.
 * 3. With exact weights w_j = p_j / sum p (the sink is a key with v = 0), R = sum w_j r_j:
 *    normalised weights move by |w^_j - w_j| <= w_j (r_j + R) / (1 - R), so the weighted mean
 *    moves by T1 = (sum w_j r_j |v_j| + R sum w_j |v_j|) / (1 - R). The sums over n visible
 *    keys add g(n) sum p^ |v| and g(n+1) sum p^, the division u:
 *      |out^ - out| <= T1 + g(n) W1 (1+u) / (1 - g(n+1)) + (|out| + T1) ((1+u) / (1 - g(n+1)) - 1)
 *    with W1 = sum w_j (1 + r_j) |v_j| / (1 - R); plus 2 n 2^-149 max|v| (sum p^ >= 1), and
 *    (n + 1) 2^-149 for products, sums and the division in f32's subnormal range (absolute
 *    errors, 2^-150 each; in step 1 likewise (d + 1) 2^-149 per score).
 * 4. lse = shift + log(sum p^):
 *      |err| <= -log(1 - R) - log(1 - g(n+1)) + 2u |log P| + u |lse|     (logf <= 1 ULP)
 * Both are widened by 0.1% for second-order terms and the oracle's own rounding. */
#include <math.h>
#include <stdlib.h>

#include "ref.h"

#define U32 0x1p-24
#define TINY32 0x1p-149
#define WIDEN 1.001

static double gamma_n(double n) { return n * U32 / (1.0 - n * U32); }

typedef struct {
  double *q;               /* [d] */
  int64_t *keys;           /* [seq_kv] visible keys */
  double *s;               /* [seq_kv] their scores */
  double *delta;           /* [seq_kv] score error bounds of the fp32 reference */
  double *p;               /* [seq_kv] */
  double *acc;             /* [dv] */
  double *wrv, *wv, *vmax; /* [dv] the bound's sums over keys */
  float *row;              /* [max(d, dv)] one input row as f32 (the dtype table's exact conversion) */
} scratch;

static void oracle_row(const sa_job *j, int64_t flat, double *out, double *lse, double *bout, double *blse,
                       const scratch *w) {
  const int64_t i = flat % j->seq_q, h = flat / j->seq_q % j->heads_q, b = flat / j->seq_q / j->heads_q;
  const int64_t hk = h / j->group;
  sa_row row;
  sa_row_setup(j, b, hk, i * j->group + h % j->group, &row);
  const double u = U32, scale = (double)j->scale, c = (double)j->softcap;
  sa_row_to_f32(row.q, j->q_dtype, j->d, w->row);
  for (int64_t x = 0; x < j->d; x++) w->q[x] = (double)w->row[x];

  /* scores of the keys the causal rule and the window allow; drop those that end at -inf */
  int64_t n = 0;
  double dmax = 0.0;
  for (int64_t key = row.lo; key < row.hi; key++) {
    sa_kv_row_to_f32(sa_k_row(j, b, hk, key), j->k_dtype, j->d, sa_k_scale(j, hk), w->row);
    double dot = 0.0, absdot = 0.0;
    for (int64_t x = 0; x < j->d; x++) {
      const double t = w->q[x] * (double)w->row[x];
      dot += t;
      absdot += fabs(t);
    }
    double s = dot * scale;
    /* + (d + 1) 2^-149: products and sums in f32's subnormal range err absolutely */
    double e = scale * gamma_n((double)j->d) * absdot * (1 + u) + u * fabs(s) + ((double)j->d + 1) * TINY32;
    if (c != 0.0) {
      const double t = c * tanh(s / c);
      e += u * fabs(s) + 3 * u * fabs(t) + c * TINY32;
      s = t;
    }
    if (j->alibi) {
      const double a = (double)row.slope * (double)(key - row.qpos);
      e += u * fabs(a) + u * fabs(s + a);
      s += a;
    }
    if (row.mask) {
      const double mk = (double)row.mask[key];
      if (mk == -INFINITY) continue;
      s += mk;
      e += u * fabs(s);
    }
    if (s == -INFINITY) continue;
    w->keys[n] = key;
    w->s[n] = s;
    w->delta[n] = e;
    if (e > dmax) dmax = e;
    n++;
  }

  double top = -INFINITY; /* max visible score, NaN not counted */
  for (int64_t t = 0; t < n; t++)
    if (w->s[t] > top) top = w->s[t];
  const double sink = (double)row.sink;
  if (row.has_sink && sink > top) top = sink;
  const double shift = top == -INFINITY ? 0.0 : top;

  double P = 0.0;
  for (int64_t t = 0; t < n; t++) P += (w->p[t] = exp(w->s[t] - shift));
  const double psink = row.has_sink ? exp(sink - shift) : 0.0;
  P += psink;
  if (P == 0.0) { /* no visible key (and no finite sink): zeros, and lse = sink or -inf */
    for (int64_t x = 0; x < j->dv; x++) {
      if (out) out[x] = 0.0;
      if (bout) bout[x] = 0.0;
    }
    if (lse) *lse = row.has_sink ? sink : -INFINITY;
    if (blse) *blse = 0.0;
    return;
  }
  for (int64_t x = 0; x < j->dv; x++) w->acc[x] = 0.0;
  for (int64_t t = 0; t < n; t++) {
    sa_kv_row_to_f32(sa_v_row(j, b, hk, w->keys[t]), j->v_dtype, j->dv, sa_v_scale(j, hk), w->row);
    for (int64_t x = 0; x < j->dv; x++) { /* a visible key's weight is positive, even where exp underflows */
      const double v = (double)w->row[x];
      w->acc[x] += w->p[t] == 0.0 && isinf(v) ? v : w->p[t] * v;
    }
  }
  for (int64_t x = 0; x < j->dv; x++)
    if (out) out[x] = w->acc[x] / P;
  const double the_lse = shift + log(P);
  if (lse) *lse = the_lse;
  if (!bout && !blse) return;

  /* the bound (see the top of this file); w->p becomes the weights, w->delta the r_j */
  double R = 0.0;
  for (int64_t t = 0; t < n; t++) {
    const double D = w->delta[t] + u * (fabs(w->s[t] - top) + w->delta[t] + dmax);
    w->p[t] /= P;
    w->delta[t] = expm1(D) * (1 + 2 * u) + 2 * u;
    R += w->p[t] * w->delta[t];
  }
  if (row.has_sink) R += psink / P * (expm1(u * (fabs(sink - top) + dmax)) * (1 + 2 * u) + 2 * u);
  const double gn = gamma_n((double)n), gn1 = gamma_n((double)n + 1);
  const int hopeless = !(R < 1.0) || !isfinite(R);
  if (blse) {
    const double b4 = hopeless ? INFINITY : -log1p(-R) - log1p(-gn1) + 2 * u * fabs(log(P)) + u * fabs(the_lse);
    *blse = b4 * WIDEN + TINY32;
  }
  if (!bout) return;
  for (int64_t x = 0; x < j->dv; x++) w->wrv[x] = w->wv[x] = w->vmax[x] = 0.0;
  for (int64_t t = 0; t < n; t++) {
    sa_kv_row_to_f32(sa_v_row(j, b, hk, w->keys[t]), j->v_dtype, j->dv, sa_v_scale(j, hk), w->row);
    for (int64_t x = 0; x < j->dv; x++) {
      const double av = fabs((double)w->row[x]);
      w->wrv[x] += w->p[t] * w->delta[t] * av;
      w->wv[x] += w->p[t] * av;
      if (av > w->vmax[x]) w->vmax[x] = av;
    }
  }
  for (int64_t x = 0; x < j->dv; x++) {
    const double wrv = w->wrv[x], wv = w->wv[x], vmax = w->vmax[x];
    if (hopeless) {
      bout[x] = INFINITY;
      continue;
    }
    const double T1 = (wrv + R * wv) / (1 - R);
    const double W1 = (wv + wrv) / (1 - R);
    const double o = fabs(w->acc[x] / P);
    const double b3 = T1 + gn * W1 * (1 + u) / (1 - gn1) + (o + T1) * ((1 + u) / (1 - gn1) - 1);
    /* subnormal p^ (2 n 2^-149 max|v|); the n products p^ v, their sum and the division landing
     * in f32's subnormal range, each off by up to 2^-150 absolutely (found by tests/fuzz: outputs
     * near 1e-45 broke a purely relative bound) */
    bout[x] = b3 * WIDEN + 2.0 * (double)n * TINY32 * vmax + ((double)n + 1) * TINY32;
  }
}

int sa_oracle_rows(const sa_job *j, const int64_t *rows, int64_t n_rows, double *out, double *lse, double *bound_out,
                   double *bound_lse) {
  scratch w;
  const size_t nk = (size_t)(j->seq_kv > 0 ? j->seq_kv : 1);
  w.q = malloc(sizeof(double) * (size_t)j->d);
  w.keys = malloc(sizeof(int64_t) * nk);
  w.s = malloc(sizeof(double) * nk);
  w.delta = malloc(sizeof(double) * nk);
  w.p = malloc(sizeof(double) * nk);
  w.acc = malloc(sizeof(double) * (size_t)j->dv);
  w.wrv = malloc(sizeof(double) * (size_t)j->dv);
  w.wv = malloc(sizeof(double) * (size_t)j->dv);
  w.vmax = malloc(sizeof(double) * (size_t)j->dv);
  w.row = malloc(sizeof(float) * (size_t)sa_max64(j->d, j->dv));
  int rc = 0;
  if (!w.q || !w.keys || !w.s || !w.delta || !w.p || !w.acc || !w.wrv || !w.wv || !w.vmax || !w.row) {
    rc = -1;
  } else {
    for (int64_t t = 0; t < n_rows; t++) {
      const int64_t flat = rows ? rows[t] : t;
      oracle_row(j, flat, out ? out + t * j->dv : NULL, lse ? lse + t : NULL, bound_out ? bound_out + t * j->dv : NULL,
                 bound_lse ? bound_lse + t : NULL, &w);
    }
  }
  free(w.q);
  free(w.keys);
  free(w.s);
  free(w.delta);
  free(w.p);
  free(w.acc);
  free(w.wrv);
  free(w.wv);
  free(w.vmax);
  free(w.row);
  return rc;
}

/* ---- the backward oracle (ref.h): the gradient of the forward above, in double ----
 * With s_j the visible scores (softcap t_j = tanh(r_j / c), r_j = scale q.k_j), P_j = exp(s_j - lse),
 * out = sum P_j v_j, D = dout.out (the oracle's own out and lse, in double):
 *   dv_j += P_j dout,   dS_j = P_j (dout.v_j - D) (1 - t_j^2),   dq += scale dS_j k_j,   dk_j += scale dS_j q,
 *   d_sink += -exp(sink - lse) D   (a sink is a key with v = 0 that joins the denominator only).
 * tests/test_backward.c checks it against central differences of the forward oracle. */
int sa_oracle_bwd(const sa_bwd_job *J, double *dq, double *dk, double *dv, double *d_sinks) {
  const sa_job *j = &J->f;
  const int64_t d = j->d, dvn = j->dv, nrows = j->batch * j->heads_q * j->seq_q;
  double *O = malloc(sizeof(double) * (size_t)(nrows * dvn + 1)), *L = malloc(sizeof(double) * (size_t)(nrows + 1));
  double *qd = malloc(sizeof(double) * (size_t)d), *gd = malloc(sizeof(double) * (size_t)dvn);
  float *row = malloc(sizeof(float) * (size_t)sa_max64(d, dvn));
  double *kd = malloc(sizeof(double) * (size_t)d), *vd = malloc(sizeof(double) * (size_t)dvn);
  int rc = -1;
  if (!O || !L || !qd || !gd || !row || !kd || !vd) goto done;
  if (sa_oracle_rows(j, NULL, nrows, O, L, NULL, NULL)) goto done;
  for (int64_t t = 0; t < nrows * d; t++) dq[t] = 0.0;
  for (int64_t t = 0; t < j->batch * j->heads_kv * j->seq_kv * d; t++) dk[t] = 0.0;
  for (int64_t t = 0; t < j->batch * j->heads_kv * j->seq_kv * dvn; t++) dv[t] = 0.0;
  if (d_sinks)
    for (int64_t h = 0; h < j->heads_q; h++) d_sinks[h] = 0.0;
  const double scale = (double)j->scale, c = (double)j->softcap;
  for (int64_t flat = 0; flat < nrows; flat++) {
    const int64_t i = flat % j->seq_q, h = flat / j->seq_q % j->heads_q, b = flat / j->seq_q / j->heads_q;
    const int64_t hk = h / j->group;
    sa_row r;
    sa_row_setup(j, b, hk, i * j->group + h % j->group, &r);
    const double lse = L[flat];
    if (lse == -INFINITY) continue; /* no visible key, no sink: every gradient of the row is 0 */
    const float *g = J->dout + b * J->do_sb + h * J->do_sh + i * J->do_ss;
    double D = 0.0;
    for (int64_t x = 0; x < dvn; x++) D += (gd[x] = (double)g[x]) * O[flat * dvn + x];
    sa_row_to_f32(r.q, j->q_dtype, d, row);
    for (int64_t x = 0; x < d; x++) qd[x] = (double)row[x];
    for (int64_t key = r.lo; key < r.hi; key++) {
      if (r.mask && r.mask[key] == -INFINITY) continue;
      sa_kv_row_to_f32(sa_k_row(j, b, hk, key), j->k_dtype, d, sa_k_scale(j, hk), row);
      double dot = 0.0;
      for (int64_t x = 0; x < d; x++) dot += qd[x] * (kd[x] = (double)row[x]);
      double s = dot * scale, deriv = 1.0;
      if (c != 0.0) {
        const double t = tanh(s / c);
        s = c * t;
        deriv = 1.0 - t * t;
      }
      if (j->alibi) s += (double)r.slope * (double)(key - r.qpos);
      if (r.mask) s += (double)r.mask[key];
      const double P = exp(s - lse);
      sa_kv_row_to_f32(sa_v_row(j, b, hk, key), j->v_dtype, dvn, sa_v_scale(j, hk), row);
      double dP = 0.0;
      for (int64_t x = 0; x < dvn; x++) dP += gd[x] * (vd[x] = (double)row[x]);
      const double dS = P * (dP - D) * deriv * scale;
      double *dqr = dq + flat * d, *dkr = dk + ((b * j->heads_kv + hk) * j->seq_kv + key) * d;
      double *dvr = dv + ((b * j->heads_kv + hk) * j->seq_kv + key) * dvn;
      for (int64_t x = 0; x < d; x++) {
        dqr[x] += dS * kd[x];
        dkr[x] += dS * qd[x];
      }
      for (int64_t x = 0; x < dvn; x++) dvr[x] += P * gd[x];
    }
    if (d_sinks && r.has_sink) d_sinks[h] -= exp((double)r.sink - lse) * D;
  }
  rc = 0;
done:
  free(O);
  free(L);
  free(qd);
  free(gd);
  free(row);
  free(kd);
  free(vd);
  return rc;
}

/* ---- the backward oracle on chosen elements, from the given out and lse (ref.h) ----
 * The gradients the backward computes from its inputs (q, k, v, dout and the forward's f32 out and
 * lse), in double: D = dout.out, P = exp(s - lse); the terms as in sa_oracle_bwd. */
typedef struct {
  const sa_bwd_job *J;
  double *qd, *gd, *kd, *vd;
  float *row;
} sa_spot_ws;

/* row r of (b, hk) (D from the given out): its terms with `key` into dq_r (when not NULL) and
 * dk_key, dv_key (when not NULL) */
static void sa_spot_pair(const sa_spot_ws *w, const sa_row *r, double D, int64_t b, int64_t hk, int64_t key,
                         double *dqr, double *dkr, double *dvr) {
  const sa_job *j = &w->J->f;
  const int64_t d = j->d, dvn = j->dv;
  if (key < r->lo || key >= r->hi || (r->mask && r->mask[key] == -INFINITY)) return;
  sa_kv_row_to_f32(sa_k_row(j, b, hk, key), j->k_dtype, d, 1.0f, w->row);
  double dot = 0.0;
  for (int64_t x = 0; x < d; x++) dot += w->qd[x] * (w->kd[x] = (double)w->row[x]);
  double s = dot * (double)j->scale, deriv = 1.0;
  if (j->softcap != 0.0f) {
    const double t = tanh(s / (double)j->softcap);
    s = (double)j->softcap * t;
    deriv = 1.0 - t * t;
  }
  if (j->alibi) s += (double)r->slope * (double)(key - r->qpos);
  if (r->mask) s += (double)r->mask[key];
  const double P = exp(s - (double)*r->lse);
  sa_kv_row_to_f32(sa_v_row(j, b, hk, key), j->v_dtype, dvn, 1.0f, w->row);
  double dP = 0.0;
  for (int64_t x = 0; x < dvn; x++) dP += w->gd[x] * (w->vd[x] = (double)w->row[x]);
  const double dS = P * (dP - D) * deriv * (double)j->scale;
  if (dqr)
    for (int64_t x = 0; x < d; x++) dqr[x] += dS * w->kd[x];
  if (dkr) {
    for (int64_t x = 0; x < d; x++) dkr[x] += dS * w->qd[x];
    for (int64_t x = 0; x < dvn; x++) dvr[x] += P * w->gd[x];
  }
}

/* the row's q and dout into w, and D; 0 when the row sees no key (every term 0) */
static int sa_spot_row(const sa_spot_ws *w, int64_t b, int64_t hk, int64_t r_packed, sa_row *r, double *D) {
  const sa_job *j = &w->J->f;
  sa_row_setup(j, b, hk, r_packed, r);
  if (*r->lse == -INFINITY || r->lo >= r->hi) return 0;
  const float *g = w->J->dout + b * w->J->do_sb + r->h * w->J->do_sh + r->i * w->J->do_ss;
  double acc = 0.0;
  for (int64_t x = 0; x < j->dv; x++) acc += (w->gd[x] = (double)g[x]) * (double)r->out[x];
  *D = acc;
  sa_row_to_f32(r->q, j->q_dtype, j->d, w->row);
  for (int64_t x = 0; x < j->d; x++) w->qd[x] = (double)w->row[x];
  return 1;
}

int sa_oracle_bwd_spots(const sa_bwd_job *J, const int64_t *rows, int64_t n_rows, const int64_t *keys, int64_t n_keys,
                        double *dq, double *dk, double *dv) {
  const sa_job *j = &J->f;
  const int64_t d = j->d, dvn = j->dv, G = j->group;
  const int64_t n = sa_max64(d, dvn) + 1;
  sa_spot_ws w = {J, malloc(sizeof(double) * (size_t)n), malloc(sizeof(double) * (size_t)n),
                  malloc(sizeof(double) * (size_t)n), malloc(sizeof(double) * (size_t)n), malloc(sizeof(float) * (size_t)n)};
  int rc = -1;
  if (!w.qd || !w.gd || !w.kd || !w.vd || !w.row) goto done;
  for (int64_t t = 0; t < n_rows * d; t++) dq[t] = 0.0;
  for (int64_t t = 0; t < n_keys * d; t++) dk[t] = 0.0;
  for (int64_t t = 0; t < n_keys * dvn; t++) dv[t] = 0.0;
  for (int64_t t = 0; t < n_rows; t++) { /* dq: a row with every key */
    const int64_t i = rows[t] % j->seq_q, h = rows[t] / j->seq_q % j->heads_q, b = rows[t] / j->seq_q / j->heads_q;
    sa_row r;
    double D;
    if (sa_spot_row(&w, b, h / G, i * G + h % G, &r, &D))
      for (int64_t key = r.lo; key < r.hi; key++) sa_spot_pair(&w, &r, D, b, h / G, key, dq + t * d, NULL, NULL);
  }
  for (int64_t b = 0; b < j->batch && n_keys; b++) /* dk, dv: every row of a kv head with its chosen keys */
    for (int64_t hk = 0; hk < j->heads_kv; hk++) {
      const int64_t kbase = (b * j->heads_kv + hk) * j->seq_kv;
      int any = 0;
      for (int64_t t = 0; t < n_keys && !any; t++) any = keys[t] >= kbase && keys[t] < kbase + j->seq_kv;
      for (int64_t rp = 0; any && rp < j->rows; rp++) {
        sa_row r;
        double D;
        if (!sa_spot_row(&w, b, hk, rp, &r, &D)) continue; /* (D and q once per row) */
        for (int64_t t = 0; t < n_keys; t++)
          if (keys[t] >= kbase && keys[t] < kbase + j->seq_kv)
            sa_spot_pair(&w, &r, D, b, hk, keys[t] - kbase, NULL, dk + t * d, dv + t * dvn);
      }
    }
  rc = 0;
done:
  free(w.qd);
  free(w.gd);
  free(w.kd);
  free(w.vd);
  free(w.row);
  return rc;
}
