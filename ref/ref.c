/* ref/ref.c: the naive fp32 reference, variant `ref` — the suite's scalar reference attention.
 *
 * Per query row: every score, the max, exp, the sum, the weighted sum of V, one division.
 * No tiling, no online rescaling: the plain textbook computation, in fp32, on exactly
 * converted f16/bf16 inputs. Its error sets every variant's budget (attn-check runs it in each
 * operation order of ref.h and takes the largest error), and is itself held to the worst-case
 * bound derived in oracle.c. Never auto-dispatched. */
#include <math.h>
#include <stdlib.h>

#include "../core/softmax.h"
#include "ref.h"

/* q . k over d elements (both f32: inputs are converted exactly first) in operation order `order` */
static float dot(const float *q, const float *k, int64_t d, int order) {
  float s = 0.0f;
  switch (order) {
    case SA_REF_REVERSE:
      for (int64_t x = d - 1; x >= 0; x--) s += q[x] * k[x];
      return s;
    case SA_REF_FMA:
    case SA_REF_LOG2:
      for (int64_t x = 0; x < d; x++) s = fmaf(q[x], k[x], s);
      return s;
    case SA_REF_LANES16:
    case SA_REF_LANES16_SUM: {
      float lane[16] = {0};
      for (int64_t x = 0; x < d; x++) lane[x % 16] = fmaf(q[x], k[x], lane[x % 16]);
      if (order == SA_REF_LANES16_SUM) { /* AVX-512's sa_vhsum: (e0 + e2) + (e1 + e3) per quarter, then
                                          * (q0 + q1) + (q2 + q3) */
        float qs[4];
        for (int L = 0; L < 4; L++) qs[L] = (lane[4 * L] + lane[4 * L + 2]) + (lane[4 * L + 1] + lane[4 * L + 3]);
        return (qs[0] + qs[1]) + (qs[2] + qs[3]);
      }
      for (int w = 8; w >= 1; w /= 2)
        for (int t = 0; t < w; t++) lane[t] += lane[t + w];
      return lane[0];
    }
    default:
      for (int64_t x = 0; x < d; x++) s += q[x] * k[x];
      return s;
  }
}

typedef struct {
  float *q;   /* [d] */
  float *s;   /* [seq_kv] scores, -inf where hidden */
  float *acc; /* [dv] */
  float *acc1; /* [dv] SA_REF_SETS2's second set */
  float *kv;  /* [max(d, dv)] one K or V row as f32 */
} ref_ws;

static size_t ref_workspace(const sa_job *j) {
  return sa_align_bytes(sizeof(float) * (size_t)j->d) +
         sa_align_bytes(sizeof(float) * (size_t)(j->seq_kv > 0 ? j->seq_kv : 1)) +
         2 * sa_align_bytes(sizeof(float) * (size_t)j->dv) + sa_align_bytes(sizeof(float) * (size_t)sa_max64(j->d, j->dv));
}

