/* harness/varlen.c: ragged and paged problems built from dense cases (harness/varlen.h). */
#include "varlen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"

#define VL_SENTINEL_BITS 0x7fc5a5a5u /* as harness/cases.c: a quiet NaN no kernel computes */
#define VL_GARBAGE_ENTRY 0x7ffffff0  /* block-table entries no sequence uses: read one and it faults */

static void *zalloc(size_t bytes) { return calloc(bytes ? bytes : 1, 1); }
/* the packed q and the K/V caches on a cache line, as the dense cases' (harness/cases.c) and as
 * engines hold them: glibc's calloc of a large block starts 16 bytes past a page, and every row then
 * spans an extra line (paged decode rows read 0.83x their contiguous row paired, where bench-pair's
 * aligned caches read 0.95x) */
static void *zalloc_line(size_t bytes) {
  const size_t n = ((bytes ? bytes : 1) + 63) / 64 * 64;
  void *p = aligned_alloc(64, n);
  if (p) memset(p, 0, n);
  return p;
}
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void varlen_name(const varlen_spec *s, char *buf, size_t size) {
  static const char *causal[] = {"full", "tl", "br"};
  const case_spec *b = &s->base;
  char kind[48];
  if (s->kind == VL_RAGGED) snprintf(kind, sizeof kind, "ragged%s", s->gaps ? "+gaps" : "");
  else
    snprintf(kind, sizeof kind, "paged%lld/%s%s", (long long)s->block_size, s->kind == VL_PAGED_VLLM ? "vllm" : "fa",
             s->shared_prefix ? "+shared" : "");
  char dv[24] = "", win[24] = "", cap[24] = "";
  if (b->dv != b->d) snprintf(dv, sizeof dv, "v%lld", (long long)b->dv);
  if (b->window) snprintf(win, sizeof win, "+w%lld", (long long)b->window);
  if (b->softcap != 0.0f) snprintf(cap, sizeof cap, "+cap%g", (double)b->softcap);
  snprintf(buf, size, "%s/%s/n%d/h%lldx%lld/d%lld%s/%s%s%s%s%s%s/%s-%s", kind, s->tag, s->n, (long long)b->heads_q,
           (long long)b->heads_kv, (long long)b->d, dv, causal[b->causal], win, cap, b->alibi ? "+alibi" : "",
           b->sinks ? "+sinks" : "", b->lse ? "" : "+nolse", sa_dtype_name(b->qt), sa_dtype_name(b->kvt));
}

/* ---- the grid ---- */
typedef struct {
  const char *tag;
  int n;
  int64_t q[VL_MAX_SEQS], kv[VL_MAX_SEQS];
} seq_mix;
/* decode rows, chunked prefill over a cached prefix, whole prompts, empty sequences (no query row,
 * no key), a sequence with more query rows than keys (bottom-right: rows that see nothing) */
static const seq_mix mix_mixed = {"mixed", 7, {1, 17, 0, 1, 33, 5, 3}, {37, 80, 5, 1, 33, 0, 2}};
static const seq_mix mix_decode = {"decode", 8, {1, 1, 1, 1, 1, 1, 1, 1}, {200, 64, 1, 130, 17, 300, 65, 0}};
static const seq_mix mix_chunked = {"chunked", 4, {64, 1, 128, 7}, {300, 301, 128, 140}};
static const seq_mix mix_long = {"long", 3, {1, 150, 1}, {1000, 700, 257}};

static varlen_spec vspec(const seq_mix *m, varlen_kind kind, int64_t bs, int64_t hq, int64_t hkv, int64_t d,
                         simdattn_causal causal) {
  varlen_spec s;
  memset(&s, 0, sizeof s);
  s.tag = m->tag;
  s.kind = kind;
  s.block_size = kind == VL_RAGGED ? 0 : bs;
  s.n = m->n;
  for (int r = 0; r < m->n; r++) s.q_len[r] = m->q[r], s.kv_len[r] = m->kv[r];
  s.base = case_default("varlen", 0, 0);
  s.base.heads_q = hq, s.base.heads_kv = hkv, s.base.d = s.base.dv = d;
  s.base.causal = causal;
  s.base.layout = LAYOUT_BSHD;
  return s;
}

