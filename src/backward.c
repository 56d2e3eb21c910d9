/* src/backward.c: the backward pass's API — simdattn_backward and its plan — and the phases
 * around a variant's kernel (core/kernel.h, sa_bwd_job):
 *   1. per (batch, query head, 128 rows): D = rowsum(dout o out) of its rows (x = 0..dv-1, the kernel's
 *      multiply-add: sa_kernel.bwd_rowdot), and with
 *      sinks each row's share of d_sinks, -exp(sink - lse) D;
 *   2. the variant's tasks (b, hk, part), each owning its keys' dk, dv and its dQ partial;
 *   3. per (batch, query head, 128 rows): dq = its partials summed in the order part = 0, 1, ...; then
 *      d_sinks[h] = its rows' shares summed over batches and rows in order.
 * The number of key partitions is a function of the shape only (sa_bwd_plan), so the bits are the
 * same for every thread count and with a caller's pool. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/softmax.h"
#include "fpenv.h"
#include "internal.h"

#define SA_BWD_TASKS 32  /* phase 2 aims at this many tasks (b, hk, part) */
#define SA_BWD_ROW_CHUNK 128 /* query rows per phase 1 and phase 3 task (any split gives the same bits) */
#define SA_BWD_PARTS_MAX 16

/* The grid from the shape and the kernel only */
static void sa_bwd_plan(sa_bwd_job *J, const sa_kernel *k) {
  const sa_job *j = &J->f;
  J->block_kv = k->bwd_block_kv > 0 ? k->bwd_block_kv : sa_max64(1, j->seq_kv);
  J->n_kv_blocks = (j->seq_kv + J->block_kv - 1) / J->block_kv;
  const int64_t heads = sa_max64(1, j->batch * j->heads_kv);
  int64_t parts = (SA_BWD_TASKS + heads - 1) / heads;
  parts = sa_min64(parts, sa_min64(SA_BWD_PARTS_MAX, sa_max64(1, J->n_kv_blocks)));
  J->n_parts = k->bwd_block_kv > 0 ? sa_max64(1, parts) : 1;
  J->dpad = sa_round_up(j->d, k->bwd_vl > 0 ? k->bwd_vl : 1);
}

typedef struct {
  size_t D, Ds, dq_part, worker, total;
  int workers;
} sa_bwd_layout;

static sa_bwd_layout sa_bwd_layout_of(const sa_bwd_job *J, const sa_kernel *k, const simdattn_options *opt) {
  const sa_job *j = &J->f;
  sa_bwd_layout L;
  const size_t rows = (size_t)(j->batch * j->heads_q * j->seq_q);
  L.D = sa_align_bytes(sizeof(float) * rows);
  L.Ds = j->sinks ? L.D : 0;
  L.dq_part = sa_align_bytes(sizeof(float) * (size_t)(j->batch * j->heads_kv * J->n_parts * j->rows * J->dpad));
  L.worker = sa_align_bytes(k->bwd_workspace(J));
  L.workers = sa_parallel_workers(opt, sa_max64(1, j->batch * j->heads_kv * J->n_parts));
  L.total = L.D + L.Ds + L.dq_part + L.worker * (size_t)L.workers;
  return L;
}

typedef struct {
  const sa_bwd_job *J;
  const sa_kernel *k;
  char *ws;
  size_t worker_bytes;
} sa_bwd_ctx;

/* task `index` of phases 1 and 3: (b, h) and its rows [*i0, *i1) */
static void sa_bwd_rows_of(const sa_job *j, int64_t index, int64_t *b, int64_t *h, int64_t *i0, int64_t *i1) {
  const int64_t chunks = (j->seq_q + SA_BWD_ROW_CHUNK - 1) / SA_BWD_ROW_CHUNK, bh = index / chunks;
  *b = bh / j->heads_q, *h = bh % j->heads_q;
  *i0 = index % chunks * SA_BWD_ROW_CHUNK;
  *i1 = sa_min64(j->seq_q, *i0 + SA_BWD_ROW_CHUNK);
}
static int64_t sa_bwd_row_tasks(const sa_job *j) {
  return j->batch * j->heads_q * ((j->seq_q + SA_BWD_ROW_CHUNK - 1) / SA_BWD_ROW_CHUNK);
}