/* One row into out[dv] / *lse (either may be the row's own place in the problem). */
static void ref_row_to(const sa_job *j, int64_t b, int64_t hk, int64_t r, int order, const ref_ws *w, float *out,
                       float *lse) {
  sa_row row;
  sa_row_setup(j, b, hk, r, &row);
  row.out = out;
  row.lse = lse;
  const int reverse = order == SA_REF_REVERSE || order == SA_REF_LANES16;
  sa_row_to_f32(row.q, j->q_dtype, j->d, w->q);
  /* SA_REF_LOG2 on a plain job: scores kept as raw dot products, weighted in log2 units by c + c_lo */
  const int lg = order == SA_REF_LOG2 && !sa_job_natural(j);
  float c = j->scale, c_lo = 0.0f;
  if (lg) {
    const double cd = (double)j->scale * SA_LOG2E_D;
    c = (float)cd;
    c_lo = (float)(cd - (double)c);
  }

  float top = -INFINITY; /* max over visible scores; NaN not counted */
  for (int64_t key = 0; key < j->seq_kv; key++) {
    float s = -INFINITY;
    if (key >= row.lo && key < row.hi) {
      sa_kv_row_to_f32(sa_k_row(j, b, hk, key), j->k_dtype, j->d, sa_k_scale(j, hk), w->kv);
      s = dot(w->q, w->kv, j->d, order);
      if (!lg) s *= j->scale;
      if (j->softcap != 0.0f) s = j->softcap * sa_tanhf(s / j->softcap);
      if (j->alibi) s += row.slope * (float)(key - row.qpos);
      if (row.mask) s = row.mask[key] == -INFINITY ? -INFINITY : s + row.mask[key];
    }
    w->s[key] = s;
    if ((lg ? s * c : s) > top) top = lg ? s * c : s; /* log2 units: the largest rounded s c */
  }
  if (row.has_sink && row.sink > top) top = row.sink;
  const float shift = sa_m_use(top);

  float l = 0.0f, l_lane[16] = {0};
  const int lanes_sum = order == SA_REF_LANES16_SUM || order == SA_REF_LOG2; /* the weights' sum in 16 lanes */
  const int sets2 = order == SA_REF_SETS2;
  for (int64_t x = 0; x < j->dv; x++) w->acc[x] = w->acc1[x] = 0.0f;
  for (int64_t t = 0; t < j->seq_kv; t++) {
    const int64_t key = reverse ? j->seq_kv - 1 - t : t;
    if (sets2 && t > 0 && t % SA_REF_SETS2_TILE == 0) /* a tile's end: its second set onto the sum */
      for (int64_t x = 0; x < j->dv; x++) w->acc[x] += w->acc1[x], w->acc1[x] = 0.0f;
    if (w->s[key] == -INFINITY) continue;
    /* log2 units: one rounding of s (c + c_lo) - shift; for shifts of 2^26 and more s c rounded first (its
     * excess over the rounded shift could otherwise overflow 2^y: core/flash_driver.inc sa_exp_pass) */
    const float y = !lg                    ? w->s[key] - shift
                    : fabsf(shift) < 0x1p26f ? fmaf(w->s[key], c_lo, fmaf(w->s[key], c, -shift))
                                             : w->s[key] * c - shift;
    const float p = lg ? sa_exp2f(y) : sa_expf(y);
    if (lanes_sum) l_lane[key % 16] += p;
    else l += p;
    const float *vr = w->kv;
    float *const acc = sets2 && t % 2 ? w->acc1 : w->acc;
    sa_kv_row_to_f32(sa_v_row(j, b, hk, key), j->v_dtype, j->dv, sa_v_scale(j, hk), w->kv);
    if (p == 0.0f) /* an underflowed weight: inf in V still counts (core/softmax.h) */
      for (int64_t x = 0; x < j->dv; x++) acc[x] += sa_mul_weight(vr[x], 0.0f);
    else if (order == SA_REF_FMA || order == SA_REF_LOG2 || lanes_sum)
      for (int64_t x = 0; x < j->dv; x++) w->acc[x] = fmaf(p, vr[x], w->acc[x]);
    else
      for (int64_t x = 0; x < j->dv; x++) acc[x] += p * vr[x];
  }
  if (sets2)
    for (int64_t x = 0; x < j->dv; x++) w->acc[x] += w->acc1[x];
  if (lanes_sum) {
    for (int w2 = 8; w2 >= 1; w2 /= 2)
      for (int t = 0; t < w2; t++) l_lane[t] += l_lane[t + w2];
    l = l_lane[0];
  }
  if (row.has_sink) l += sa_expf(row.sink - shift);
  if (l == 0.0f) { /* no visible key (and no finite sink) */
    for (int64_t x = 0; x < j->dv; x++) row.out[x] = 0.0f;
    if (row.lse) *row.lse = row.has_sink ? row.sink : -INFINITY;
    return;
  }
  for (int64_t x = 0; x < j->dv; x++) row.out[x] = w->acc[x] / l;
  if (row.lse) *row.lse = (lg ? shift * SA_LN2 : shift) + sa_logf(l);
}

static ref_ws ref_ws_at(const sa_job *j, void *workspace) {
  char *ws = (char *)workspace;
  ref_ws w;
  w.q = (float *)ws;
  w.s = (float *)(ws + sa_align_bytes(sizeof(float) * (size_t)j->d));
  w.acc = (float *)((char *)w.s + sa_align_bytes(sizeof(float) * (size_t)(j->seq_kv > 0 ? j->seq_kv : 1)));
  w.acc1 = (float *)((char *)w.acc + sa_align_bytes(sizeof(float) * (size_t)j->dv));
  w.kv = (float *)((char *)w.acc1 + sa_align_bytes(sizeof(float) * (size_t)j->dv));
  return w;
}

static void ref_run(const sa_job *j, const sa_task *t, void *workspace) {
  const ref_ws w = ref_ws_at(j, workspace);
  for (int64_t r = t->r0; r < t->r1; r++) {
    sa_row row;
    sa_row_setup(j, t->b, t->hk, r, &row);
    ref_row_to(j, t->b, t->hk, r, j->ref_order, &w, row.out, row.lse);
  }
}

int sa_ref_rows(const sa_job *j, const int64_t *rows, int64_t n_rows, int order, float *out, float *lse) {
  void *ws = aligned_alloc(SA_ALIGN, sa_align_bytes(ref_workspace(j)));
  if (!ws) return -1;
  const ref_ws w = ref_ws_at(j, ws);
  for (int64_t t = 0; t < n_rows; t++) {
    const int64_t flat = rows ? rows[t] : t;
    const int64_t i = flat % j->seq_q, h = flat / j->seq_q % j->heads_q, b = flat / j->seq_q / j->heads_q;
    ref_row_to(j, b, h / j->group, i * j->group + h % j->group, order, &w, out + t * j->dv, lse ? lse + t : NULL);
  }
  free(ws);
  return 0;
}