int varlen_grid(varlen_spec **out) {
  enum { CAP = 64 };
  varlen_spec *g = calloc(CAP, sizeof *g);
  int n = 0;
  if (!g) return 0;
  /* each case once ragged and once paged; the paged ones cycle through block sizes and layouts */
  static const int64_t sizes[] = {16, 1, 64, 16, 32, 1, 16, 64};
  for (int pass = 0; pass < 2; pass++) {
    varlen_spec c[24];
    int k = 0;
    const varlen_kind kind = pass == 0 ? VL_RAGGED : VL_PAGED_VLLM;
    const simdattn_causal BR = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
    c[k++] = vspec(&mix_mixed, kind, 0, 8, 2, 64, BR);
    c[k] = vspec(&mix_mixed, kind, 0, 8, 2, 64, BR), c[k++].base.kvt = SIMDATTN_F16;
    c[k] = vspec(&mix_mixed, kind, 0, 8, 2, 64, BR), c[k].base.qt = c[k].base.kvt = SIMDATTN_BF16, k++;
    c[k++] = vspec(&mix_decode, kind, 0, 8, 8, 64, BR);
    c[k++] = vspec(&mix_decode, kind, 0, 8, 1, 128, BR);
    c[k] = vspec(&mix_chunked, kind, 0, 4, 2, 64, BR), c[k++].base.window = 40;
    c[k++] = vspec(&mix_chunked, kind, 0, 4, 2, 64, SIMDATTN_CAUSAL_TOP_LEFT);
    c[k++] = vspec(&mix_mixed, kind, 0, 4, 2, 64, SIMDATTN_CAUSAL_NONE);
    c[k] = vspec(&mix_mixed, kind, 0, 4, 2, 64, BR), c[k++].base.softcap = 30.0f;
    c[k] = vspec(&mix_mixed, kind, 0, 4, 2, 64, BR), c[k++].base.alibi = 1;
    c[k] = vspec(&mix_mixed, kind, 0, 4, 2, 64, BR), c[k++].base.sinks = 1;
    c[k] = vspec(&mix_mixed, kind, 0, 4, 2, 64, BR), c[k++].base.dv = 32;
    c[k] = vspec(&mix_mixed, kind, 0, 4, 2, 48, BR), c[k++].base.lse = 0;
    c[k++] = vspec(&mix_long, kind, 0, 4, 1, 128, BR);
    c[k] = vspec(&mix_chunked, kind, 0, 6, 2, 80, BR);
    c[k].base.window = 100, c[k].base.softcap = 20.0f, c[k].base.alibi = c[k].base.sinks = 1, c[k].base.dv = 96;
    c[k].tag = "chunked-all", k++;
    c[k] = vspec(&mix_decode, kind, 0, 8, 2, 64, BR), c[k++].base.kvt = SIMDATTN_BF16;
    /* bf16 q and K/V (the bf16 variant's inputs): GQA decode at d128, chunked prefill with a window */
    c[k] = vspec(&mix_decode, kind, 0, 8, 2, 128, BR), c[k].base.qt = c[k].base.kvt = SIMDATTN_BF16, k++;
    c[k] = vspec(&mix_chunked, kind, 0, 4, 2, 64, BR), c[k].base.window = 40;
    c[k].base.qt = c[k].base.kvt = SIMDATTN_BF16, k++;
    /* block sizes that are not powers of two (a division per lookup; tiles across a block's end) */
    c[k] = vspec(&mix_decode, kind, 24, 8, 2, 128, BR), k++;
    c[k] = vspec(&mix_mixed, kind, 5, 8, 2, 64, BR), c[k++].base.sinks = 1;
    /* quantized caches (README, "Quantized KV caches"): GGUF q8_0 blocks under GQA decode, fp8 E4M3
     * (unscaled: one scale array cannot serve sequences quantized apart) under chunked prefill */
    c[k] = vspec(&mix_decode, kind, 0, 8, 2, 128, BR), c[k++].base.kvt = SIMDATTN_Q8_0;
    c[k] = vspec(&mix_chunked, kind, 0, 4, 2, 64, BR), c[k++].base.kvt = SIMDATTN_FP8E4M3;
    for (int t = 0; t < k && n < CAP; t++) {
      varlen_spec s = c[t];
      if (pass == 0) s.gaps = t % 2;
      else {
        s.block_size = c[t].block_size ? c[t].block_size : sizes[t % 8];
        s.kind = t % 3 == 1 ? VL_PAGED_FA : VL_PAGED_VLLM;
        s.shared_prefix = t % 4 == 0 || t % 4 == 3;
      }
      g[n++] = s;
    }
  }
  *out = g;
  return n;
}