static void sa_bwd_phase1(void *ctx, int64_t index, int worker) {
  (void)worker;
  const sa_bwd_job *J = ((const sa_bwd_ctx *)ctx)->J;
  float (*rowdot)(const float *, const float *, int64_t) = ((const sa_bwd_ctx *)ctx)->k->bwd_rowdot;
  const sa_job *j = &J->f;
  int64_t b, h, i0, i1;
  sa_bwd_rows_of(j, index, &b, &h, &i0, &i1);
  for (int64_t i = i0; i < i1; i++) {
    const float *o = j->out + b * j->o_sb + h * j->o_sh + i * j->o_ss;
    const float *g = J->dout + b * J->do_sb + h * J->do_sh + i * J->do_ss;
    float D = 0.0f;
    if (rowdot) D = rowdot(g, o, j->dv);
    else
      for (int64_t x = 0; x < j->dv; x++) D = fmaf(g[x], o[x], D);
    const int64_t flat = (b * j->heads_q + h) * j->seq_q + i;
    J->D[flat] = D;
    if (J->Ds) {
      const float lse = j->lse[flat];
      J->Ds[flat] = lse == -INFINITY ? 0.0f : -sa_expf(j->sinks[h] - lse) * D;
    }
  }
}

static void sa_bwd_phase2(void *ctx, int64_t index, int worker) {
  const sa_bwd_ctx *c = (const sa_bwd_ctx *)ctx;
  const sa_bwd_job *J = c->J;
  const int64_t heads = J->f.batch * J->f.heads_kv, part = index / heads, bh = index % heads;
  c->k->bwd_run(J, bh / J->f.heads_kv, bh % J->f.heads_kv, part, c->ws + (size_t)worker * c->worker_bytes);
}

static void sa_bwd_phase3(void *ctx, int64_t index, int worker) {
  (void)worker;
  const sa_bwd_job *J = ((const sa_bwd_ctx *)ctx)->J;
  const sa_job *j = &J->f;
  int64_t b, h, i0, i1;
  sa_bwd_rows_of(j, index, &b, &h, &i0, &i1);
  const int64_t hk = h / j->group, g = h % j->group;
  for (int64_t i = i0; i < i1; i++) {
    float *dq = J->dq + b * J->dq_sb + h * J->dq_sh + i * J->dq_ss;
    const int64_t r = i * j->group + g;
    const float *p0 = sa_bwd_dq_part(J, b, hk, 0) + r * J->dpad;
    for (int64_t x = 0; x < j->d; x++) dq[x] = p0[x];
    for (int64_t part = 1; part < J->n_parts; part++) {
      const float *pp = sa_bwd_dq_part(J, b, hk, part) + r * J->dpad;
      for (int64_t x = 0; x < j->d; x++) dq[x] += pp[x];
    }
  }
}

/* The phases on workspace ws (sa_bwd_layout_of's bytes) */
static void sa_bwd_run_phases(sa_bwd_job *J, const sa_kernel *k, const simdattn_options *opt, const sa_bwd_layout *L,
                              char *ws) {
  const sa_job *j = &J->f;
  J->D = (float *)ws;
  J->Ds = L->Ds ? (float *)(ws + L->D) : NULL;
  J->dq_part = (float *)(ws + L->D + L->Ds);
  sa_bwd_ctx c = {J, k, ws + L->D + L->Ds + L->dq_part, L->worker};
  const int64_t row_tasks = sa_bwd_row_tasks(j), tasks = j->batch * j->heads_kv * J->n_parts;
  sa_parallel_run(opt, row_tasks, sa_parallel_workers(opt, row_tasks), sa_bwd_phase1, &c);
  sa_parallel_run(opt, tasks, L->workers, sa_bwd_phase2, &c);
  sa_parallel_run(opt, row_tasks, sa_parallel_workers(opt, row_tasks), sa_bwd_phase3, &c);
  if (J->d_sinks)
    for (int64_t h = 0; h < j->heads_q; h++) {
      float s = 0.0f;
      for (int64_t b = 0; b < j->batch; b++)
        for (int64_t i = 0; i < j->seq_q; i++) s += J->Ds[(b * j->heads_q + h) * j->seq_q + i];
      J->d_sinks[h] = s;
    }
}

