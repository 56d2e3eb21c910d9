/* scripts/bench-pair.c: a before/after comparison of two builds of the library inside one process
 * (scripts/bench-pair compiles and runs it). Each build's libsimdattn.so is loaded into its own
 * link-map namespace (dlmopen), and the two builds' simdattn_forward run alternately on the same
 * data, round after round, the side going first alternating too. On a shared machine whose other
 * tenants come and go over seconds, each round's A/B ratio compares two moments a few milliseconds
 * apart: the median and quartiles of those paired ratios say whether a change helps, where
 * per-process best-of rounds (scripts/bench-ab) of memory-bound decode rows moved by +-30% with
 * the code unchanged (Zen 3, loud host; the paired medians of a build against itself: 0.98-1.01).
 * One decode shape per run: seq_q 1, BOTTOM_RIGHT, head_dim d, f32 q, K/V in a layout and dtype.
 * The layout `bhsd/bshd` gives A head-major K/V and B the interleaved layout of the same values
 * (LIB_A and LIB_B may be one build): the BSHD-against-BHSD ratio, paired. `pagedN` (vLLM's
 * [blocks][heads][N][d]) and `bshd/pagedN` (FlashAttention's [blocks][N][heads][d]) give both sides
 * a paged cache of block size N, its blocks in a shuffled order (BENCH_PAIR_SHUFFLE=0: in order);
 * `bhsd/pagedN` and `bhsd/bshd/pagedN` give A the head-major cache and B the paged one: attn-bench's
 * paged-against-contiguous ratio, paired. K and V start 64 bytes past a page, as attn-bench's do
 * (BENCH_PAIR_OFFSET=N: N bytes past one).
 * DTYPE is K's and V's format, or K+V where they differ (attn-bench's spelling: q8_0+q4_0): f32, f16,
 * bf16, or a quantized cache (q8_0, q4_0, fp8e4m3, fp8e5m2) of the same f32 values converted by the
 * library's own simdattn_quantize (found in LIB_B, else LIB_A), fp8 with a per-tensor scale. GB/s
 * counts each format's real bytes (34/32 per q8_0 element, 18/32 per q4_0, 1 per fp8). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "simdattn.h"

typedef simdattn_status (*forward_fn)(const simdattn_problem *, const simdattn_options *);
typedef const char *(*error_fn)(void);
typedef simdattn_status (*quantize_fn)(void *, simdattn_dtype, const void *, simdattn_dtype, int64_t, float);

/* a format's name (attn-bench's), its bytes for n elements (n a multiple of 32 for the block formats) */
static const struct {
  const char *name;
  simdattn_dtype dt;
  int num, den; /* bytes per element: num / den */
} formats[] = {{"f32", SIMDATTN_F32, 4, 1},         {"f16", SIMDATTN_F16, 2, 1},
               {"bf16", SIMDATTN_BF16, 2, 1},       {"q8_0", SIMDATTN_Q8_0, 34, 32},
               {"q4_0", SIMDATTN_Q4_0, 18, 32},     {"fp8e4m3", SIMDATTN_FP8E4M3, 1, 1},
               {"fp8e5m2", SIMDATTN_FP8E5M2, 1, 1}};
enum { NFORMATS = sizeof formats / sizeof formats[0] };
static int format_of(const char *name, size_t len) {
  for (int i = 0; i < NFORMATS; i++)
    if (strlen(formats[i].name) == len && strncmp(formats[i].name, name, len) == 0) return i;
  return -1;
}
static size_t fbytes(int f, size_t n) { return n * (size_t)formats[f].num / (size_t)formats[f].den; }

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
static forward_fn load(const char *path, error_fn *err, void **handle) {
  void *lib = *handle = dlmopen(LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "bench-pair: %s\n", dlerror());
    exit(2);
  }
  forward_fn f = (forward_fn)(uintptr_t)dlsym(lib, "simdattn_forward");
  *err = (error_fn)(uintptr_t)dlsym(lib, "simdattn_last_error");
  if (!f || !*err) {
    fprintf(stderr, "bench-pair: %s has no simdattn_forward\n", path);
    exit(2);
  }
  return f;
}