/* ---- building ---- */
static float f_of(uint32_t u) { return sa_bits_to_f32(u); }
/* n elements of NaN (a quantized format's bytes 0xff: a NaN block scale, an fp8 NaN) */
static void nan_fill(void *base, simdattn_dtype t, int64_t n) {
  if (!sa_dtype_float(t)) memset(base, 0xff, (size_t)sa_dtype_bytes(t, n));
  else
    for (int64_t x = 0; x < n; x++) sa_store_f32(base, t, x, &(float){NAN}, 1);
}

int varlen_build(const varlen_spec *s, uint64_t seed, varlen_data *vd) {
  memset(vd, 0, sizeof *vd);
  vd->spec = *s;
  varlen_name(s, vd->name, sizeof vd->name);
  const case_spec *b = &s->base;
  const int64_t hq = b->heads_q, hkv = b->heads_kv, d = b->d, dv = b->dv;
  const simdattn_dtype qt = b->qt, kt = b->kvt;
  const int64_t qrow = sa_dtype_bytes(qt, hq * d), krow = sa_dtype_bytes(kt, d), vrow = sa_dtype_bytes(kt, dv);
  /* each sequence's dense case, seeded by the case's name without its K/V form: the same data
   * ragged or paged, in either layout, at any block size */
  varlen_spec plain = *s;
  plain.kind = VL_RAGGED, plain.gaps = 0, plain.block_size = 0, plain.shared_prefix = 0;
  char data_name[200];
  varlen_name(&plain, data_name, sizeof data_name);
  for (int r = 0; r < s->n; r++) {
    case_spec c = *b;
    char group[240];
    snprintf(group, sizeof group, "%s/seq%d", data_name, r);
    c.group = group;
    c.batch = 1, c.seq_q = s->q_len[r], c.seq_kv = s->kv_len[r];
    if (case_build(&c, seed, &vd->seq[r]) != 0) return -1;
    vd->seq[r].spec.group = "varlen"; /* group points at this stack buffer: not kept */
  }
  /* a shared prefix: sequence 1's first whole blocks are sequence 0's (its dense K/V rows too) */
  int64_t shared = 0;
  if (s->shared_prefix && s->n >= 2 && s->kind != VL_RAGGED) {
    const int64_t whole = (s->kv_len[0] < s->kv_len[1] ? s->kv_len[0] : s->kv_len[1]) / s->block_size;
    shared = whole > 1 ? whole - 1 : whole;
    const int64_t keys = shared * s->block_size;
    memcpy(vd->seq[1].k, vd->seq[0].k, (size_t)(keys * hkv * krow));
    memcpy(vd->seq[1].v, vd->seq[0].v, (size_t)(keys * hkv * vrow));
  }
  /* the shared per-head inputs: sequence 0's */
  for (int r = 1; r < s->n; r++) {
    vd->seq[r].p.alibi_slopes = vd->seq[0].p.alibi_slopes;
    vd->seq[r].p.sinks = vd->seq[0].p.sinks;
  }
  /* packed q: a gap row first, two spare rows last */
  int64_t rows = 1;
  vd->cu_q[0] = 1;
  for (int r = 0; r < s->n; r++) rows += s->q_len[r], vd->cu_q[r + 1] = (int32_t)rows;
  rows += 2;
  vd->rows = rows;
  vd->q = zalloc_line((size_t)(rows * qrow));
  if (!vd->q) return -1;
  for (int64_t t = 0; t < rows * hq * d; t++) sa_store_f32(vd->q, qt, t, &(float){NAN}, 1);
  for (int r = 0; r < s->n; r++) memcpy((char *)vd->q + vd->cu_q[r] * qrow, vd->seq[r].q, (size_t)(s->q_len[r] * qrow));
  /* K and V */
  const int64_t ks_row = hkv * d, vs_row = hkv * dv; /* elements of a key's row of every head */
  int64_t kv_elems_k, kv_elems_v;
  simdattn_problem *p = &vd->p;
  p->struct_size = SIMDATTN_PROBLEM_SIZE;
  if (s->kind == VL_RAGGED) {
    int64_t at = 0;
    vd->cu_kv[0] = 0;
    for (int r = 0; r < s->n; r++) {
      vd->kv_len[r] = (int32_t)s->kv_len[r];
      at += s->kv_len[r] + (s->gaps ? 2 : 0);
      vd->cu_kv[r + 1] = (int32_t)at;
    }
    kv_elems_k = at * ks_row, kv_elems_v = at * vs_row;
    vd->k = zalloc_line((size_t)sa_dtype_bytes(kt, kv_elems_k));
    vd->v = zalloc_line((size_t)sa_dtype_bytes(kt, kv_elems_v));
    if (!vd->k || !vd->v) return -1;
    nan_fill(vd->k, kt, kv_elems_k);
    nan_fill(vd->v, kt, kv_elems_v);
    for (int r = 0; r < s->n; r++) {
      memcpy((char *)vd->k + vd->cu_kv[r] * hkv * krow, vd->seq[r].k, (size_t)(s->kv_len[r] * hkv * krow));
      memcpy((char *)vd->v + vd->cu_kv[r] * hkv * vrow, vd->seq[r].v, (size_t)(s->kv_len[r] * hkv * vrow));
    }
    p->k = (simdattn_tensor){vd->k, kt, 0, d, ks_row};
    p->v = (simdattn_tensor){vd->v, kt, 0, dv, vs_row};
    vd->vl.cu_seqlens_kv = vd->cu_kv;
    vd->vl.seqlens_kv = s->gaps ? vd->kv_len : NULL;
  } else {
    const int64_t bs = s->block_size;
    int64_t need = 0, width = 0;
    for (int r = 0; r < s->n; r++) {
      const int64_t nb = ceil_div(s->kv_len[r], bs);
      need += nb - (r == 1 ? shared : 0);
      if (nb > width) width = nb;
      vd->kv_len[r] = (int32_t)s->kv_len[r];
    }
    const int64_t nblocks = need + 3, stride = width + 2; /* blocks no table names; entries no sequence uses */
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)(nblocks ? nblocks : 1));
    vd->table = malloc(sizeof(int32_t) * (size_t)(s->n * stride + 1));
    if (!perm || !vd->table) {
      free(perm);
      return -1;
    }
    for (int64_t t = 0; t < nblocks; t++) perm[t] = t;
    uint64_t x = seed ^ 0x5eed;
    for (const char *c = vd->name; *c; c++) x = mix(x ^ (uint64_t)(unsigned char)*c);
    for (int64_t t = nblocks - 1; t > 0; t--) { /* shuffled */
      x = mix(x);
      const int64_t u = (int64_t)(x % (uint64_t)(t + 1)), w = perm[t];
      perm[t] = perm[u], perm[u] = w;
    }
    for (int64_t t = 0; t < s->n * stride; t++) vd->table[t] = VL_GARBAGE_ENTRY;
    int64_t next = 0;
    for (int r = 0; r < s->n; r++)
      for (int64_t blk = 0; blk < ceil_div(s->kv_len[r], bs); blk++)
        vd->table[r * stride + blk] = r == 1 && blk < shared ? vd->table[blk] : (int32_t)perm[next++];
    free(perm);
    /* strides (elements): vLLM [blocks][heads][slots][d], FlashAttention [blocks][slots][heads][d] */
    const int vllm = s->kind == VL_PAGED_VLLM;
    const int64_t kb = hkv * bs * d, vb = hkv * bs * dv;
    p->k = (simdattn_tensor){NULL, kt, kb, vllm ? bs * d : d, vllm ? d : hkv * d};
    p->v = (simdattn_tensor){NULL, kt, vb, vllm ? bs * dv : dv, vllm ? dv : hkv * dv};
    kv_elems_k = nblocks * kb, kv_elems_v = nblocks * vb;
    vd->k = zalloc_line((size_t)sa_dtype_bytes(kt, kv_elems_k));
    vd->v = zalloc_line((size_t)sa_dtype_bytes(kt, kv_elems_v));
    if (!vd->k || !vd->v) return -1;
    nan_fill(vd->k, kt, kv_elems_k);
    nan_fill(vd->v, kt, kv_elems_v);
    p->k.data = vd->k, p->v.data = vd->v;
    for (int r = 0; r < s->n; r++)
      for (int64_t j = 0; j < s->kv_len[r]; j++) {
        const int64_t blk = vd->table[r * stride + j / bs], slot = j % bs;
        for (int64_t h = 0; h < hkv; h++) {
          const int64_t ko = blk * p->k.stride_batch + h * p->k.stride_head + slot * p->k.stride_seq;
          const int64_t vo = blk * p->v.stride_batch + h * p->v.stride_head + slot * p->v.stride_seq;
          memcpy((char *)vd->k + sa_dtype_bytes(kt, ko), (const char *)vd->seq[r].k + (j * hkv + h) * krow,
                 (size_t)krow);
          memcpy((char *)vd->v + sa_dtype_bytes(kt, vo), (const char *)vd->seq[r].v + (j * hkv + h) * vrow,
                 (size_t)vrow);
        }
      }
    vd->vl.block_table = vd->table;
    vd->vl.block_table_stride = stride;
    vd->vl.block_size = bs;
    vd->vl.num_blocks = nblocks;
    vd->vl.seqlens_kv = vd->kv_len;
  }
  vd->vl.cu_seqlens_q = vd->cu_q;
  /* the problem */
  int64_t kvmax = 0;
  for (int r = 0; r < s->n; r++)
    if (s->kv_len[r] > kvmax) kvmax = s->kv_len[r];
  p->batch = s->n;
  p->heads_q = hq, p->heads_kv = hkv;
  p->seq_q = rows, p->seq_kv = kvmax;
  p->head_dim = d, p->head_dim_v = dv;
  p->q = (simdattn_tensor){vd->q, qt, 0, d, hq * d};
  p->causal = b->causal, p->window = b->window, p->softcap = b->softcap;
  p->alibi_slopes = vd->seq[0].p.alibi_slopes;
  p->sinks = vd->seq[0].p.sinks;
  p->varlen = &vd->vl;
  /* out [rows][hq][dv] and lse [hq][rows], inside guards */
  vd->out_at = CASE_GUARD;
  vd->out_len = (size_t)(rows * hq * dv) + 2 * CASE_GUARD;
  vd->lse_at = CASE_GUARD;
  vd->lse_len = (size_t)(hq * rows) + 2 * CASE_GUARD;
  vd->out_buf = zalloc(sizeof(float) * vd->out_len);
  vd->lse_buf = zalloc(sizeof(float) * vd->lse_len);
  if (!vd->out_buf || !vd->lse_buf) return -1;
  p->out = vd->out_buf + vd->out_at;
  p->out_stride_head = dv, p->out_stride_seq = hq * dv;
  p->lse = b->lse ? vd->lse_buf + vd->lse_at : NULL;
  varlen_reset_outputs(vd);
  return 0;
}

