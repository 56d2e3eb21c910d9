/* harness/bwd.c: attn-check's backward cases (see bwd.h). */
#include "bwd.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"

/* ---- the grid ---- */
static void add(case_spec **v, int *n, case_spec s) {
  *v = realloc(*v, sizeof **v * (size_t)(*n + 1));
  if (!*v) abort();
  (*v)[(*n)++] = s;
}

int bwd_grid(int quick, case_spec **out) {
  case_spec *v = NULL;
  int n = 0;
  case_spec s;
  /* shapes around the tiles: key blocks of 64, row tiles of 32 (scalar), 48 (AVX-512), 96 (AVX2) */
  const int64_t qs[] = {1, 5, 47, 49, 97}, ks[] = {1, 63, 65, 130};
  for (size_t a = 0; a < sizeof qs / sizeof *qs; a++)
    for (size_t b = 0; b < sizeof ks / sizeof *ks; b++) {
      if (quick && (a + b) % 2) continue;
      s = case_default("bwd", qs[a], ks[b]);
      s.causal = (a + b) % 3 == 0 ? SIMDATTN_CAUSAL_NONE : (a + b) % 3 == 1 ? SIMDATTN_CAUSAL_BOTTOM_RIGHT
                                                                           : SIMDATTN_CAUSAL_TOP_LEFT;
      add(&v, &n, s);
    }
  /* head dims: tails of every vector length, head_dim_v apart */
  const int64_t ds[][2] = {{1, 1}, {17, 17}, {48, 80}, {128, 128}, {130, 33}};
  for (size_t a = 0; a < sizeof ds / sizeof *ds; a++) {
    s = case_default("bwd", 33, 70);
    s.d = ds[a][0], s.dv = ds[a][1];
    s.causal = a % 2 ? SIMDATTN_CAUSAL_BOTTOM_RIGHT : SIMDATTN_CAUSAL_NONE;
    add(&v, &n, s);
  }
  /* every feature */
  s = case_default("bwd", 70, 90), s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT, s.window = 17, add(&v, &n, s);
  s = case_default("bwd", 70, 90), s.causal = SIMDATTN_CAUSAL_TOP_LEFT, s.window = 30, add(&v, &n, s);
  s = case_default("bwd", 40, 66), s.softcap = 5.0f, s.dist = DIST_SOFTCAP, add(&v, &n, s);
  s = case_default("bwd", 40, 66), s.softcap = 5.0f, s.dist = DIST_SOFTCAP, s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT,
  add(&v, &n, s);
  s = case_default("bwd", 40, 66), s.alibi = 1, s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT, add(&v, &n, s);
  s = case_default("bwd", 40, 66), s.sinks = 1, add(&v, &n, s);
  s = case_default("bwd", 40, 66), s.sinks = 1, s.causal = SIMDATTN_CAUSAL_TOP_LEFT, s.alibi = 1, add(&v, &n, s);
  s = case_default("bwd", 40, 66), s.mask = MASK_FULL, add(&v, &n, s);
  s = case_default("bwd", 40, 66), s.mask = MASK_BCAST, s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT, add(&v, &n, s);
  s = case_default("bwd", 40, 66), s.mask = MASK_ROWS, add(&v, &n, s); /* rows that see no key: zero gradients */
  /* rows that see no key (bottom-right alignment with more queries than keys) */
  s = case_default("bwd", 90, 20), s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT, add(&v, &n, s);
  s = case_default("bwd", 90, 20), s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT, s.sinks = 1, add(&v, &n, s);
  /* GQA, MQA, batches, layouts */
  s = case_default("bwd", 50, 77), s.heads_q = 8, s.heads_kv = 2, s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT,
  add(&v, &n, s);
  s = case_default("bwd", 30, 140), s.heads_q = 4, s.heads_kv = 1, add(&v, &n, s);
  s = case_default("bwd", 26, 53), s.batch = 2, s.heads_q = 4, s.heads_kv = 2, s.layout = LAYOUT_BSHD, add(&v, &n, s);
  s = case_default("bwd", 26, 53), s.layout = LAYOUT_BHSD_PAD, s.causal = SIMDATTN_CAUSAL_TOP_LEFT, add(&v, &n, s);
  s = case_default("bwd", 26, 53), s.layout = LAYOUT_BSHD_PAD, s.heads_q = 6, s.heads_kv = 3, add(&v, &n, s);
  /* many key blocks: several key partitions summed into dq */
  s = case_default("bwd", 200, 700), s.heads_q = s.heads_kv = 1, s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT,
  add(&v, &n, s);
  s = case_default("bwd", 129, 400), s.heads_q = 4, s.heads_kv = 2, add(&v, &n, s);
  /* value distributions */
  s = case_default("bwd", 40, 66), s.dist = DIST_LARGE, add(&v, &n, s);
  s = case_default("bwd", 40, 66), s.dist = DIST_DOMINANT, s.causal = SIMDATTN_CAUSAL_TOP_LEFT, add(&v, &n, s);
  s = case_default("bwd", 40, 66), s.dist = DIST_TINY, add(&v, &n, s);
  /* empty extents */
  s = case_default("bwd", 0, 40), add(&v, &n, s);
  s = case_default("bwd", 12, 0), add(&v, &n, s);
  /* f16 and bf16 inputs */
  const simdattn_dtype dts[] = {SIMDATTN_F16, SIMDATTN_BF16};
  for (int t = 0; t < 2; t++) {
    s = case_default("bwd", 49, 65), s.qt = s.kvt = dts[t], add(&v, &n, s);
    s = case_default("bwd", 49, 65), s.qt = s.kvt = dts[t], s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT, s.heads_q = 4,
    s.heads_kv = 1, s.softcap = 5.0f, s.dist = DIST_SOFTCAP, add(&v, &n, s);
    s = case_default("bwd", 33, 100), s.qt = s.kvt = dts[t], s.d = s.dv = 128, s.sinks = 1, s.alibi = 1,
    s.causal = SIMDATTN_CAUSAL_TOP_LEFT, add(&v, &n, s);
  }
  s = case_default("bwd", 49, 65), s.qt = SIMDATTN_F32, s.kvt = SIMDATTN_F16, add(&v, &n, s);
  if (quick) { /* the CI-sized grid (emulated and under valgrind too): every other f32 case, every f16/bf16 one */
    int m = 0;
    for (int t = 0; t < n; t++)
      if (t % 2 == 0 || v[t].qt != SIMDATTN_F32 || v[t].kvt != SIMDATTN_F32) v[m++] = v[t];
    n = m;
  }
  *out = v;
  return n;
}

