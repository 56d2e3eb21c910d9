/* tests/fuzz/fuzz_varlen.c: libFuzzer target — ragged batches and paged caches (problem.varlen)
 * from the input's bytes, valid or with one corrupted index, on every variant this CPU runs.
 *
 * The bytes choose heads (1-3 kv heads in groups of 1-3), head_dim 1-72 (head_dim_v too), the
 * dtypes, causal alignment, window, softcap, alibi, sinks, lse, 0-6 sequences of 0-8 query rows
 * and 0-69 keys, the K/V form (contiguous with gaps, vLLM's or FlashAttention's paged layout at
 * block sizes 1, 2, 3, 5, 16, 64), a shuffled block table whose unused entries are garbage and
 * whose unused blocks and slots hold NaN, and perhaps one corruption the library must refuse: a
 * decreasing cu_seqlens_q or cu_seqlens_kv, a sequence's rows past seq_q, a kv_len past seq_kv or
 * negative, a needed table entry outside [0, num_blocks), a table row too short for kv_len.
 * For each variant that accepts the dtypes:
 *   - a corrupted problem: SIMDATTN_ERR_INVALID, and nothing written (out and lse keep a sentinel);
 *   - a valid one: SIMDATTN_OK, nothing written outside the sequences' rows, and every sequence
 *     bitwise equal to simdattn_forward of it alone as a dense problem (batch 1, its K/V gathered)
 *     — the paged and ragged reads against the dense ones, which attn-check and fuzz_forward judge
 *     against the float64 oracle; 2 threads give the same bits as 1.
 * A paged cache may also be written by simdattn_kv_append (f32 sources or the cache's own dtype,
 * some rows skipped by slot -1, rows in a shuffled order, perhaps one bad slot the library must
 * refuse): the cache must then hold exactly the bytes of one built by copying, a refused call must
 * leave it untouched.
 * Any failure prints the case and aborts (libFuzzer keeps the input). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "simdattn.h"

typedef struct {
  const uint8_t *p;
  size_t n, at;
  uint64_t x;
} reader;
static uint8_t u8(reader *r) {
  if (r->at < r->n) return r->p[r->at++];
  r->x = r->x * 6364136223846793005ull + 1442695040888963407ull;
  return (uint8_t)(r->x >> 56);
}
static float val(reader *r) { return ((float)u8(r) - 127.5f) / 32.0f; }

#define SENTINEL 0x7fc5a5a5u
#define MAXR 6
static uint32_t bits(float f) { return sa_f32_to_bits(f); }

static void fail(const char *what, const char *variant, int corrupt) {
  fprintf(stderr, "fuzz_varlen: %s (variant %s, corruption %d): %s\n", what, variant, corrupt, simdattn_last_error());
  abort();
}

static void append_fail(const char *what) {
  fprintf(stderr, "fuzz_varlen: kv_append: %s: %s\n", what, simdattn_last_error());
  abort();
}
/* The paged cache K/V (built by copying) written again by simdattn_kv_append into NaN-filled
 * copies, sequence by sequence: the same bytes. The rows go in a shuffled order, some skipped
 * (slot -1, copied afterwards), from f32 rows or rows of the cache's dtype (the values are the
 * cache dtype's: f32 -> f16/bf16/fp8 is exact); perhaps first a call with one bad slot: refused,
 * nothing written. */