int main(int argc, char **argv) {
  if (argc != 11) {
    fprintf(stderr,
            "usage: bench-pair LIB_A LIB_B HEADS_Q HEADS_KV SEQ_KV HEAD_DIM LAYOUT DTYPE[+V_DTYPE] THREADS ROUNDS\n"
            "  LAYOUT: bhsd, bshd, bhsd/bshd, pagedN, bshd/pagedN, bhsd/pagedN, bhsd/bshd/pagedN\n"
            "  DTYPE: f32, f16, bf16, q8_0, q4_0, fp8e4m3, fp8e5m2\n");
    return 2;
  }
  error_fn err[2];
  void *lib[2];
  const forward_fn fn[2] = {load(argv[1], &err[0], &lib[0]), load(argv[2], &err[1], &lib[1])};
  const int64_t hq = atoll(argv[3]), hkv = atoll(argv[4]), kv = atoll(argv[5]), d = atoll(argv[6]);
  /* a paged layout: [bhsd/][bshd/]pagedN (A contiguous head-major with the bhsd/ prefix, else paged too) */
  const char *lay = argv[7];
  const int paged_b_only = strncmp(lay, "bhsd/", 5) == 0 && strstr(lay, "paged") != NULL;
  if (paged_b_only) lay += 5;
  const int paged_fa = strncmp(lay, "bshd/paged", 10) == 0;
  if (paged_fa) lay += 5;
  int64_t bsz = 0;
  if (strncmp(lay, "paged", 5) == 0) {
    char *e = NULL;
    bsz = strtoll(lay + 5, &e, 10);
    if (bsz < 1 || *e) {
      fprintf(stderr, "bench-pair: bad layout %s\n", argv[7]);
      return 2;
    }
  }
  const int both = strcmp(argv[7], "bhsd/bshd") == 0;
  const int bshd = strcmp(argv[7], "bshd") == 0, threads = atoi(argv[9]), rounds = atoi(argv[10]);
  /* K's format, and V's after a '+' (else K's) */
  const char *plus = strchr(argv[8], '+');
  const int kf = format_of(argv[8], plus ? (size_t)(plus - argv[8]) : strlen(argv[8]));
  const int vf = plus ? format_of(plus + 1, strlen(plus + 1)) : kf;
  if (kf < 0 || vf < 0) {
    fprintf(stderr, "bench-pair: bad dtype %s (f32, f16, bf16, q8_0, q4_0, fp8e4m3, fp8e5m2; K+V for two)\n", argv[8]);
    return 2;
  }
  const simdattn_dtype kdt = formats[kf].dt, vdt = formats[vf].dt;
  if (hq < 1 || hkv < 1 || hq % hkv || kv < 1 || d < 1 || rounds < 1 || rounds > 100000 ||
      (!bshd && !both && !bsz && strcmp(argv[7], "bhsd") != 0)) {
    fprintf(stderr, "bench-pair: bad shape, layout or rounds\n");
    return 2;
  }
  if ((formats[kf].den > 1 || formats[vf].den > 1) && d % 32) {
    fprintf(stderr, "bench-pair: a block format (q8_0, q4_0) needs HEAD_DIM a multiple of 32, not %lld\n", (long long)d);
    return 2;
  }
  /* BENCH_PAIR_BATCH=B: a dense batch of B sequences of that shape (default 1) */
  const char *batch_env = getenv("BENCH_PAIR_BATCH");
  const int64_t B = batch_env && *batch_env ? atoll(batch_env) : 1;
  if (B < 1 || B > 4096) {
    fprintf(stderr, "bench-pair: BENCH_PAIR_BATCH must be 1-4096, not %s\n", batch_env);
    return 2;
  }
  const size_t n = (size_t)(B * hkv * kv * d);
  float *q = malloc(sizeof(float) * (size_t)(B * hq * d)), *out = malloc(sizeof(float) * (size_t)(B * hq * d));
  /* K and V start `offset` bytes past a page (BENCH_PAIR_OFFSET, 0-4095; default 64: where glibc's
   * aligned_alloc and posix_memalign of 64 put a large block, i.e. attn-bench's inputs and PyTorch's
   * CPU tensors; malloc's is 16, mmap's 0). The offset changes comparisons: Zen 5, 32x8 heads d128
   * f32 seq_kv 32768, 1 thread, ca0abe7 against e3c62ca (paired medians): 0.93-0.96x at 64 and 80,
   * 1.04x at 256, 1.08-1.14x at 0, 16 and 2048. This tool used malloc (16) until 2026-12-03. */
  const char *off_env = getenv("BENCH_PAIR_OFFSET");
  char *off_end = NULL;
  const long offset = off_env && *off_env ? strtol(off_env, &off_end, 10) : 64;
  if (offset < 0 || offset > 4095 || (off_end && *off_end)) {
    fprintf(stderr, "bench-pair: BENCH_PAIR_OFFSET must be 0-4095 bytes, not %s\n", off_env);
    return 2;
  }
  const size_t k_alloc = (fbytes(kf, n) + (size_t)offset + 4095) / 4096 * 4096;
  const size_t v_alloc = (fbytes(vf, n) + (size_t)offset + 4095) / 4096 * 4096;
  unsigned char *k_page = aligned_alloc(4096, k_alloc), *v_page = aligned_alloc(4096, v_alloc);
  unsigned char *k = k_page ? k_page + offset : NULL, *v = v_page ? v_page + offset : NULL;
  double *ratio = malloc(sizeof(double) * (size_t)rounds);
  if (!q || !out || !k || !v || !ratio) return 2;
  for (int64_t i = 0; i < B * hq * d; i++) q[i] = (float)(i % 13) * 0.01f;
  quantize_fn quant = NULL;
  /* fp8's per-tensor scale: the values below (|x| < 0.5) span fp8 codes up to 2^4 */
  static const float fp8_scale = 1.0f / 32;
  for (int side = 0; side < 2; side++) {
    const int f = side ? vf : kf;
    unsigned char *dst = side ? v : k;
    const simdattn_dtype t = formats[f].dt;
    if (t == SIMDATTN_F32 || t == SIMDATTN_F16 || t == SIMDATTN_BF16) {
      for (size_t i = 0; i < n; i++) { /* small values of every dtype: 0x3c00 is 1.0 in f16, 0x3f80 in bf16 */
        const float x = (float)(i % 97) * 0.01f;
        const uint16_t h = (uint16_t)((t == SIMDATTN_F16 ? 0x2c00 : 0x3c00) + i % 97);
        if (t == SIMDATTN_F32) memcpy(dst + 4 * i, &x, 4);
        else memcpy(dst + 2 * i, &h, 2);
      }
      continue;
    }
    /* a quantized cache: the library quantizes f32 values (signed, of several magnitudes per block) */
    if (!quant) quant = (quantize_fn)(uintptr_t)dlsym(lib[1], "simdattn_quantize");
    if (!quant) quant = (quantize_fn)(uintptr_t)dlsym(lib[0], "simdattn_quantize");
    float *src = malloc(sizeof(float) * n);
    if (!quant || !src) {
      fprintf(stderr, "bench-pair: %s needs simdattn_quantize (library 0.4 or later)\n", formats[f].name);
      return 2;
    }
    for (size_t i = 0; i < n; i++) src[i] = ((float)(i % 89) - 44.0f) * (0.001f + 0.0001f * (float)(i / 32 % 7));
    const float sc = t == SIMDATTN_FP8E4M3 || t == SIMDATTN_FP8E5M2 ? fp8_scale : 0.0f;
    if (quant(dst, t, src, SIMDATTN_F32, (int64_t)n, sc) != SIMDATTN_OK) {
      fprintf(stderr, "bench-pair: simdattn_quantize to %s failed\n", formats[f].name);
      return 2;
    }
    free(src);
  }
  simdattn_problem p = {.struct_size = SIMDATTN_PROBLEM_SIZE,
                        .batch = B,
                        .heads_q = hq,
                        .heads_kv = hkv,
                        .seq_q = 1,
                        .seq_kv = kv,
                        .head_dim = d,
                        .causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT,
                        .out = out,
                        .out_stride_batch = hq * d,
                        .out_stride_head = d,
                        .out_stride_seq = d};
  if (kdt == SIMDATTN_FP8E4M3 || kdt == SIMDATTN_FP8E5M2) p.k_scale = &fp8_scale;
  if (vdt == SIMDATTN_FP8E4M3 || vdt == SIMDATTN_FP8E5M2) p.v_scale = &fp8_scale;
  p.q = (simdattn_tensor){q, SIMDATTN_F32, hq * d, d, d};
  /* head-major (BHSD) or interleaved (BSHD) views of the same buffers */
  const int64_t sb = hkv * kv * d; /* a sequence's K (or V) */
  const simdattn_tensor k_bhsd = {k, kdt, sb, kv * d, d}, v_bhsd = {v, vdt, sb, kv * d, d};
  const simdattn_tensor k_bshd = {k, kdt, sb, d, hkv * d}, v_bshd = {v, vdt, sb, d, hkv * d};
  p.k = bshd ? k_bshd : k_bhsd;
  p.v = bshd ? v_bshd : v_bhsd;
  simdattn_problem pp[2] = {p, p};
  if (both) pp[1].k = k_bshd, pp[1].v = v_bshd; /* B: the interleaved layout */
  /* a paged cache of the same values: one sequence (the batch's first), ceil(kv / N) blocks in a
   * shuffled order (a fixed generator), each holding its keys' rows of every head */
  int32_t cu_q[2] = {0, 1}, kv_len[1] = {(int32_t)kv};
  const int64_t nb = (kv + bsz - 1) / (bsz ? bsz : 1);
  int32_t *table = bsz ? malloc(sizeof(int32_t) * (size_t)nb) : NULL;
  unsigned char *kp = NULL, *vp = NULL;
  simdattn_varlen vl = {0};
  if (bsz) {
    if (B != 1) {
      fprintf(stderr, "bench-pair: paged layouts take one sequence (BENCH_PAIR_BATCH 1)\n");
      return 2;
    }
    const size_t kpbytes = fbytes(kf, (size_t)(nb * bsz * hkv * d)), vpbytes = fbytes(vf, (size_t)(nb * bsz * hkv * d));
    kp = aligned_alloc(4096, (kpbytes + (size_t)offset + 4095) / 4096 * 4096);
    vp = aligned_alloc(4096, (vpbytes + (size_t)offset + 4095) / 4096 * 4096);
    if (!table || !kp || !vp) return 2;
    kp += offset, vp += offset;
    memset(kp, 0xff, kpbytes), memset(vp, 0xff, vpbytes); /* NaN in every unused slot (f32, f16, bf16) */
    for (int64_t t = 0; t < nb; t++) table[t] = (int32_t)t;
    const char *sh = getenv("BENCH_PAIR_SHUFFLE");
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int64_t t = nb - 1; t > 0 && !(sh && strcmp(sh, "0") == 0); t--) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      const int64_t u = (int64_t)(x % (uint64_t)(t + 1));
      const int32_t w = table[t];
      table[t] = table[u], table[u] = w;
    }
    const int64_t bstride = hkv * bsz * d, hstride = paged_fa ? d : bsz * d, sstride = paged_fa ? hkv * d : d;
    for (int64_t j = 0; j < kv; j++)
      for (int64_t h = 0; h < hkv; h++) {
        /* (element offsets: multiples of d, so of 32 for the block formats) */
        const size_t to = (size_t)(table[j / bsz] * bstride + h * hstride + (j % bsz) * sstride);
        const size_t from = (size_t)((h * kv + j) * d);
        memcpy(kp + fbytes(kf, to), k + fbytes(kf, from), fbytes(kf, (size_t)d));
        memcpy(vp + fbytes(vf, to), v + fbytes(vf, from), fbytes(vf, (size_t)d));
      }
    vl = (simdattn_varlen){.cu_seqlens_q = cu_q,
                           .seqlens_kv = kv_len,
                           .block_table = table,
                           .block_table_stride = nb,
                           .block_size = bsz,
                           .num_blocks = nb};
    simdattn_problem pg = p;
    pg.k = (simdattn_tensor){kp, kdt, bstride, hstride, sstride};
    pg.v = (simdattn_tensor){vp, vdt, bstride, hstride, sstride};
    pg.varlen = &vl;
    pg.q.stride_seq = hq * d, pg.q.stride_head = d;
    pg.out_stride_seq = hq * d, pg.out_stride_head = d;
    pp[1] = pg;
    if (!paged_b_only) pp[0] = pg;
  }
  const simdattn_options opt = {.n_threads = threads};
  /* calls per timed side: about a millisecond or more of work */
  const double bytes = (double)fbytes(kf, n) + (double)fbytes(vf, n);
  const int inner = bytes >= 64e6 ? 1 : (int)(64e6 / bytes) + 1;
  double best[2] = {1e30, 1e30};
  for (int r = -2; r < rounds; r++) { /* two rounds of warm-up */
    double t[2];
    for (int s = 0; s < 2; s++) {
      const int side = (r + s) & 1;
      const double t0 = now();
      for (int i = 0; i < inner; i++)
        if (fn[side](&pp[side], &opt) != SIMDATTN_OK) {
          fprintf(stderr, "bench-pair: build %c: %s\n", "AB"[side], err[side]());
          return 1;
        }
      t[side] = (now() - t0) / inner;
    }
    if (r < 0) continue;
    ratio[r] = t[0] / t[1];
    for (int s = 0; s < 2; s++) best[s] = t[s] < best[s] ? t[s] : best[s];
  }
  qsort(ratio, (size_t)rounds, sizeof(double), cmp_double);
  if (B > 1) printf("batch %lld, ", (long long)B);
  printf(
      "h%lldx%lld d%lld kv%lld %s %s t%d: A %.2f GB/s, B %.2f GB/s (best of %d); B speedup: paired median %.3f "
      "(quartiles %.3f %.3f), best %.3f\n",
      (long long)hq, (long long)hkv, (long long)d, (long long)kv, argv[7], argv[8], threads, bytes / best[0] / 1e9,
      bytes / best[1] / 1e9, rounds, ratio[rounds / 2], ratio[rounds / 4], ratio[(3 * rounds) / 4], best[0] / best[1]);
  return 0;
}