/* The variant: named (options.variant, SIMDATTN_VARIANT) or the best with a backward pass */
static simdattn_status sa_bwd_variant(const sa_bwd_job *J, const simdattn_options *opt, const sa_variant **out) {
  const char *name = opt ? opt->variant : NULL;
  if (!name) {
    const char *env = getenv("SIMDATTN_VARIANT");
    if (env && *env) name = env;
  }
  if (name) {
    const simdattn_status st = sa_choose_variant(&J->f, opt, out);
    if (st != SIMDATTN_OK) return st;
    if (!(*out)->kernel->bwd_run)
      return sa_fail(SIMDATTN_ERR_UNSUPPORTED, "variant '%s' has no backward pass", (*out)->name);
    return SIMDATTN_OK;
  }
  for (int t = 0; t < sa_variant_total(); t++) {
    const sa_variant *v = sa_variant_at(t);
    if (!(v->flags & SA_VARIANT_NO_AUTO) && v->kernel->bwd_run && sa_variant_available(v) &&
        sa_variant_accepts(v, &J->f)) {
      *out = v;
      return SIMDATTN_OK;
    }
  }
  return sa_fail(SIMDATTN_ERR_UNSUPPORTED, "no variant with a backward pass accepts this problem on this CPU");
}

static simdattn_status sa_bwd_options(const simdattn_problem *p, const simdattn_options *in, simdattn_options *o) {
  sa_import_options(p, in, o);
  if (o->n_threads < 0)
    return sa_fail(SIMDATTN_ERR_INVALID, "options.n_threads must be >= 0 (0 = all), got %d", o->n_threads);
  if (o->flags & ~SIMDATTN_CHUNK_INVARIANT)
    return sa_fail(SIMDATTN_ERR_INVALID, "options.flags has bits this library does not know: 0x%x (known: 0x%x)",
                   o->flags & ~SIMDATTN_CHUNK_INVARIANT, SIMDATTN_CHUNK_INVARIANT);
  return SIMDATTN_OK;
}

/* the harness's naive orders run as the `ref` variant's backward with J->ref_order set */
simdattn_status sa_backward_ordered(const simdattn_problem *caller, const simdattn_grad *g,
                                    const simdattn_options *caller_opt, int ref_order) {
  sa_fpenv env;
  sa_fpenv_enter(&env);
  simdattn_problem buf;
  const simdattn_problem *p;
  simdattn_options o;
  sa_bwd_job J;
  const sa_variant *v;
  simdattn_status st = sa_import_problem(caller, &buf, &p);
  if (st == SIMDATTN_OK) st = sa_bwd_options(p, caller_opt, &o);
  if (st == SIMDATTN_OK) st = sa_validate_backward(p, g, 1, NULL, 0, &J);
  if (st == SIMDATTN_OK) st = sa_bwd_variant(&J, &o, &v);
  if (st == SIMDATTN_OK) {
    J.ref_order = ref_order;
    sa_bwd_plan(&J, v->kernel);
    const sa_bwd_layout L = sa_bwd_layout_of(&J, v->kernel, &o);
    char *mem = L.total ? sa_ws_take(L.total) : NULL;
    if (L.total && !mem)
      st = sa_fail(SIMDATTN_ERR_NOMEM, "cannot allocate %zu bytes of workspace (dQ partials %zu, %d workers x %zu)",
                   L.total, L.dq_part, L.workers, L.worker);
    else {
      sa_bwd_run_phases(&J, v->kernel, &o, &L, mem ? mem + SA_ALIGN : NULL);
      if (mem) sa_ws_give(mem);
      sa_clear_error();
    }
  }
  sa_fpenv_leave(&env);
  return st;
}

simdattn_status simdattn_backward(const simdattn_problem *p, const simdattn_grad *g, const simdattn_options *opt) {
  return sa_backward_ordered(p, g, opt, 0);
}

