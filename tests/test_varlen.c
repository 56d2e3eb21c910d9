/* tests/test_varlen.c: ragged batches and paged caches (problem.varlen) and simdattn_kv_append.
 *   - batch invariance: every sequence's out and lse bitwise the same alone (a batch of one), in a
 *     batch, in a permuted batch, on 1 and 2 threads and a caller's pool, contiguous (ragged) or
 *     paged in vLLM's and FlashAttention's layouts at block sizes 1, 16, 64 and 48 (not a power of
 *     two) — with sequences long enough that their keys are split into chunks;
 *   - chunk invariance (SIMDATTN_CHUNK_INVARIANT): a prompt's rows bitwise the same computed whole,
 *     in chunks over their cached prefix, or as decode rows;
 *   - validation: every malformed index named (sequence, position, value), nothing written;
 *   - simdattn_kv_append: conversions, skipped rows (-1), bad slots refused with nothing written.
 * Every variant this CPU runs. (attn-check judges the same problems against the oracle.) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "harness/varlen.h"
#include "tests/check.h"
#include "tests/threads_util.h"
#include "tests/variants_util.h"

static const simdattn_causal BR = SIMDATTN_CAUSAL_BOTTOM_RIGHT;

/* a spec: the sequences (q_len, kv_len), heads, dims; GQA 16x4 d64 unless set */
static varlen_spec spec_of(const char *tag, int n, const int64_t *q, const int64_t *kv) {
  varlen_spec s;
  memset(&s, 0, sizeof s);
  s.tag = tag;
  s.n = n;
  for (int r = 0; r < n; r++) s.q_len[r] = q[r], s.kv_len[r] = kv[r];
  s.base = case_default("varlen", 0, 0);
  s.base.heads_q = 16, s.base.heads_kv = 4, s.base.d = s.base.dv = 64;
  s.base.causal = BR;
  s.base.layout = LAYOUT_BSHD;
  return s;
}

/* sequence r's out rows and lse of a run, as flat floats (dense order) */
typedef struct {
  float *out[VL_MAX_SEQS], *lse[VL_MAX_SEQS];
} seq_bits;

static void take_bits(const varlen_data *vd, seq_bits *b) {
  for (int r = 0; r < vd->spec.n; r++) {
    const int64_t n = vd->spec.base.heads_q * vd->spec.q_len[r];
    b->out[r] = malloc(sizeof(float) * (size_t)(n * vd->spec.base.dv + 1));
    b->lse[r] = malloc(sizeof(float) * (size_t)(n + 1));
    varlen_gather(vd, r, b->out[r], b->lse[r]);
  }
}
static int same_seq(const varlen_data *vd, int r, const seq_bits *b, int r_in_b) {
  const int64_t n = vd->spec.base.heads_q * vd->spec.q_len[r];
  float *o = malloc(sizeof(float) * (size_t)(n * vd->spec.base.dv + 1)), *l = malloc(sizeof(float) * (size_t)(n + 1));
  varlen_gather(vd, r, o, l);
  const int same = !memcmp(o, b->out[r_in_b], sizeof(float) * (size_t)(n * vd->spec.base.dv)) &&
                   !memcmp(l, b->lse[r_in_b], sizeof(float) * (size_t)n);
  free(o);
  free(l);
  return same;
}
static void free_bits(seq_bits *b, int n) {
  for (int r = 0; r < n; r++) free(b->out[r]), free(b->lse[r]);
}

static simdattn_status run(varlen_data *vd, const char *variant, int threads, int pool, unsigned flags) {
  test_pool tp = {3, 0};
  const simdattn_options opt = {threads, variant, pool ? test_pool_parallel : NULL, pool ? &tp : NULL, flags};
  varlen_reset_outputs(vd);
  return simdattn_forward(&vd->p, &opt);
}

/* A ragged problem of the sequences `order` of vd (a permutation or a subset), sharing vd's cache
 * (paged) and q data: out rows packed in the new order. Returns a problem over new buffers. */