void varlen_moved(varlen_data *vd) {
  vd->p.varlen = &vd->vl;
  vd->vl.cu_seqlens_q = vd->cu_q;
  if (vd->vl.seqlens_kv) vd->vl.seqlens_kv = vd->kv_len;
  if (vd->vl.cu_seqlens_kv) vd->vl.cu_seqlens_kv = vd->cu_kv;
}

void varlen_reset_outputs(varlen_data *vd) {
  const float sentinel = f_of(VL_SENTINEL_BITS);
  for (size_t t = 0; t < vd->out_len; t++) vd->out_buf[t] = sentinel;
  for (size_t t = 0; t < vd->lse_len; t++) vd->lse_buf[t] = sentinel;
}

int varlen_guards_intact(const varlen_data *vd) {
  const varlen_spec *s = &vd->spec;
  const int64_t hq = s->base.heads_q, dv = s->base.dv, rows = vd->rows;
  const int lse = s->base.lse;
  for (size_t t = 0; t < vd->out_len; t++) {
    const int64_t e = (int64_t)t - (int64_t)vd->out_at, row = e >= 0 ? e / (hq * dv) : -1;
    const int owned = e >= 0 && row < rows && row >= vd->cu_q[0] && row < vd->cu_q[s->n];
    if (!owned && sa_f32_to_bits(vd->out_buf[t]) != VL_SENTINEL_BITS) return 0;
  }
  for (size_t t = 0; t < vd->lse_len; t++) {
    const int64_t e = (int64_t)t - (int64_t)vd->lse_at, row = e >= 0 ? e % rows : -1;
    const int owned = lse && e >= 0 && e < hq * rows && row >= vd->cu_q[0] && row < vd->cu_q[s->n];
    if (!owned && sa_f32_to_bits(vd->lse_buf[t]) != VL_SENTINEL_BITS) return 0;
  }
  return 1;
}

