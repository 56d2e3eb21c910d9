/* scripts/read-paged.c: how fast this machine reads a paged KV cache (vLLM's layout,
 * [blocks][heads][block_size][d] f32, its blocks in a shuffled order) in the orders a decode kernel
 * can choose, against the order a head-major cache of the same bytes is read in (scripts/read-paged
 * compiles and runs it). No attention: each order only sums every float of K and V once, one
 * thread, so the numbers are the memory system's: a ceiling for a kernel that reads in that order.
 * Orders (decode reads K and V in blocks of 512 keys, as the library's direct path does):
 *   head-major     a contiguous [heads][seq][d] cache: a head's 512 keys of K, then of V, head by head;
 *   paged/heads    the paged cache in the same order: a head's rows of each block, block after block
 *                  (the library's order for a paged cache with a page or more of a head per block);
 *   paged/blocks   the paged cache block by block: every head's rows of a block (the block's bytes
 *                  front to back), K then V (the order of heads side by side);
 *   paged/in-order the paged/heads order with the blocks in order (the table the identity).
 * Each round runs every order once (the first rotating); a row prints its best round and its ratio
 * to head-major's. */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "read-row.h"

enum { LANES = READ_LANES, BLOCK = 512 };
typedef struct {
  long seq, heads, d, bs;
  const float *kc, *vc, *kp, *vp; /* contiguous, paged */
  const int32_t *shuffled, *identity;
} cache;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static const float *prow(const cache *c, const float *base, const int32_t *table, long h, long j) {
  return base + (((long)table[j / c->bs] * c->heads + h) * c->bs + j % c->bs) * c->d;
}
static void head_major(const cache *c, float *acc) {
  for (long h = 0; h < c->heads; h++)
    for (long j0 = 0; j0 < c->seq; j0 += BLOCK) {
      const long j1 = j0 + BLOCK < c->seq ? j0 + BLOCK : c->seq;
      for (long j = j0; j < j1; j++) row(c->kc + (h * c->seq + j) * c->d, c->d, acc);
      for (long j = j0; j < j1; j++) row(c->vc + (h * c->seq + j) * c->d, c->d, acc);
    }
}
static void paged_heads(const cache *c, const int32_t *table, float *acc) {
  for (long h = 0; h < c->heads; h++)
    for (long j0 = 0; j0 < c->seq; j0 += BLOCK) {
      const long j1 = j0 + BLOCK < c->seq ? j0 + BLOCK : c->seq;
      for (long j = j0; j < j1; j++) row(prow(c, c->kp, table, h, j), c->d, acc);
      for (long j = j0; j < j1; j++) row(prow(c, c->vp, table, h, j), c->d, acc);
    }
}
static void paged_blocks(const cache *c, float *acc) {
  for (long j0 = 0; j0 < c->seq; j0 += BLOCK) {
    const long j1 = j0 + BLOCK < c->seq ? j0 + BLOCK : c->seq;
    for (int kv = 0; kv < 2; kv++)
      for (long p0 = j0; p0 < j1; p0 += c->bs)
        for (long h = 0; h < c->heads; h++)
          for (long j = p0; j < p0 + c->bs && j < j1; j++)
            row(prow(c, kv ? c->vp : c->kp, c->shuffled, h, j), c->d, acc);
  }
}
static void run(const cache *c, int order, float *acc) {
  if (order == 0) head_major(c, acc);
  else if (order == 1) paged_heads(c, c->shuffled, acc);
  else if (order == 2) paged_blocks(c, acc);
  else paged_heads(c, c->identity, acc);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: read-paged SEQ_KV HEADS HEAD_DIM BLOCK_SIZE ROUNDS\n");
    return 2;
  }
  cache c = {atol(argv[1]), atol(argv[2]), atol(argv[3]), atol(argv[4]), 0, 0, 0, 0, 0, 0};
  const int rounds = atoi(argv[5]);
  if (c.seq < 1 || c.heads < 1 || c.d < LANES || c.d % LANES || c.bs < 1 || rounds < 1) {
    fprintf(stderr, "read-paged: SEQ_KV, HEADS, BLOCK_SIZE and ROUNDS >= 1, HEAD_DIM a multiple of %d\n", LANES);
    return 2;
  }
  const long nb = (c.seq + c.bs - 1) / c.bs;
  const size_t nc = (size_t)(c.heads * c.seq * c.d), np = (size_t)(nb * c.heads * c.bs * c.d);
  /* 64 bytes past a page, as attn-bench's inputs */
  char *buf[4];
  const size_t len[4] = {nc, nc, np, np};
  for (int i = 0; i < 4; i++) {
    buf[i] = aligned_alloc(4096, (len[i] * sizeof(float) + 64 + 4095) / 4096 * 4096);
    if (!buf[i]) return 2;
    float *f = (float *)(buf[i] + 64);
    for (size_t t = 0; t < len[i]; t++) f[t] = 1e-3f;
  }
  c.kc = (float *)(buf[0] + 64), c.vc = (float *)(buf[1] + 64), c.kp = (float *)(buf[2] + 64),
  c.vp = (float *)(buf[3] + 64);
  int32_t *sh = malloc(sizeof(int32_t) * (size_t)nb), *id = malloc(sizeof(int32_t) * (size_t)nb);
  if (!sh || !id) return 2;
  for (long t = 0; t < nb; t++) sh[t] = id[t] = (int32_t)t;
  uint64_t x = 0x9e3779b97f4a7c15u;
  for (long t = nb - 1; t > 0; t--) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const long u = (long)(x % (uint64_t)(t + 1));
    const int32_t w = sh[t];
    sh[t] = sh[u], sh[u] = w;
  }
  c.shuffled = sh, c.identity = id;
  static const char *names[4] = {"head-major", "paged/heads", "paged/blocks", "paged/in-order"};
  double best[4] = {1e30, 1e30, 1e30, 1e30};
  float acc[LANES] = {0};
  for (int r = 0; r < rounds; r++)
    for (int i = 0; i < 4; i++) {
      const int o = (i + r) % 4;
      const double t0 = now();
      run(&c, o, acc);
      const double t = now() - t0;
      if (t < best[o]) best[o] = t;
    }
  const double bytes = 2.0 * (double)nc * sizeof(float);
  printf("seq_kv %ld, %ld heads, d %ld, block size %ld: %.0f MiB of K and V, best of %d rounds\n", c.seq, c.heads, c.d,
         c.bs, bytes / 1048576.0, rounds);
  for (int o = 0; o < 4; o++)
    printf("  %-15s %6.2f GB/s  %.3fx head-major\n", names[o], bytes / best[o] / 1e9, best[0] / best[o]);
  float sum = 0;
  for (int l = 0; l < LANES; l++) sum += acc[l];
  return sum == 0.0f; /* (the sums used) */
}