static void append_check(reader *r, simdattn_dtype kt, int64_t hkv, int64_t d, int64_t dv, int64_t bs, int64_t nblocks,
                         int R, const int32_t *kv_len, const int32_t *table, int64_t stride, void *const *dk,
                         void *const *dvv, const simdattn_tensor *K, const simdattn_tensor *V) {
  const size_t kbytes = (size_t)sa_dtype_bytes(kt, nblocks * hkv * bs * d),
               vbytes = (size_t)sa_dtype_bytes(kt, nblocks * hkv * bs * dv);
  char *kc = malloc(kbytes + 1), *vc = malloc(vbytes + 1), *ks = malloc(kbytes + 1), *vs = malloc(vbytes + 1);
  for (int64_t t = 0; t < nblocks * hkv * bs * d; t++) sa_store_f32(kc, kt, t, &(float){NAN}, 1);
  for (int64_t t = 0; t < nblocks * hkv * bs * dv; t++) sa_store_f32(vc, kt, t, &(float){NAN}, 1);
  const int f32_src = u8(r) % 2;
  const simdattn_dtype st = f32_src || !sa_dtype_float(kt) ? SIMDATTN_F32 : kt; /* (new rows: f32, f16, bf16) */
  for (int s = 0; s < R; s++) {
    const int64_t n = kv_len[s];
    if (n <= 0) continue;
    /* rows in a shuffled order: src row t is key perm[t]; the source's head stride 0 < its row stride */
    int32_t *slots = malloc(sizeof(int32_t) * (size_t)n), *perm = malloc(sizeof(int32_t) * (size_t)n);
    void *sk = malloc((size_t)sa_dtype_bytes(st, n * hkv * d) + 1),
         *sv = malloc((size_t)sa_dtype_bytes(st, n * hkv * dv) + 1);
    for (int64_t t = 0; t < n; t++) perm[t] = (int32_t)t;
    for (int64_t t = n - 1; t > 0; t--) {
      const int64_t u = u8(r) % (t + 1);
      const int32_t w = perm[t];
      perm[t] = perm[u], perm[u] = w;
    }
    float tmp[72];
    for (int64_t t = 0; t < n; t++) {
      const int64_t j = perm[t];
      slots[t] = u8(r) % 8 == 0 ? -1 : (int32_t)(table[s * stride + j / bs] * bs + j % bs);
      for (int64_t h = 0; h < hkv; h++) {
        for (int64_t x = 0; x < d; x++) tmp[x] = sa_load_f32(dk[s], kt, (j * hkv + h) * d + x);
        sa_store_f32(sk, st, (t * hkv + h) * d, tmp, d);
        for (int64_t x = 0; x < dv; x++) tmp[x] = sa_load_f32(dvv[s], kt, (j * hkv + h) * dv + x);
        sa_store_f32(sv, st, (t * hkv + h) * dv, tmp, dv);
      }
    }
    simdattn_kv_append_args a;
    memset(&a, 0, sizeof a);
    a.struct_size = SIMDATTN_KV_APPEND_SIZE;
    a.n_rows = n, a.heads_kv = hkv, a.head_dim = d, a.head_dim_v = dv;
    a.k = (simdattn_tensor){sk, st, 0, d, hkv * d};
    a.v = (simdattn_tensor){sv, st, 0, dv, hkv * dv};
    a.slots = slots;
    a.k_cache = (simdattn_cache){kc, kt, K->stride_batch, K->stride_head, K->stride_seq};
    a.v_cache = (simdattn_cache){vc, kt, V->stride_batch, V->stride_head, V->stride_seq};
    a.block_size = bs, a.num_blocks = nblocks;
    if (u8(r) % 4 == 0) { /* one bad slot: refused, the caches untouched */
      const int64_t t = u8(r) % n;
      const int32_t keep = slots[t];
      slots[t] = u8(r) % 2 ? (int32_t)(nblocks * bs + u8(r) % 3) : -2 - u8(r) % 3;
      memcpy(ks, kc, kbytes), memcpy(vs, vc, vbytes);
      if (simdattn_kv_append(&a) != SIMDATTN_ERR_INVALID) append_fail("a bad slot was not refused");
      if (memcmp(ks, kc, kbytes) || memcmp(vs, vc, vbytes)) append_fail("a refused call wrote the cache");
      slots[t] = keep;
    }
    if (simdattn_kv_append(&a) != SIMDATTN_OK) append_fail("a valid call failed");
    for (int64_t t = 0; t < n; t++) /* the skipped rows, by copying */
      if (slots[t] == -1) {
        const int64_t j = perm[t], blk = table[s * stride + j / bs], slot = j % bs;
        for (int64_t h = 0; h < hkv; h++) {
          memcpy(kc + sa_dtype_bytes(kt, blk * K->stride_batch + h * K->stride_head + slot * K->stride_seq),
                 (char *)dk[s] + sa_dtype_bytes(kt, (j * hkv + h) * d), (size_t)sa_dtype_bytes(kt, d));
          memcpy(vc + sa_dtype_bytes(kt, blk * V->stride_batch + h * V->stride_head + slot * V->stride_seq),
                 (char *)dvv[s] + sa_dtype_bytes(kt, (j * hkv + h) * dv), (size_t)sa_dtype_bytes(kt, dv));
        }
      }
    free(slots), free(perm), free(sk), free(sv);
  }
  if (memcmp(kc, K->data, kbytes) || memcmp(vc, V->data, vbytes))
    append_fail("the appended cache differs from the copied one");
  free(kc), free(vc), free(ks), free(vs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  reader rd = {data, size, 0, size * 0x9e3779b97f4a7c15ull + 1};
  reader *r = &rd;
  const int64_t hkv = 1 + u8(r) % 3, group = 1 + u8(r) % 3, hq = hkv * group;
  const int64_t d = 1 + u8(r) % 72, dv = u8(r) % 2 ? d : 1 + u8(r) % 72;
  /* K/V also fp8 (E4M3, E5M2: element-wise formats, unscaled; the block formats are attn-check's and test_quant's) */
  static const simdattn_dtype kts[5] = {SIMDATTN_F32, SIMDATTN_F16, SIMDATTN_BF16, SIMDATTN_FP8E4M3, SIMDATTN_FP8E5M2};
  const simdattn_dtype qt = (simdattn_dtype)(u8(r) % 3), kt = kts[u8(r) % 5];
  const simdattn_causal causal = (simdattn_causal)(u8(r) % 3);
  const int64_t window = causal && u8(r) % 3 == 0 ? 1 + u8(r) % 20 : 0;
  const float softcap = u8(r) % 4 == 0 ? 2.0f + (float)(u8(r) % 30) : 0.0f;
  const int alibi = u8(r) % 3 == 0, sinks = u8(r) % 3 == 0, lse_on = u8(r) % 2;
  const int R = u8(r) % (MAXR + 1);
  const int form = u8(r) % 3; /* 0 contiguous, 1 vLLM paged, 2 FlashAttention paged */
  static const int64_t sizes[] = {1, 2, 3, 5, 16, 64};
  const int64_t bs = form ? sizes[u8(r) % 6] : 0;
  int32_t q_len[MAXR], kv_len[MAXR];
  int64_t kvmax = 0, rows = 1; /* a gap row first */
  for (int s = 0; s < R; s++) {
    q_len[s] = u8(r) % 4 == 0 ? 0 : 1 + u8(r) % 8;
    kv_len[s] = u8(r) % 5 == 0 ? 0 : u8(r) % 70;
    if (kv_len[s] > kvmax) kvmax = kv_len[s];
    rows += q_len[s];
  }
  rows += 1; /* and a spare row */
  /* q [rows][hq][d] */
  const int64_t qe = rows * hq * d;
  void *q = calloc((size_t)sa_dtype_bytes(qt, qe) + 1, 1);
  for (int64_t t = 0; t < qe; t++) {
    const float v = val(r);
    sa_store_f32(q, qt, t, &v, 1);
  }
  int32_t cu_q[MAXR + 1], cu_kv[MAXR + 1];
  cu_q[0] = 1;
  for (int s = 0; s < R; s++) cu_q[s + 1] = cu_q[s] + q_len[s];
  /* each sequence's dense K/V [kv][hkv][d] */
  void *dk[MAXR], *dvv[MAXR];
  for (int s = 0; s < R; s++) {
    dk[s] = calloc((size_t)sa_dtype_bytes(kt, kv_len[s] * hkv * d) + 1, 1);
    dvv[s] = calloc((size_t)sa_dtype_bytes(kt, kv_len[s] * hkv * dv) + 1, 1);
    for (int64_t t = 0; t < kv_len[s] * hkv * d; t++) {
      const float v = val(r);
      sa_store_f32(dk[s], kt, t, &v, 1);
    }
    for (int64_t t = 0; t < kv_len[s] * hkv * dv; t++) {
      const float v = val(r);
      sa_store_f32(dvv[s], kt, t, &v, 1);
    }
  }
  /* the K/V store */
  simdattn_varlen vl;
  memset(&vl, 0, sizeof vl);
  simdattn_tensor K, V;
  void *kbuf, *vbuf;
  int32_t *table = NULL;
  int64_t stride = 0, nblocks = 0;
  if (!form) {
    cu_kv[0] = u8(r) % 3;
    for (int s = 0; s < R; s++) cu_kv[s + 1] = cu_kv[s] + kv_len[s] + u8(r) % 3;
    const int64_t krows = R ? cu_kv[R] : 0;
    kbuf = calloc((size_t)sa_dtype_bytes(kt, krows * hkv * d) + 1, 1);
    vbuf = calloc((size_t)sa_dtype_bytes(kt, krows * hkv * dv) + 1, 1);
    for (int64_t t = 0; t < krows * hkv * d; t++) sa_store_f32(kbuf, kt, t, &(float){NAN}, 1);
    for (int64_t t = 0; t < krows * hkv * dv; t++) sa_store_f32(vbuf, kt, t, &(float){NAN}, 1);
    for (int s = 0; s < R; s++) {
      memcpy((char *)kbuf + sa_dtype_bytes(kt, cu_kv[s] * hkv * d), dk[s],
             (size_t)sa_dtype_bytes(kt, kv_len[s] * hkv * d));
      memcpy((char *)vbuf + sa_dtype_bytes(kt, cu_kv[s] * hkv * dv), dvv[s],
             (size_t)sa_dtype_bytes(kt, kv_len[s] * hkv * dv));
    }
    K = (simdattn_tensor){kbuf, kt, 0, d, hkv * d};
    V = (simdattn_tensor){vbuf, kt, 0, dv, hkv * dv};
    vl.cu_seqlens_kv = cu_kv;
    vl.seqlens_kv = kv_len;
  } else {
    int64_t need = 0;
    for (int s = 0; s < R; s++) {
      const int64_t nb = (kv_len[s] + bs - 1) / bs;
      need += nb;
      if (nb > stride) stride = nb;
    }
    nblocks = need + u8(r) % 3;
    stride += u8(r) % 2;
    table = malloc(sizeof(int32_t) * (size_t)(R * stride + 1));
    for (int64_t t = 0; t < R * stride; t++) table[t] = (int32_t)(0x7fff0000 + u8(r));
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)(nblocks + 1));
    for (int64_t t = 0; t < nblocks; t++) perm[t] = t;
    for (int64_t t = nblocks - 1; t > 0; t--) {
      const int64_t u = u8(r) % (t + 1), w = perm[t];
      perm[t] = perm[u], perm[u] = w;
    }
    int64_t next = 0;
    for (int s = 0; s < R; s++)
      for (int64_t b = 0; b < (kv_len[s] + bs - 1) / bs; b++) table[s * stride + b] = (int32_t)perm[next++];
    free(perm);
    const int vllm = form == 1;
    K = (simdattn_tensor){NULL, kt, hkv * bs * d, vllm ? bs * d : d, vllm ? d : hkv * d};
    V = (simdattn_tensor){NULL, kt, hkv * bs * dv, vllm ? bs * dv : dv, vllm ? dv : hkv * dv};
    kbuf = calloc((size_t)sa_dtype_bytes(kt, nblocks * hkv * bs * d) + 1, 1);
    vbuf = calloc((size_t)sa_dtype_bytes(kt, nblocks * hkv * bs * dv) + 1, 1);
    for (int64_t t = 0; t < nblocks * hkv * bs * d; t++) sa_store_f32(kbuf, kt, t, &(float){NAN}, 1);
    for (int64_t t = 0; t < nblocks * hkv * bs * dv; t++) sa_store_f32(vbuf, kt, t, &(float){NAN}, 1);
    for (int s = 0; s < R; s++)
      for (int64_t j = 0; j < kv_len[s]; j++)
        for (int64_t h = 0; h < hkv; h++) {
          const int64_t blk = table[s * stride + j / bs], slot = j % bs;
          memcpy((char *)kbuf + sa_dtype_bytes(kt, blk * K.stride_batch + h * K.stride_head + slot * K.stride_seq),
                 (char *)dk[s] + sa_dtype_bytes(kt, (j * hkv + h) * d), (size_t)sa_dtype_bytes(kt, d));
          memcpy((char *)vbuf + sa_dtype_bytes(kt, blk * V.stride_batch + h * V.stride_head + slot * V.stride_seq),
                 (char *)dvv[s] + sa_dtype_bytes(kt, (j * hkv + h) * dv), (size_t)sa_dtype_bytes(kt, dv));
        }
    K.data = kbuf, V.data = vbuf;
    if (u8(r) % 2) append_check(r, kt, hkv, d, dv, bs, nblocks, R, kv_len, table, stride, dk, dvv, &K, &V);
    vl.block_table = table;
    vl.block_table_stride = stride;
    vl.block_size = bs;
    vl.num_blocks = nblocks;
    vl.seqlens_kv = kv_len;
  }
  vl.cu_seqlens_q = cu_q;
  float slopes[9], sink[9];
  for (int h = 0; h < 9; h++) slopes[h] = exp2f(-(float)(h + 1)), sink[h] = val(r);
  const int64_t on = rows * hq * dv + 64, ln = hq * rows + 64;
  float *out = malloc(sizeof(float) * (size_t)on), *lse = malloc(sizeof(float) * (size_t)ln);
  simdattn_problem p;
  memset(&p, 0, sizeof p);
  p.struct_size = SIMDATTN_PROBLEM_SIZE;
  p.batch = R, p.heads_q = hq, p.heads_kv = hkv, p.seq_q = rows, p.seq_kv = kvmax, p.head_dim = d, p.head_dim_v = dv;
  p.q = (simdattn_tensor){q, qt, 0, d, hq * d};
  p.k = K, p.v = V;
  p.out = out + 32, p.out_stride_head = dv, p.out_stride_seq = hq * dv;
  p.lse = lse_on ? lse + 32 : NULL;
  p.causal = causal, p.window = window, p.softcap = softcap;
  p.alibi_slopes = alibi ? slopes : NULL;
  p.sinks = sinks ? sink : NULL;
  p.varlen = &vl;
  /* one corruption, perhaps */
  int corrupt = 0;
  const int pick = u8(r) % 12;
  if (R > 0 && pick < 8) {
    const int s = u8(r) % R;
    if (pick == 0 && q_len[s] > 0) cu_q[s + 1] = cu_q[s] - 1, corrupt = 1;
    else if (pick == 1) cu_q[R] = (int32_t)rows + 1 + u8(r) % 3, corrupt = 2;
    else if (pick == 2 && kv_len[s] > 0) p.seq_kv = kv_len[s] - 1, corrupt = 3;
    else if (pick == 3 && form) kv_len[s] = -1 - u8(r) % 5, corrupt = 4;
    else if (pick == 4 && form && kv_len[s] > 0) {
      const int64_t b = u8(r) % ((kv_len[s] + bs - 1) / bs);
      table[s * stride + b] = u8(r) % 2 ? (int32_t)nblocks + u8(r) % 3 : -1 - u8(r) % 3;
      corrupt = 5;
    } else if (pick == 5 && form && kv_len[s] > bs) vl.block_table_stride = (kv_len[s] + bs - 1) / bs - 1, corrupt = 6;
    else if (pick == 6 && !form && kv_len[s] > 0) kv_len[s] = cu_kv[s + 1] - cu_kv[s] + 1, corrupt = 7;
    else if (pick == 7 && !form && R > 1 && s + 1 < R) cu_kv[s + 1] = cu_kv[s] - 1, corrupt = 8;
  }
  for (int t = 0; t < simdattn_variant_count(); t++) {
    simdattn_variant_info info;
    simdattn_variant_get(t, &info);
    if (!info.available || !(info.dtypes & (1u << qt)) || !(info.dtypes & (1u << kt))) continue;
    for (int64_t e = 0; e < on; e++) out[e] = sa_bits_to_f32(SENTINEL);
    for (int64_t e = 0; e < ln; e++) lse[e] = sa_bits_to_f32(SENTINEL);
    const simdattn_options one = {1, info.name, NULL, NULL, 0};
    const simdattn_status st = simdattn_forward(&p, &one);
    if (corrupt) {
      if (st != SIMDATTN_ERR_INVALID) fail("a corrupted problem was not refused", info.name, corrupt);
      for (int64_t e = 0; e < on; e++)
        if (bits(out[e]) != SENTINEL) fail("a refused problem wrote out", info.name, corrupt);
      for (int64_t e = 0; e < ln; e++)
        if (bits(lse[e]) != SENTINEL) fail("a refused problem wrote lse", info.name, corrupt);
      continue;
    }
    if (st != SIMDATTN_OK) fail("a valid problem failed", info.name, 0);
    /* nothing outside the sequences' rows */
    for (int64_t e = 0; e < on; e++) {
      const int64_t row = (e - 32) / (hq * dv);
      const int owned = e >= 32 && e < 32 + rows * hq * dv && row >= cu_q[0] && row < cu_q[R];
      if (!owned && bits(out[e]) != SENTINEL) fail("wrote outside the sequences' out rows", info.name, 0);
    }
    for (int64_t e = 0; e < ln; e++) {
      const int64_t row = (e - 32) % rows;
      const int owned = lse_on && e >= 32 && e < 32 + hq * rows && row >= cu_q[0] && row < cu_q[R];
      if (!owned && bits(lse[e]) != SENTINEL) fail("wrote outside the sequences' lse entries", info.name, 0);
    }
    /* each sequence alone, dense: the same bits */
    for (int s = 0; s < R; s++) {
      if (!q_len[s]) continue;
      float *o1 = malloc(sizeof(float) * (size_t)(q_len[s] * hq * dv + 1)),
            *l1 = malloc(sizeof(float) * (size_t)(hq * q_len[s] + 1));
      simdattn_problem dp = p;
      dp.varlen = NULL;
      dp.batch = 1, dp.seq_q = q_len[s], dp.seq_kv = kv_len[s];
      dp.q.data = (const char *)q + sa_dtype_bytes(qt, cu_q[s] * hq * d);
      dp.k = (simdattn_tensor){dk[s], kt, 0, d, hkv * d};
      dp.v = (simdattn_tensor){dvv[s], kt, 0, dv, hkv * dv};
      dp.out = o1, dp.out_stride_batch = 0;
      dp.lse = lse_on ? l1 : NULL;
      if (simdattn_forward(&dp, &one) != SIMDATTN_OK) fail("the dense sequence failed", info.name, 0);
      for (int64_t i = 0; i < q_len[s]; i++)
        for (int64_t h = 0; h < hq; h++) {
          if (memcmp(o1 + (i * hq + h) * dv, p.out + ((cu_q[s] + i) * hq + h) * dv, sizeof(float) * (size_t)dv))
            fail("a sequence's out differs from its dense forward", info.name, 0);
          if (lse_on && bits(l1[h * q_len[s] + i]) != bits(p.lse[h * rows + cu_q[s] + i]))
            fail("a sequence's lse differs from its dense forward", info.name, 0);
        }
      free(o1);
      free(l1);
    }
    /* 2 threads: the same bits */
    float *o2 = malloc(sizeof(float) * (size_t)on), *l2 = malloc(sizeof(float) * (size_t)ln);
    memcpy(o2, out, sizeof(float) * (size_t)on), memcpy(l2, lse, sizeof(float) * (size_t)ln);
    const simdattn_options two = {2, info.name, NULL, NULL, 0};
    if (simdattn_forward(&p, &two) != SIMDATTN_OK || memcmp(o2, out, sizeof(float) * (size_t)on) ||
        memcmp(l2, lse, sizeof(float) * (size_t)ln))
      fail("2 threads differ from 1", info.name, 0);
    free(o2);
    free(l2);
  }
  for (int s = 0; s < R; s++) free(dk[s]), free(dvv[s]);
  free(q);
  free(kbuf);
  free(vbuf);
  free(table);
  free(out);
  free(lse);
  return 0;
}