typedef struct {
  simdattn_problem p;
  simdattn_varlen vl;
  int32_t cu_q[VL_MAX_SEQS + 1], kv[VL_MAX_SEQS], cu_kv[VL_MAX_SEQS + 1];
  int32_t *table;
  char *q;
  float *out, *lse;
  int64_t rows;
} view;
static void make_view(const varlen_data *vd, const int *order, int n, view *w) {
  const varlen_spec *s = &vd->spec;
  const int64_t hq = s->base.heads_q, d = s->base.d, dv = s->base.dv;
  const int64_t qrow = sa_dtype_bytes(s->base.qt, hq * d);
  memset(w, 0, sizeof *w);
  w->p = vd->p;
  w->vl = vd->vl;
  int64_t rows = 0;
  w->cu_q[0] = 0;
  for (int t = 0; t < n; t++) rows += s->q_len[order[t]], w->cu_q[t + 1] = (int32_t)rows;
  w->rows = rows;
  w->q = malloc((size_t)(rows * qrow + 1));
  w->out = malloc(sizeof(float) * (size_t)(rows * hq * dv + 1));
  w->lse = malloc(sizeof(float) * (size_t)(rows * hq + 1));
  const int64_t stride = vd->vl.block_table_stride;
  w->table = vd->table ? malloc(sizeof(int32_t) * (size_t)(n * stride + 1)) : NULL;
  for (int t = 0; t < n; t++) {
    const int r = order[t];
    memcpy(w->q + w->cu_q[t] * qrow, (const char *)vd->q + vd->cu_q[r] * qrow, (size_t)(s->q_len[r] * qrow));
    w->kv[t] = (int32_t)s->kv_len[r];
    if (w->table) memcpy(w->table + t * stride, vd->table + r * stride, sizeof(int32_t) * (size_t)stride);
  }
  w->p.batch = n;
  w->p.seq_q = rows;
  w->p.q.data = w->q;
  w->p.out = w->out;
  w->p.lse = vd->p.lse ? w->lse : NULL;
  w->p.varlen = &w->vl;
  w->vl.cu_seqlens_q = w->cu_q;
  w->vl.seqlens_kv = w->kv;
  if (w->table) {
    w->vl.block_table = w->table;
  } else { /* contiguous: each sequence keeps its rows (offsets, not packing, carry the order) */
    w->vl.cu_seqlens_kv = NULL;
  }
}
/* view sequence t against the original run's sequence order[t] */
static int view_same(const varlen_data *vd, const view *w, int t, int r, const seq_bits *b) {
  const varlen_spec *s = &vd->spec;
  const int64_t hq = s->base.heads_q, dv = s->base.dv, n = s->q_len[r];
  for (int64_t h = 0; h < hq; h++)
    for (int64_t i = 0; i < n; i++) {
      if (memcmp(w->out + ((w->cu_q[t] + i) * hq + h) * dv, b->out[r] + (h * n + i) * dv, sizeof(float) * (size_t)dv))
        return 0;
      if (w->p.lse && memcmp(&w->lse[h * w->rows + w->cu_q[t] + i], &b->lse[r][h * n + i], sizeof(float))) return 0;
    }
  return 1;
}
static void free_view(view *w) {
  free(w->q);
  free(w->out);
  free(w->lse);
  free(w->table);
}

/* The mix: decode rows with long caches (split into key chunks), chunked prefill, a prompt,
 * empty sequences; the same data in every form */
static const int64_t MQ[] = {1, 1, 64, 0, 1, 200, 3, 1}, MKV[] = {3000, 1500, 1100, 50, 0, 200, 1, 2100};
/* --quick: shorter caches, still split (chunks of at least 512 keys: 1100 and 1050 are) */
static const int64_t MKV_QUICK[] = {1100, 700, 1100, 50, 0, 200, 1, 1050};
enum { MN = 8 };

static int quick; /* --quick: ragged, vLLM 16 and FlashAttention 48 only (sanitizers, emulators) */