void varlen_gather(const varlen_data *vd, int r, float *out, float *lse) {
  const varlen_spec *s = &vd->spec;
  const int64_t hq = s->base.heads_q, dv = s->base.dv, q0 = vd->cu_q[r], n = s->q_len[r];
  for (int64_t h = 0; h < hq; h++)
    for (int64_t i = 0; i < n; i++) {
      memcpy(out + (h * n + i) * dv, vd->p.out + ((q0 + i) * hq + h) * dv, sizeof(float) * (size_t)dv);
      if (lse) lse[h * n + i] = vd->p.lse ? vd->p.lse[h * vd->rows + q0 + i] : 0.0f;
    }
}

int varlen_same_bits(const varlen_data *vd, int r) {
  const varlen_spec *s = &vd->spec;
  const case_data *cd = &vd->seq[r];
  const int64_t hq = s->base.heads_q, dv = s->base.dv, q0 = vd->cu_q[r], n = s->q_len[r];
  for (int64_t h = 0; h < hq; h++)
    for (int64_t i = 0; i < n; i++) {
      for (int64_t x = 0; x < dv; x++) {
        const float a = vd->p.out[((q0 + i) * hq + h) * dv + x], c = case_out(cd, 0, h, i, x);
        if (sa_f32_to_bits(a) != sa_f32_to_bits(c)) return 0;
      }
      if (vd->p.lse && sa_f32_to_bits(vd->p.lse[h * vd->rows + q0 + i]) != sa_f32_to_bits(case_lse(cd, 0, h, i)))
        return 0;
    }
  return 1;
}

void varlen_free(varlen_data *vd) {
  for (int r = 0; r < vd->spec.n; r++) case_free(&vd->seq[r]);
  free(vd->table);
  free(vd->q);
  free(vd->k);
  free(vd->v);
  free(vd->out_buf);
  free(vd->lse_buf);
  memset(vd, 0, sizeof *vd);
}