/* ---- the naive backward (ref.h) ---- */
size_t sa_ref_bwd_ws_bytes(const sa_bwd_job *J) {
  return sizeof(float) * (size_t)(3 * J->f.d + 2 * J->f.dv + 1);
}

/* a += x y, fused or not */
static inline float ref_madd(float a, float x, float y, int fused) { return fused ? fmaf(x, y, a) : a + x * y; }

/* sa_ref_bwd_head's walk over chosen rows and keys: row_on[r] (r = i G + g; NULL: every row) writes
 * dq row r; key_on[key] (NULL: every key) writes the key's dk and dv rows, and keys[n_keys] lists
 * the chosen keys. A chosen row meets every key in order; another row only the chosen keys, in
 * list order: each sum is over one index in its own order either way, so the chosen elements get
 * the bits the whole walk gives them. */
static void ref_bwd_walk(const sa_bwd_job *J, int64_t b, int64_t hk, int order, const unsigned char *row_on,
                         const unsigned char *key_on, const int64_t *keys, int64_t n_keys, float *dq, int64_t dq_ld,
                         float *ws) {
  const sa_job *j = &J->f;
  const int64_t d = j->d, dv = j->dv, G = j->group;
  const int rev = order == SA_REF_REVERSE || order == SA_REF_LANES16;
  const int fused = order != SA_REF_FORWARD && order != SA_REF_REVERSE;
  const int dot_order = order == SA_REF_LOG2 ? SA_REF_FMA : order;
  float *q = ws, *g = q + d, *kr = g + dv, *vr = kr + d, *acc = vr + dv;
  for (int64_t key = 0; key < j->seq_kv; key++) {
    if (key_on && !key_on[key]) continue;
    float *dk = J->dk + b * J->dk_sb + hk * J->dk_sh + key * J->dk_ss;
    float *dvr = J->dv + b * J->dv_sb + hk * J->dv_sh + key * J->dv_ss;
    for (int64_t x = 0; x < d; x++) dk[x] = 0.0f;
    for (int64_t x = 0; x < dv; x++) dvr[x] = 0.0f;
  }
  for (int64_t t = 0; t < G * j->seq_q; t++) {
    const int64_t tt = rev ? G * j->seq_q - 1 - t : t, gg = tt / j->seq_q, i = tt % j->seq_q;
    const int64_t r = i * G + gg;
    const int whole = !row_on || row_on[r];
    if (!whole && !n_keys) continue;
    sa_row row;
    sa_row_setup(j, b, hk, r, &row);
    for (int64_t x = 0; x < d; x++) acc[x] = 0.0f;
    const float lse = *row.lse;
    if (lse != -INFINITY && row.lo < row.hi) {
      sa_row_to_f32(row.q, j->q_dtype, d, q);
      const float *gr = J->dout + b * J->do_sb + row.h * J->do_sh + row.i * J->do_ss;
      for (int64_t x = 0; x < dv; x++) g[x] = gr[x];
      const float D = dot(g, row.out, dv, dot_order);
      const int64_t n_walk = whole ? row.hi - row.lo : n_keys;
      for (int64_t n = 0; n < n_walk; n++) {
        const int64_t key = !whole ? keys[n] : rev ? row.hi - 1 - n : row.lo + n;
        if (key < row.lo || key >= row.hi || (row.mask && row.mask[key] == -INFINITY)) continue;
        sa_kv_row_to_f32(sa_k_row(j, b, hk, key), j->k_dtype, d, 1.0f, kr);
        sa_kv_row_to_f32(sa_v_row(j, b, hk, key), j->v_dtype, dv, 1.0f, vr);
        float s = dot(q, kr, d, dot_order) * j->scale, tc = 0.0f;
        if (j->softcap != 0.0f) {
          tc = sa_tanhf(s / j->softcap);
          s = j->softcap * tc;
        }
        if (j->alibi) s += row.slope * (float)(key - row.qpos);
        if (row.mask) s += row.mask[key];
        const float p = sa_expf(s - lse);
        float ds = p * (dot(g, vr, dv, dot_order) - D);
        if (j->softcap != 0.0f) ds *= fused ? fmaf(-tc, tc, 1.0f) : 1.0f - tc * tc;
        ds *= j->scale;
        if (whole)
          for (int64_t x = 0; x < d; x++) acc[x] = ref_madd(acc[x], ds, kr[x], fused);
        if (key_on && !key_on[key]) continue;
        float *dk = J->dk + b * J->dk_sb + hk * J->dk_sh + key * J->dk_ss;
        float *dvr = J->dv + b * J->dv_sb + hk * J->dv_sh + key * J->dv_ss;
        for (int64_t x = 0; x < d; x++) dk[x] = ref_madd(dk[x], ds, q[x], fused);
        for (int64_t x = 0; x < dv; x++) dvr[x] = ref_madd(dvr[x], p, g[x], fused);
      }
    }
    if (whole)
      for (int64_t x = 0; x < d; x++) dq[r * dq_ld + x] = acc[x];
  }
}