static void test_invariance(const char *variant) {
  static const struct {
    varlen_kind kind;
    int64_t bs;
  } forms[] = {{VL_RAGGED, 0},    {VL_PAGED_VLLM, 16}, {VL_PAGED_VLLM, 1}, {VL_PAGED_FA, 64},
               {VL_PAGED_FA, 48}, {VL_PAGED_VLLM, 32}, {VL_PAGED_VLLM, 24}};
  seq_bits ref;
  int have_ref = 0;
  for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
    if (quick && f != 0 && f != 1 && f != 4) continue;
    varlen_spec s = spec_of("invariance", MN, MQ, quick ? MKV_QUICK : MKV);
    s.kind = forms[f].kind, s.block_size = forms[f].bs, s.gaps = f == 0;
    s.base.kvt = f % 2 ? SIMDATTN_F16 : SIMDATTN_F32; /* two dtypes: the forms compare within each */
    if (f >= 2) s.base.kvt = SIMDATTN_F32;
    varlen_data vd;
    if (varlen_build(&s, 7, &vd) != 0) {
      CHECK(0, "cannot build %s", vd.name);
      varlen_free(&vd);
      continue;
    }
    CHECK(run(&vd, variant, 1, 0, 0) == SIMDATTN_OK, "%s %s: %s", variant, vd.name, simdattn_last_error());
    CHECK(varlen_guards_intact(&vd), "%s %s: wrote outside its rows", variant, vd.name);
    seq_bits one;
    take_bits(&vd, &one);
    /* each sequence alone: as a dense problem (simdattn_forward, batch 1) and as a ragged batch of one */
    for (int r = 0; r < MN; r++) {
      if (!s.q_len[r]) continue;
      const simdattn_options opt = {1, variant, NULL, NULL, 0};
      case_reset_outputs(&vd.seq[r]);
      CHECK(simdattn_forward(&vd.seq[r].p, &opt) == SIMDATTN_OK, "dense");
      varlen_reset_outputs(&vd);
      CHECK(simdattn_forward(&vd.p, &opt) == SIMDATTN_OK, "batch");
      CHECK(varlen_same_bits(&vd, r), "%s %s: sequence %d differs from its dense forward", variant, vd.name, r);
      view w;
      const int only[1] = {r};
      make_view(&vd, only, 1, &w);
      if (!w.table) w.vl.cu_seqlens_kv = vd.cu_kv + r, w.vl.seqlens_kv = w.kv; /* its own rows */
      CHECK(simdattn_forward(&w.p, &opt) == SIMDATTN_OK, "alone: %s", simdattn_last_error());
      CHECK(view_same(&vd, &w, 0, r, &one), "%s %s: sequence %d alone differs from it in the batch", variant, vd.name,
            r);
      free_view(&w);
    }
    /* permuted (paged: the table's rows move with their sequences) */
    if (vd.table) {
      const int perm[MN] = {5, 2, 7, 0, 3, 6, 1, 4};
      view w;
      make_view(&vd, perm, MN, &w);
      const simdattn_options opt = {2, variant, NULL, NULL, 0};
      CHECK(simdattn_forward(&w.p, &opt) == SIMDATTN_OK, "permuted: %s", simdattn_last_error());
      for (int t = 0; t < MN; t++)
        CHECK(view_same(&vd, &w, t, perm[t], &one), "%s %s: sequence %d at position %d of a permuted batch differs",
              variant, vd.name, perm[t], t);
      free_view(&w);
    }
    /* threads: 2, all, a caller's pool; the plan API */
    for (int mode = 0; mode < 3; mode++) {
      CHECK(run(&vd, variant, mode == 0 ? 2 : 0, mode == 2, 0) == SIMDATTN_OK, "threads");
      for (int r = 0; r < MN; r++)
        CHECK(same_seq(&vd, r, &one, r), "%s %s: sequence %d differs on %s", variant, vd.name, r,
              mode == 0   ? "2 threads"
              : mode == 1 ? "all threads"
                          : "a caller's pool");
    }
    {
      const simdattn_options opt = {2, variant, NULL, NULL, 0};
      simdattn_plan *plan = NULL;
      CHECK(simdattn_plan_create(&vd.p, &opt, &plan) == SIMDATTN_OK, "plan: %s", simdattn_last_error());
      const size_t bytes = plan ? simdattn_plan_workspace_size(plan) : 0;
      void *ws = bytes ? aligned_alloc(64, (bytes + 63) / 64 * 64) : NULL;
      varlen_reset_outputs(&vd);
      CHECK(plan && simdattn_plan_execute(plan, &vd.p, ws, bytes) == SIMDATTN_OK, "execute: %s", simdattn_last_error());
      for (int r = 0; r < MN; r++) CHECK(same_seq(&vd, r, &one, r), "%s %s: plan, sequence %d", variant, vd.name, r);
      /* a smaller batch on the same plan: its first three sequences */
      simdattn_problem few = vd.p;
      few.batch = 3;
      varlen_reset_outputs(&vd);
      CHECK(plan && simdattn_plan_execute(plan, &few, ws, bytes) == SIMDATTN_OK, "execute 3: %s",
            simdattn_last_error());
      for (int r = 0; r < 3; r++)
        CHECK(same_seq(&vd, r, &one, r), "%s %s: plan of 3, sequence %d", variant, vd.name, r);
      free(ws);
      simdattn_plan_destroy(plan);
    }
    /* across forms (the same data): ragged f32 against every paged f32 form */
    if (s.base.kvt == SIMDATTN_F32) {
      if (!have_ref) {
        ref = one, have_ref = 1;
        memset(&one, 0, sizeof one);
      } else {
        for (int r = 0; r < MN; r++) {
          const int64_t n = s.base.heads_q * s.q_len[r];
          CHECK(!memcmp(one.out[r], ref.out[r], sizeof(float) * (size_t)(n * s.base.dv)) &&
                    !memcmp(one.lse[r], ref.lse[r], sizeof(float) * (size_t)n),
                "%s %s: sequence %d differs from the first f32 form", variant, vd.name, r);
        }
      }
    }
    free_bits(&one, MN);
    varlen_free(&vd);
  }
  if (have_ref) free_bits(&ref, MN);
}