int bwd_quiet;

/* ---- one case ---- */
typedef struct {
  float *buf;
  size_t len, at; /* floats in buf (guards included), where the tensor starts */
} guarded;

#define BWD_GUARD 64
static const uint32_t bwd_sentinel = 0x7fc0beefu; /* a NaN no computation produces */

static int guarded_alloc(guarded *g, size_t n) {
  g->at = BWD_GUARD;
  g->len = n + 2 * BWD_GUARD;
  g->buf = malloc(sizeof(float) * g->len);
  return g->buf ? 0 : -1;
}
static void guarded_reset(guarded *g) {
  for (size_t t = 0; t < g->len; t++) memcpy(&g->buf[t], &bwd_sentinel, 4);
}
/* the guards untouched, and every element of the tensor written (no sentinel left in [at, at + n)) */
static int guarded_ok(const guarded *g, size_t n) {
  for (size_t t = 0; t < g->len; t++) {
    uint32_t u;
    memcpy(&u, &g->buf[t], 4);
    const int inside = t >= g->at && t < g->at + n;
    if ((u == bwd_sentinel) == inside) return 0;
  }
  return 1;
}

typedef struct {
  case_data cd;
  float *dout;
  guarded dq, dk, dv, ds;
  size_t n_dq, n_dk, n_dv, n_ds;
  simdattn_grad g;
} bwd_case;