void sa_ref_bwd_head(const sa_bwd_job *J, int64_t b, int64_t hk, int order, float *dq, int64_t dq_ld, float *ws) {
  ref_bwd_walk(J, b, hk, order, NULL, NULL, NULL, 0, dq, dq_ld, ws);
}

int sa_ref_bwd_spots(const sa_bwd_job *J, int order, const int64_t *rows, int64_t n_rows, const int64_t *keys,
                     int64_t n_keys, float *dq, float *dk, float *dv) {
  const sa_job *j = &J->f;
  const int64_t d = j->d, dvn = j->dv, G = j->group, R = G * j->seq_q;
  unsigned char *row_on = calloc((size_t)R + 1, 1), *key_on = calloc((size_t)j->seq_kv + 1, 1);
  int64_t *klist = malloc(sizeof(int64_t) * (size_t)(n_keys + 1));
  float *dq_all = malloc(sizeof(float) * (size_t)(R * d + 1));
  float *ws = malloc(sa_ref_bwd_ws_bytes(J));
  int rc = -1;
  if (!row_on || !key_on || !klist || !dq_all || !ws) goto done;
  for (int64_t b = 0; b < j->batch; b++)
    for (int64_t hk = 0; hk < j->heads_kv; hk++) {
      int64_t nk = 0, nr = 0;
      const int64_t kbase = (b * j->heads_kv + hk) * j->seq_kv;
      for (int64_t t = 0; t < n_keys; t++)
        if (keys[t] >= kbase && keys[t] < kbase + j->seq_kv && !key_on[keys[t] - kbase])
          key_on[klist[nk++] = keys[t] - kbase] = 1;
      for (int64_t t = 0; t < n_rows; t++) {
        const int64_t i = rows[t] % j->seq_q, h = rows[t] / j->seq_q % j->heads_q, bb = rows[t] / j->seq_q / j->heads_q;
        if (bb == b && h / G == hk) row_on[i * G + h % G] = 1, nr++;
      }
      if (nk || nr) ref_bwd_walk(J, b, hk, order, row_on, key_on, klist, nk, dq_all, d, ws);
      for (int64_t t = 0; t < n_rows; t++) {
        const int64_t i = rows[t] % j->seq_q, h = rows[t] / j->seq_q % j->heads_q, bb = rows[t] / j->seq_q / j->heads_q;
        if (bb == b && h / G == hk)
          for (int64_t x = 0; x < d; x++) dq[t * d + x] = dq_all[(i * G + h % G) * d + x];
      }
      for (int64_t t = 0; t < n_keys; t++)
        if (keys[t] >= kbase && keys[t] < kbase + j->seq_kv) {
          const int64_t key = keys[t] - kbase;
          for (int64_t x = 0; x < d; x++) dk[t * d + x] = J->dk[b * J->dk_sb + hk * J->dk_sh + key * J->dk_ss + x];
          for (int64_t x = 0; x < dvn; x++) dv[t * dvn + x] = J->dv[b * J->dv_sb + hk * J->dv_sh + key * J->dv_ss + x];
        }
      for (int64_t t = 0; t < nk; t++) key_on[klist[t]] = 0;
      for (int64_t r = 0; r < R; r++) row_on[r] = 0;
    }
  rc = 0;
done:
  free(row_on);
  free(key_on);
  free(klist);
  free(dq_all);
  free(ws);
  return rc;
}

static size_t ref_bwd_workspace(const sa_bwd_job *J) { return sa_ref_bwd_ws_bytes(J); }
static void ref_bwd_run(const sa_bwd_job *J, int64_t b, int64_t hk, int64_t part, void *workspace) {
  (void)part; /* one partition: every key */
  sa_ref_bwd_head(J, b, hk, J->ref_order, sa_bwd_dq_part(J, b, hk, 0), J->dpad, (float *)workspace);
}

/* One task per 16 packed rows; never splits keys (a row is computed whole, no tiles). */
const sa_kernel sa_kernel_ref = {
    .run = ref_run,
    .workspace = ref_workspace,
    .bwd_run = ref_bwd_run,
    .bwd_workspace = ref_bwd_workspace,
    .bwd_block_kv = 0,
    .bwd_vl = 1,
    .tiles = {.block_q = 16, .block_kv = 0, .chunk_kv = 0, .mr = 1, .nr = 1, .vl = 1, .direct_rows = 0},
};