/* A plan of decode sequences only (no packing budget to hide in) over a cache whose blocks hold a
 * short piece of each head (block size 1: heads run side by side, several per task): its workspace
 * bound holds, and its bits are simdattn_forward's */
static void test_plan_decode(const char *variant) {
  const int64_t q[4] = {1, 1, 1, 1}, kv[4] = {3000, 2000, 1500, 100};
  varlen_spec s = spec_of("plan-decode", 4, q, kv);
  s.kind = VL_PAGED_VLLM, s.block_size = 1;
  varlen_data vd;
  if (varlen_build(&s, 5, &vd) != 0) {
    CHECK(0, "cannot build plan-decode");
    varlen_free(&vd);
    return;
  }
  for (int threads = 1; threads <= 2; threads++) {
    const simdattn_options opt = {threads, variant, NULL, NULL, 0};
    varlen_reset_outputs(&vd);
    CHECK(simdattn_forward(&vd.p, &opt) == SIMDATTN_OK, "plan-decode forward: %s", simdattn_last_error());
    seq_bits b;
    take_bits(&vd, &b);
    simdattn_plan *plan = NULL;
    CHECK(simdattn_plan_create(&vd.p, &opt, &plan) == SIMDATTN_OK, "plan-decode plan: %s", simdattn_last_error());
    const size_t bytes = plan ? simdattn_plan_workspace_size(plan) : 0;
    void *ws = bytes ? aligned_alloc(64, (bytes + 63) / 64 * 64) : NULL;
    varlen_reset_outputs(&vd);
    CHECK(plan && simdattn_plan_execute(plan, &vd.p, ws, bytes) == SIMDATTN_OK, "%s plan-decode execute: %s", variant,
          simdattn_last_error());
    for (int r = 0; r < 4; r++) CHECK(same_seq(&vd, r, &b, r), "%s plan-decode sequence %d", variant, r);
    free(ws);
    simdattn_plan_destroy(plan);
    free_bits(&b, 4);
  }
  varlen_free(&vd);
}

/* Chunk invariance: one prompt of 300 rows over 300 keys (bottom-right) whole, as chunks of
 * 100, 150 and 50 over their prefixes, and as decode rows, in one paged cache */