static int bwd_case_build(const case_spec *s, uint64_t seed, bwd_case *c) {
  memset(c, 0, sizeof *c);
  if (case_build(s, seed, &c->cd)) return -1;
  const int64_t b = s->batch, hq = s->heads_q, hk = s->heads_kv;
  const int bshd = s->layout == LAYOUT_BSHD || s->layout == LAYOUT_BSHD_PAD;
  c->n_dq = (size_t)(b * hq * s->seq_q * s->d);
  c->n_dk = (size_t)(b * hk * s->seq_kv * s->d);
  c->n_dv = (size_t)(b * hk * s->seq_kv * s->dv);
  c->n_ds = s->sinks ? (size_t)hq : 0;
  const size_t n_do = (size_t)(b * hq * s->seq_q * s->dv);
  c->dout = malloc(sizeof(float) * (n_do + 1));
  if (!c->dout || guarded_alloc(&c->dq, c->n_dq) || guarded_alloc(&c->dk, c->n_dk) ||
      guarded_alloc(&c->dv, c->n_dv) || guarded_alloc(&c->ds, c->n_ds))
    return -1;
  char key[200];
  snprintf(key, sizeof key, "dout:%s", c->cd.name);
  case_fill_normal(seed, key, c->dout, n_do);
  simdattn_grad *g = &c->g;
  g->struct_size = SIMDATTN_GRAD_SIZE;
  /* dout and the gradients [b][h][s][row] (BHSD) or [b][s][h][row] (BSHD layouts) */
#define BWD_STRIDES(pre, H, S, R)                                           \
  g->pre##_stride_batch = (H) * (S) * (R);                                  \
  g->pre##_stride_head = bshd ? (R) : (S) * (R);                            \
  g->pre##_stride_seq = bshd ? (H) * (R) : (R);
  BWD_STRIDES(dout, hq, s->seq_q, s->dv)
  BWD_STRIDES(dq, hq, s->seq_q, s->d)
  BWD_STRIDES(dk, hk, s->seq_kv, s->d)
  BWD_STRIDES(dv, hk, s->seq_kv, s->dv)
#undef BWD_STRIDES
  g->dout = c->dout;
  g->dq = c->dq.buf + c->dq.at;
  g->dk = c->dk.buf + c->dk.at;
  g->dv = c->dv.buf + c->dv.at;
  g->d_sinks = s->sinks ? c->ds.buf + c->ds.at : NULL;
  /* the forward's out and lse: the `ref` variant's */
  const simdattn_options ref = {1, "ref", NULL, NULL, 0};
  return simdattn_forward(&c->cd.p, &ref) == SIMDATTN_OK ? 0 : -1;
}

static void bwd_case_free(bwd_case *c) {
  free(c->dout);
  free(c->dq.buf);
  free(c->dk.buf);
  free(c->dv.buf);
  free(c->ds.buf);
  case_free(&c->cd);
}

static void bwd_reset(bwd_case *c) {
  guarded_reset(&c->dq);
  guarded_reset(&c->dk);
  guarded_reset(&c->dv);
  guarded_reset(&c->ds);
}

/* gradient element t of tensor k (0 dq, 1 dk, 2 dv, 3 d_sinks) in the oracle's contiguous order */
static float bwd_get(const bwd_case *c, int k, size_t t) {
  const case_spec *s = &c->cd.spec;
  const simdattn_grad *g = &c->g;
  if (k == 3) return g->d_sinks[t];
  const int64_t R = k == 2 ? s->dv : s->d, S = k == 0 ? s->seq_q : s->seq_kv, H = k == 0 ? s->heads_q : s->heads_kv;
  const int64_t x = (int64_t)t % R, i = (int64_t)t / R % S, h = (int64_t)t / R / S % H, b = (int64_t)t / R / S / H;
  const float *base = k == 0 ? g->dq : k == 1 ? g->dk : g->dv;
  const int64_t *st = k == 0 ? &g->dq_stride_batch : k == 1 ? &g->dk_stride_batch : &g->dv_stride_batch;
  return base[b * st[0] + h * st[1] + i * st[2] + x];
}

static const char *const bwd_tname[4] = {"dq", "dk", "dv", "dsinks"};

