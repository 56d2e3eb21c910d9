/* scripts/out-pair.c: do two builds of the library give the same outputs? (scripts/out-pair compiles
 * and runs it.) Each build's libsimdattn.so is loaded into its own link-map namespace (dlmopen), as
 * scripts/bench-pair does, and both run the same random quantized problems through every variant that
 * LIB_A's registry says this CPU runs and that takes the format: GQA groups of 1-8 (4 most often:
 * decode's own quantized tiles), head_dim 40-128 and head_dim_v apart at times, 1-3000 keys, seq_q
 * 1-5, head-major or interleaved K/V, windows, scales per tensor or per kv head, 1 or 2 threads on
 * either side, and K and V bytes drawn at random with the format's NaN (and, for E5M2, inf) codes in
 * 0-30% of the rows; or q8_0 / q4_0 caches (head_dim 32-256): random q bytes under random finite f16
 * block d's, some rows with a d of inf, NaN or zero. out and lse must match bit for bit, but for a NaN's sign and payload (which
 * FMA operand order decides: any NaN matches any NaN). For a kernel change that claims the same bits;
 * prints each differing problem and exits 1 when one differs. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simdattn.h"

typedef simdattn_status (*forward_fn)(const simdattn_problem *, const simdattn_options *);
typedef int (*count_fn)(void);
typedef simdattn_status (*info_fn)(int, simdattn_variant_info *);

static uint64_t state = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) { /* xorshift64 */
  state ^= state << 13, state ^= state >> 7, state ^= state << 17;
  return state;
}
static int64_t irand(int64_t lo, int64_t hi) { return lo + (int64_t)(next() % (uint64_t)(hi - lo + 1)); }
static double urand(void) { return (double)(next() >> 11) * (1.0 / 9007199254740992.0); }

/* a random fp8 byte that is not a special code (E4M3: S.1111.111; E5M2: S.11111.xx) */
static uint8_t ordinary(int e4) {
  uint8_t b;
  do b = (uint8_t)next();
  while (e4 ? (b & 0x7f) == 0x7f : (b & 0x7c) == 0x7c);
  return b;
}
static uint8_t special(int e4) { return (uint8_t)((next() & 0x80) | (e4 ? 0x7f : 0x7c | (next() & 3))); }
/* equal, any NaN matching any NaN */
static int same(const float *a, const float *b, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (isnan(a[i]) ? !isnan(b[i]) : memcmp(&a[i], &b[i], sizeof(float)) != 0) return 0;
  return 1;
}