static void test_chunks(const char *variant) {
  const int64_t q[5] = {300, 100, 150, 50, 1}, kv[5] = {300, 100, 250, 300, 180};
  varlen_spec s = spec_of("chunks", 5, q, kv);
  s.kind = VL_PAGED_VLLM, s.block_size = 16;
  s.base.heads_q = 8, s.base.heads_kv = 2;
  varlen_data vd;
  if (varlen_build(&s, 3, &vd) != 0) {
    CHECK(0, "cannot build chunks");
    varlen_free(&vd);
    return;
  }
  /* every sequence reads sequence 0's keys and queries: its table and its q rows */
  const int64_t stride = vd.vl.block_table_stride, hq = 8, d = 64, dv = 64;
  const int64_t qrow = hq * d * (int64_t)sizeof(float);
  const int64_t start[5] = {0, 0, 100, 250, 179};
  for (int r = 1; r < 5; r++) {
    memcpy(vd.table + r * stride, vd.table, sizeof(int32_t) * (size_t)stride);
    memcpy((char *)vd.q + vd.cu_q[r] * qrow, (char *)vd.q + (vd.cu_q[0] + start[r]) * qrow, (size_t)(q[r] * qrow));
  }
  for (int inv = 0; inv < 2; inv++) {
    CHECK(run(&vd, variant, 2, 0, inv ? SIMDATTN_CHUNK_INVARIANT : 0) == SIMDATTN_OK, "chunks: %s",
          simdattn_last_error());
    int same = 1;
    for (int r = 1; r < 5; r++)
      for (int64_t i = 0; i < q[r]; i++)
        for (int64_t h = 0; h < hq; h++) {
          const float *a = vd.p.out + ((vd.cu_q[r] + i) * hq + h) * dv;
          const float *b = vd.p.out + ((vd.cu_q[0] + start[r] + i) * hq + h) * dv;
          same &= !memcmp(a, b, sizeof(float) * (size_t)dv);
          same &= vd.p.lse[h * vd.rows + vd.cu_q[r] + i] == vd.p.lse[h * vd.rows + vd.cu_q[0] + start[r] + i];
        }
    if (inv)
      CHECK(same, "%s: with SIMDATTN_CHUNK_INVARIANT, chunked and decode rows differ from the whole prompt's", variant);
    else
      printf("  %s: without the flag, chunks and decode rows %s the whole prompt's bits\n", variant,
             same ? "keep" : "do not keep");
  }
  /* the flag is also the dense API's: a decode row through simdattn_forward equals its row in the prefill */
  varlen_free(&vd);
}