/* errors of the case's current gradients against the oracle, per tensor */
static void bwd_errors(const bwd_case *c, double *const oracle[4], const size_t n[4], double err[4]) {
  for (int k = 0; k < 4; k++) {
    err[k] = 0.0;
    for (size_t t = 0; t < n[k]; t++) {
      const double got = (double)bwd_get(c, k, t), want = oracle[k][t];
      const double e = isfinite(got) ? fabs(got - want) : INFINITY;
      if (!(e <= err[k])) err[k] = e;
    }
  }
}

static int bwd_same(const bwd_case *c, const float *keep) {
  size_t o = 0;
  const guarded *gs[4] = {&c->dq, &c->dk, &c->dv, &c->ds};
  for (int k = 0; k < 4; k++) {
    if (memcmp(keep + o, gs[k]->buf, sizeof(float) * gs[k]->len)) return 0;
    o += gs[k]->len;
  }
  return 1;
}
static void bwd_keep(const bwd_case *c, float *keep) {
  size_t o = 0;
  const guarded *gs[4] = {&c->dq, &c->dk, &c->dv, &c->ds};
  for (int k = 0; k < 4; k++) {
    memcpy(keep + o, gs[k]->buf, sizeof(float) * gs[k]->len);
    o += gs[k]->len;
  }
}