/* ---- the plan ---- */
simdattn_status sa_bwd_plan_make(const simdattn_problem *caller, const simdattn_options *caller_opt,
                                 simdattn_problem *shape, simdattn_options *opt, const sa_variant **v, size_t *bytes) {
  const simdattn_problem *p;
  simdattn_status st = sa_import_problem(caller, shape, &p);
  if (st != SIMDATTN_OK) return st;
  if (p != shape) *shape = *p;
  if ((st = sa_bwd_options(shape, caller_opt, opt)) != SIMDATTN_OK) return st;
  sa_bwd_job J;
  if ((st = sa_validate_backward(shape, NULL, 0, NULL, 0, &J)) != SIMDATTN_OK) return st;
  if ((st = sa_bwd_variant(&J, opt, v)) != SIMDATTN_OK) return st;
  opt->variant = (*v)->name;
  sa_bwd_plan(&J, (*v)->kernel);
  *bytes = sa_bwd_layout_of(&J, (*v)->kernel, opt).total;
  return SIMDATTN_OK;
}

/* The shape fields a backward plan fixes (every field but the data pointers; optional inputs by
 * presence) */
static simdattn_status sa_bwd_same_shape(const simdattn_problem *a, const simdattn_problem *p) {
#define SA_SAME_(f)                                                                                               \
  if (a->f != p->f)                                                                                               \
    return sa_fail(SIMDATTN_ERR_INVALID, "%s is %" PRId64 ", the plan was made for %" PRId64, #f, (int64_t)p->f, \
                   (int64_t)a->f);
  SA_SAME_(batch) SA_SAME_(heads_q) SA_SAME_(heads_kv) SA_SAME_(seq_q) SA_SAME_(seq_kv) SA_SAME_(head_dim)
  SA_SAME_(head_dim_v) SA_SAME_(q.dtype) SA_SAME_(k.dtype) SA_SAME_(v.dtype) SA_SAME_(causal) SA_SAME_(window)
#undef SA_SAME_
  if (a->scale != p->scale || a->softcap != p->softcap)
    return sa_fail(SIMDATTN_ERR_INVALID, "scale / softcap (%g, %g) differ from the plan's (%g, %g)", (double)p->scale,
                   (double)p->softcap, (double)a->scale, (double)a->softcap);
  if (!a->mask != !p->mask || !a->alibi_slopes != !p->alibi_slopes || !a->sinks != !p->sinks)
    return sa_fail(SIMDATTN_ERR_INVALID, "mask, alibi_slopes and sinks must be set exactly as in the planned problem");
  return SIMDATTN_OK;
}

simdattn_status sa_bwd_plan_execute(const simdattn_problem *shape, const sa_variant *v, const simdattn_options *opt,
                                    size_t bytes, const simdattn_problem *caller, const simdattn_grad *g,
                                    void *workspace, size_t workspace_size) {
  sa_fpenv env;
  sa_fpenv_enter(&env);
  simdattn_problem buf;
  const simdattn_problem *p;
  sa_bwd_job J;
  simdattn_status st = sa_import_problem(caller, &buf, &p);
  if (st == SIMDATTN_OK) st = sa_bwd_same_shape(shape, p);
  if (st == SIMDATTN_OK && workspace_size < bytes)
    st = sa_fail(SIMDATTN_ERR_INVALID, "workspace_size must be >= %zu (simdattn_plan_workspace_size), got %zu", bytes,
                 workspace_size);
  if (st == SIMDATTN_OK && bytes && !workspace) st = sa_fail(SIMDATTN_ERR_INVALID, "workspace must not be NULL");
  if (st == SIMDATTN_OK && (uintptr_t)workspace % SIMDATTN_WORKSPACE_ALIGN != 0)
    st = sa_fail(SIMDATTN_ERR_INVALID, "workspace (%p) must be aligned to SIMDATTN_WORKSPACE_ALIGN (%d bytes)",
                 workspace, SIMDATTN_WORKSPACE_ALIGN);
  if (st == SIMDATTN_OK) st = sa_validate_backward(p, g, 1, workspace, workspace_size, &J);
  if (st == SIMDATTN_OK) {
    sa_bwd_plan(&J, v->kernel);
    const sa_bwd_layout L = sa_bwd_layout_of(&J, v->kernel, opt);
    if (L.total > bytes)
      st = sa_fail(SIMDATTN_ERR_INVALID, "internal: the backward needs %zu bytes of workspace, the plan %zu", L.total,
                   bytes);
    else {
      sa_bwd_run_phases(&J, v->kernel, opt, &L, (char *)workspace);
      sa_clear_error();
    }
  }
  sa_fpenv_leave(&env);
  return st;
}