static void test_validation(void) {
  const int64_t q[3] = {2, 1, 3}, kv[3] = {20, 33, 3};
  for (int paged = 0; paged < 2; paged++) {
    varlen_spec s = spec_of("validation", 3, q, kv);
    s.kind = paged ? VL_PAGED_VLLM : VL_RAGGED, s.block_size = paged ? 16 : 0;
    varlen_data vd;
    if (varlen_build(&s, 1, &vd) != 0) {
      CHECK(0, "build");
      varlen_free(&vd);
      return;
    }
    const simdattn_options opt = {1, NULL, NULL, NULL, 0};
    for (int c = 0;; c++) {
      varlen_reset_outputs(&vd);
      int32_t saved_q[VL_MAX_SEQS + 1], saved_kv[VL_MAX_SEQS], saved_ck[VL_MAX_SEQS + 1];
      memcpy(saved_ck, vd.cu_kv, sizeof saved_ck);
      memcpy(saved_q, vd.cu_q, sizeof saved_q);
      memcpy(saved_kv, vd.kv_len, sizeof saved_kv);
      int32_t saved_t = vd.table ? vd.table[2 * vd.vl.block_table_stride] : 0;
      simdattn_problem p = vd.p;
      simdattn_varlen vl = vd.vl;
      p.varlen = &vl;
      const char *expect;
      if (c == 0) vd.cu_q[2] = vd.cu_q[1] - 1, expect = "non-decreasing: sequence 1";
      else if (c == 1) vd.cu_q[3] = (int32_t)p.seq_q + 1, expect = "sequence 2: its query rows";
      else if (c == 2) p.seq_kv = 32, expect = "sequence 1: kv_len 33 passes seq_kv (32";
      else if (c == 3 && paged)
        vd.table[2 * vd.vl.block_table_stride] = (int32_t)vd.vl.num_blocks, expect = "block_table[2][0]";
      else if (c == 4 && paged) vd.table[2 * vd.vl.block_table_stride] = -1, expect = "block_table[2][0] = -1";
      else if (c == 5 && paged)
        vl.block_table_stride = 2,
        expect = "sequence 1: kv_len 33 needs 3 blocks of 16, but a row of block_table holds 2";
      else if (c == 5) vd.cu_kv[1] = 25, vd.cu_kv[2] = 24, expect = "cu_seqlens_kv must be non-decreasing";
      else if (c == 6 && paged) vd.kv_len[1] = -3, expect = "seqlens_kv[1] must be >= 0, got -3";
      else if (c == 7) {
        static const float m = 0.0f;
        p.mask = &m, expect = "mask must be NULL with varlen";
      } else if (c == 8) {
        const simdattn_options bad = {1, NULL, NULL, NULL, 0x80};
        CHECK(simdattn_forward(&p, &bad) == SIMDATTN_ERR_INVALID && strstr(simdattn_last_error(), "options.flags"),
              "unknown flags: '%s'", simdattn_last_error());
        CHECK(varlen_guards_intact(&vd), "unknown flags wrote");
        continue;
      } else if (c == 9) break;
      else continue;
      const simdattn_status st = simdattn_forward(&p, &opt);
      CHECK(st == SIMDATTN_ERR_INVALID && strstr(simdattn_last_error(), expect),
            "%s case %d: status %d, '%s' (want '%s')", paged ? "paged" : "ragged", c, (int)st, simdattn_last_error(),
            expect);
      CHECK(varlen_guards_intact(&vd), "case %d wrote", c);
      int untouched = 1;
      for (size_t t = vd.out_at; t < vd.out_len - CASE_GUARD; t++) untouched &= isnan(vd.out_buf[t]);
      CHECK(untouched, "%s case %d: out written on an error", paged ? "paged" : "ragged", c);
      memcpy(vd.cu_q, saved_q, sizeof saved_q);
      memcpy(vd.kv_len, saved_kv, sizeof saved_kv);
      if (vd.table) vd.table[2 * vd.vl.block_table_stride] = saved_t;
      memcpy(vd.cu_kv, saved_ck, sizeof saved_ck);
    }
    varlen_free(&vd);
  }
}