void bwd_run_case(const case_spec *spec, const sa_variant *const *vars, int n_vars, uint64_t seed, const char *filter,
                  long *passed, long *failed) {
  char name[200], base[160];
  case_name(spec, base, sizeof base);
  snprintf(name, sizeof name, "%s", base); /* the group is "bwd": names start with bwd/ */
  if (filter && !strstr(name, filter)) return;
  int any = 0;
  for (int t = 0; t < n_vars; t++)
    any |= vars[t]->kernel->bwd_run && sa_variant_accepts_dtypes(vars[t], spec->qt, spec->kvt, spec->kvt);
  if (!any) return;
  bwd_case c;
  double *oracle[4] = {NULL, NULL, NULL, NULL};
  float *keep = NULL;
  if (bwd_case_build(spec, seed, &c)) {
    printf("FAIL %-28s %s  cannot build the case: %s\n", "-", name, simdattn_last_error());
    (*failed)++;
    bwd_case_free(&c);
    return;
  }
  const size_t n[4] = {c.n_dq, c.n_dk, c.n_dv, c.n_ds};
  for (int k = 0; k < 4; k++) oracle[k] = malloc(sizeof(double) * (n[k] + 1));
  keep = malloc(sizeof(float) * (c.dq.len + c.dk.len + c.dv.len + c.ds.len));
  sa_bwd_job J;
  if (!oracle[0] || !oracle[1] || !oracle[2] || !oracle[3] || !keep ||
      sa_validate_backward(&c.cd.p, &c.g, 1, NULL, 0, &J) != SIMDATTN_OK ||
      sa_oracle_bwd(&J, oracle[0], oracle[1], oracle[2], spec->sinks ? oracle[3] : NULL)) {
    printf("FAIL %-28s %s  cannot build the oracle: %s\n", "-", name, simdattn_last_error());
    (*failed)++;
    goto done;
  }
  /* err(ref): the naive backward's largest error over its orders, per tensor */
  double ref_err[4] = {0, 0, 0, 0}, max_o[4] = {0, 0, 0, 0}, budget[4];
  for (int k = 0; k < 4; k++)
    for (size_t t = 0; t < n[k]; t++)
      if (fabs(oracle[k][t]) > max_o[k]) max_o[k] = fabs(oracle[k][t]);
  const simdattn_options ref_opt = {1, "ref", NULL, NULL, 0};
  for (int order = 0; order < SA_REF_N_BWD_ORDERS; order++) {
    bwd_reset(&c);
    if (sa_backward_ordered(&c.cd.p, &c.g, &ref_opt, order) != SIMDATTN_OK) {
      printf("FAIL %-28s %s  the naive backward (order %d): %s\n", "ref(orders)", name, order, simdattn_last_error());
      (*failed)++;
      goto done;
    }
    double e[4];
    bwd_errors(&c, oracle, n, e);
    for (int k = 0; k < 4; k++)
      if (!(e[k] <= ref_err[k])) ref_err[k] = e[k];
  }
  for (int k = 0; k < 4; k++) budget[k] = 2.0 * ref_err[k] + 2.0 * FLT_EPSILON * max_o[k];

  for (int t = 0; t < n_vars; t++) {
    const sa_variant *v = vars[t];
    if (!v->kernel->bwd_run || !sa_variant_accepts_dtypes(v, spec->qt, spec->kvt, spec->kvt)) continue;
    if (!sa_variant_available(v)) continue; /* attn-check's SKIP line names it */
    char why[200] = "";
    const simdattn_options opt = {0, v->name, NULL, NULL, 0};
    bwd_reset(&c);
    simdattn_status st = simdattn_backward(&c.cd.p, &c.g, &opt);
    double e[4] = {0, 0, 0, 0}, ratio = 0.0;
    int ok = st == SIMDATTN_OK;
    if (!ok) snprintf(why, sizeof why, "  status %d: %s", (int)st, simdattn_last_error());
    if (ok && (!guarded_ok(&c.dq, c.n_dq) || !guarded_ok(&c.dk, c.n_dk) || !guarded_ok(&c.dv, c.n_dv) ||
               !guarded_ok(&c.ds, c.n_ds)))
      ok = 0, snprintf(why, sizeof why, "  wrote outside its gradients, or left an element unwritten");
    if (ok) {
      bwd_errors(&c, oracle, n, e);
      for (int k = 0; k < 4; k++) {
        const double r = e[k] == 0.0 ? 0.0 : e[k] / budget[k];
        if (!(r <= ratio)) ratio = r;
        if (!(r <= 1.0) && !why[0])
          ok = 0, snprintf(why, sizeof why, "  %s over its budget (%.3g > %.3g)", bwd_tname[k], e[k], budget[k]);
      }
    }
    if (ok) { /* the same bits at 1 thread and through the plan API */
      bwd_keep(&c, keep);
      const simdattn_options one = {1, v->name, NULL, NULL, 0};
      bwd_reset(&c);
      if (simdattn_backward(&c.cd.p, &c.g, &one) != SIMDATTN_OK || !bwd_same(&c, keep))
        ok = 0, snprintf(why, sizeof why, "  1 thread's bits differ from every thread's");
    }
    if (ok) {
      simdattn_plan *plan = NULL;
      if (simdattn_plan_create_backward(&c.cd.p, &opt, &plan) != SIMDATTN_OK) {
        ok = 0, snprintf(why, sizeof why, "  simdattn_plan_create_backward: %s", simdattn_last_error());
      } else {
        const size_t bytes = simdattn_plan_workspace_size(plan);
        void *ws = bytes ? aligned_alloc(SIMDATTN_WORKSPACE_ALIGN, (bytes + 63) / 64 * 64) : NULL;
        bwd_reset(&c);
        if (simdattn_plan_execute_backward(plan, &c.cd.p, &c.g, ws, bytes) != SIMDATTN_OK)
          ok = 0, snprintf(why, sizeof why, "  simdattn_plan_execute_backward: %s", simdattn_last_error());
        else if (!bwd_same(&c, keep))
          ok = 0, snprintf(why, sizeof why, "  the plan API's bits differ from simdattn_backward's");
        free(ws);
        simdattn_plan_destroy(plan);
      }
    }
    if (!ok || !bwd_quiet) {
      printf("%s %-28s %s  dq_err %.3g budget %.3g dk_err %.3g budget %.3g dv_err %.3g budget %.3g",
             ok ? "PASS" : "FAIL", v->name, name, e[0], budget[0], e[1], budget[1], e[2], budget[2]);
      if (spec->sinks) printf(" dsinks_err %.3g budget %.3g", e[3], budget[3]);
      printf(" ratio %.3f%s\n", ratio, why);
    }
    if (ok) (*passed)++;
    else (*failed)++;
  }
done:
  for (int k = 0; k < 4; k++) free(oracle[k]);
  free(keep);
  bwd_case_free(&c);
}