int main(int argc, char **argv) {
  const char *const fmts[] = {"fp8e4m3", "fp8e5m2", "q8_0", "q4_0"};
  const simdattn_dtype fdt[] = {SIMDATTN_FP8E4M3, SIMDATTN_FP8E5M2, SIMDATTN_Q8_0, SIMDATTN_Q4_0};
  int f = 4;
  while (argc == 5 && f > 0 && strcmp(argv[4], fmts[f - 1])) f--;
  if (argc != 5 || f == 0) {
    fprintf(stderr, "usage: out-pair LIB_A LIB_B PROBLEMS fp8e4m3|fp8e5m2|q8_0|q4_0\n");
    return 2;
  }
  forward_fn fwd[2];
  count_fn count = NULL;
  info_fn info = NULL;
  for (int s = 0; s < 2; s++) {
    void *lib = dlmopen(LM_ID_NEWLM, argv[1 + s], RTLD_NOW | RTLD_LOCAL);
    if (!lib || !(fwd[s] = (forward_fn)(uintptr_t)dlsym(lib, "simdattn_forward"))) {
      fprintf(stderr, "out-pair: %s: %s\n", argv[1 + s], lib ? "no simdattn_forward" : dlerror());
      return 2;
    }
    if (s == 0) {
      count = (count_fn)(uintptr_t)dlsym(lib, "simdattn_variant_count");
      info = (info_fn)(uintptr_t)dlsym(lib, "simdattn_variant_get");
    }
  }
  const int e4 = f == 1, problems = atoi(argv[3]);
  const simdattn_dtype dt = fdt[f - 1];
  const int blk = dt == SIMDATTN_Q8_0 || dt == SIMDATTN_Q4_0, bb = dt == SIMDATTN_Q8_0 ? 34 : 18;
  const char *names[64];
  int nv = 0;
  for (int i = 0; count && info && i < count() && nv < 64; i++) {
    simdattn_variant_info vi;
    if (info(i, &vi) == SIMDATTN_OK && vi.available && (vi.dtypes >> dt & 1u))
      names[nv++] = vi.name;
  }
  int differ = 0, partial_nan = 0;
  for (int it = 0; it < problems; it++) {
    const int64_t hkv = irand(1, 3), group = (int64_t[]){4, 4, 4, 2, 1, 8}[irand(0, 5)], hq = hkv * group;
    const int64_t d = (int64_t[]){128, 64, 96, 48, 40, 128, 32, 256}[blk ? (int64_t[]){0, 1, 2, 5, 6, 7}[irand(0, 5)] : irand(0, 5)];
    const int64_t dv = irand(0, 3) ? d : (int64_t[]){64, 128, 32}[irand(0, 2)];
    const int64_t skv = irand(0, 1) ? irand(1, 300) : irand(300, 3000), sq = irand(0, 3) ? 1 : irand(2, 5);
    const int bshd = (int)irand(0, 1);
    /* bytes of n elements (a block format: whole blocks) */
#define OP_BYTES(n) (blk ? (n) / 32 * bb : (n))
    uint8_t *kv[2] = {malloc((size_t)OP_BYTES(hkv * skv * d)), malloc((size_t)OP_BYTES(hkv * skv * dv))};
    float *q = malloc(sizeof(float) * (size_t)(hq * sq * d)), *out[2], *lse[2];
    for (int s = 0; s < 2; s++) {
      out[s] = malloc(sizeof(float) * (size_t)(hq * sq * dv));
      lse[s] = malloc(sizeof(float) * (size_t)(hq * sq));
    }
    if (!kv[0] || !kv[1] || !q || !out[0] || !out[1] || !lse[0] || !lse[1]) return 3;
    for (int64_t i = 0; i < hq * sq * d; i++) q[i] = (float)(2 * urand() - 1);
    for (int t = 0; t < 2; t++) { /* K, then V: rows of n bytes, some with a special code */
      const int64_t n = t ? dv : d;
      const double rows_special = (double[]){0.0, 0.002, 0.02, 0.3}[irand(0, 3)];
      if (blk) { /* random q bytes, each block's f16 d random finite (or, in some rows, one inf, NaN or 0) */
        for (int64_t i = 0; i < OP_BYTES(hkv * skv * n); i++) kv[t][i] = (uint8_t)next();
        for (int64_t b = 0; b < hkv * skv * n / 32; b++) {
          uint16_t h = (uint16_t)(next() & 0x83ff) | (uint16_t)(irand(0, 30) << 10);
          memcpy(kv[t] + b * bb, &h, 2);
        }
        for (int64_t r = 0; r < hkv * skv; r++)
          if (urand() < rows_special) {
            const uint16_t h = (uint16_t[]){0x7c00, 0xfc00, 0x7e00, 0x0000, 0x8000}[irand(0, 4)];
            memcpy(kv[t] + (r * n / 32 + irand(0, n / 32 - 1)) * bb, &h, 2);
          }
        continue;
      }
      for (int64_t i = 0; i < hkv * skv * n; i++) kv[t][i] = ordinary(e4);
      for (int64_t r = 0; r < hkv * skv; r++)
        if (urand() < rows_special) kv[t][r * n + irand(0, n - 1)] = special(e4);
    }
    float ks[3], vs[3];
    for (int i = 0; i < 3; i++) ks[i] = (float)(0.001 + urand()), vs[i] = (float)(0.001 + 3 * urand());
    simdattn_problem p = {.struct_size = SIMDATTN_PROBLEM_SIZE, .batch = 1, .heads_q = hq, .heads_kv = hkv,
                          .seq_q = sq, .seq_kv = skv, .head_dim = d, .head_dim_v = dv};
    p.q = (simdattn_tensor){q, SIMDATTN_F32, hq * sq * d, sq * d, d};
    p.k = bshd ? (simdattn_tensor){kv[0], dt, skv * hkv * d, d, hkv * d} : (simdattn_tensor){kv[0], dt, hkv * skv * d, skv * d, d};
    p.v = bshd ? (simdattn_tensor){kv[1], dt, skv * hkv * dv, dv, hkv * dv}
               : (simdattn_tensor){kv[1], dt, hkv * skv * dv, skv * dv, dv};
    if (!blk) p.k_scale = ks, p.v_scale = vs, p.kv_scale_stride = irand(0, 1);
    p.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
    p.window = irand(0, 2) ? 0 : irand(1, skv);
    p.out_stride_batch = hq * sq * dv, p.out_stride_head = sq * dv, p.out_stride_seq = dv;
    for (int v = 0; v < nv; v++) {
      for (int s = 0; s < 2; s++) {
        p.out = out[s], p.lse = lse[s];
        const simdattn_options opt = {.n_threads = (int)irand(1, 2), .variant = names[v]};
        if (fwd[s](&p, &opt) != SIMDATTN_OK) {
          fprintf(stderr, "out-pair: %s refused problem %d on %s\n", argv[1 + s], it, names[v]);
          return 3;
        }
      }
      int nans = 0;
      for (int64_t i = 0; i < hq * sq * dv; i++) nans += isnan(out[0][i]);
      partial_nan += nans > 0 && nans < hq * sq * dv;
      if (!same(out[0], out[1], hq * sq * dv) || !same(lse[0], lse[1], hq * sq)) {
        differ++;
        printf("differs: problem %d %s h%lldx%lld d%lld dv%lld seq_kv %lld seq_q %lld %s window %lld\n", it, names[v],
               (long long)hq, (long long)hkv, (long long)d, (long long)dv, (long long)skv, (long long)sq,
               bshd ? "bshd" : "bhsd", (long long)p.window);
      }
    }
    free(kv[0]), free(kv[1]), free(q);
    for (int s = 0; s < 2; s++) free(out[s]), free(lse[s]);
  }
  printf("out-pair: %d %s problems x %d variants (", problems, argv[4], nv);
  for (int v = 0; v < nv; v++) printf("%s%s", v ? ", " : "", names[v]);
  printf("): %d differ; %d outputs partly NaN\n", differ, partial_nan);
  return differ != 0;
}