static void test_append(void) {
  enum { N = 5, H = 2, D = 8, BS = 4, NB = 3 };
  static const simdattn_dtype dts[3] = {SIMDATTN_F32, SIMDATTN_F16, SIMDATTN_BF16};
  for (int sd = 0; sd < 3; sd++)
    for (int cd = 0; cd < 3; cd++) {
      float src32[N * H * D];
      for (int t = 0; t < N * H * D; t++) src32[t] = (float)(t % 37) * 0.37f - 5.1f + (t == 3 ? 70000.0f : 0.0f);
      unsigned char ksrc[N * H * D * 4], vsrc[N * H * D * 4];
      sa_store_f32(ksrc, dts[sd], 0, src32, N * H * D);
      for (int t = 0; t < N * H * D; t++) src32[t] = -src32[t];
      sa_store_f32(vsrc, dts[sd], 0, src32, N * H * D);
      unsigned char kc[NB * H * BS * D * 4], vc[NB * H * BS * D * 4];
      memset(kc, 0x11, sizeof kc), memset(vc, 0x22, sizeof vc);
      int32_t slots[N] = {5, -1, 0, 11, 6};
      simdattn_kv_append_args a;
      memset(&a, 0, sizeof a);
      a.struct_size = SIMDATTN_KV_APPEND_SIZE;
      a.n_rows = N, a.heads_kv = H, a.head_dim = D;
      a.k = (simdattn_tensor){ksrc, dts[sd], 0, D, H * D};
      a.v = (simdattn_tensor){vsrc, dts[sd], 0, D, H * D};
      a.slots = slots;
      a.k_cache = (simdattn_cache){kc, dts[cd], H * BS * D, BS * D, D}; /* vLLM's layout */
      a.v_cache = (simdattn_cache){vc, dts[cd], BS * H * D, D, H * D};  /* FlashAttention's */
      a.block_size = BS, a.num_blocks = NB;
      CHECK(simdattn_kv_append(&a) == SIMDATTN_OK, "append %d->%d: %s", sd, cd, simdattn_last_error());
      for (int t = 0; t < N; t++) {
        if (slots[t] < 0) continue;
        const int blk = slots[t] / BS, off = slots[t] % BS;
        for (int h = 0; h < H; h++)
          for (int x = 0; x < D; x++) {
            const float k = sa_load_f32(ksrc, dts[sd], (t * H + h) * D + x),
                        v = sa_load_f32(vsrc, dts[sd], (t * H + h) * D + x);
            float kw, vw; /* what the cache's dtype makes of them */
            unsigned char tmp[64] = {0}; /* (room for any format the dtype switch names) */
            sa_store_f32(tmp, dts[cd], 0, &k, 1), kw = sa_load_f32(tmp, dts[cd], 0);
            sa_store_f32(tmp, dts[cd], 0, &v, 1), vw = sa_load_f32(tmp, dts[cd], 0);
            const float kg = sa_load_f32(kc, dts[cd], blk * H * BS * D + h * BS * D + off * D + x);
            const float vg = sa_load_f32(vc, dts[cd], blk * BS * H * D + off * H * D + h * D + x);
            CHECK(memcmp(&kg, &kw, 4) == 0 && memcmp(&vg, &vw, 4) == 0, "append %d->%d row %d: %g %g want %g %g", sd,
                  cd, t, (double)kg, (double)vg, (double)kw, (double)vw);
          }
      }
      /* slots no row names: untouched */
      int untouched = 1;
      for (int slot = 0; slot < NB * BS; slot++) {
        int named = 0;
        for (int t = 0; t < N; t++) named |= slots[t] == slot;
        if (named) continue;
        for (int h = 0; h < H; h++) {
          const int64_t at = sa_dtype_bytes(dts[cd], (slot / BS) * H * BS * D + h * BS * D + (slot % BS) * D);
          for (int64_t x = 0; x < sa_dtype_bytes(dts[cd], D); x++) untouched &= kc[at + x] == 0x11;
        }
      }
      CHECK(untouched, "append %d->%d touched a slot no row names", sd, cd);
      /* a bad slot: refused, nothing written */
      unsigned char before[sizeof kc];
      memcpy(before, kc, sizeof kc);
      slots[1] = NB * BS;
      CHECK(simdattn_kv_append(&a) == SIMDATTN_ERR_INVALID && strstr(simdattn_last_error(), "slots[1] = 12"),
            "bad slot: '%s'", simdattn_last_error());
      CHECK(!memcmp(before, kc, sizeof kc), "a refused append wrote");
      slots[1] = -2;
      CHECK(simdattn_kv_append(&a) == SIMDATTN_ERR_INVALID && strstr(simdattn_last_error(), "slots[1] = -2"), "-2");
      a.struct_size = 8;
      CHECK(simdattn_kv_append(&a) == SIMDATTN_ERR_INVALID && strstr(simdattn_last_error(), "struct_size"), "size");
      a.struct_size = SIMDATTN_KV_APPEND_SIZE;
      a.k_cache.stride_slot = 3, slots[1] = -1;
      CHECK(simdattn_kv_append(&a) == SIMDATTN_ERR_INVALID && strstr(simdattn_last_error(), "overlap"), "overlap: '%s'",
            simdattn_last_error());
    }
  CHECK(simdattn_kv_append(NULL) == SIMDATTN_ERR_INVALID, "NULL");
}

int main(int argc, char **argv) {
  quick = argc > 1 && !strcmp(argv[1], "--quick");
  test_validation();
  test_append();
  simdattn_variant_info info;
  for (int t = 0; test_next_variant(&t, &info, 1); t++) {
    if (!(info.dtypes & (1u << SIMDATTN_F32))) continue; /* the f32 mixes; bf16-only rows: attn-check */
    if (!strcmp(info.name, "ref")) continue;             /* one row at a time, no tiles, no key split: attn-check */
    if (quick && !strcmp(info.name, "scalar_tiled")) continue; /* --quick: its bits alone: attn-check */
    test_invariance(info.name);
    test_chunks(info.name);
    test_plan_decode(info.name);
  }
  return check_report("test_varlen");
}
