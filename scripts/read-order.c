/* scripts/read-order.c: how fast this machine reads an interleaved KV cache in the orders a decode
 * kernel can choose, against the order a head-major cache is read in (scripts/read-order compiles and
 * runs it). No attention: each order only sums every float of K and V once, so the numbers are the
 * memory system's, a ceiling for a kernel that reads in that order.
 *
 * K and V are [seq_kv][heads][d] f32 (BSHD: one key's rows of all heads side by side). Orders:
 *   head-major     the order a head-major (BHSD) cache of the same size is read in by one head per
 *                  task: each thread its share of the buffers front to back, a head's block of 512
 *                  keys of K, then of V;
 *   keys           keys split between the threads; each reads its keys' whole rows (all heads),
 *                  key by key: front to back again;
 *   heads/keys     heads split between the threads (a task per group of heads); each reads its heads'
 *                  rows key by key: a piece of every row, the rest of the row skipped;
 *   stretch        keys split between the threads; blocks of 512 keys, each read as the library's
 *                  heads side by side do (core/flash_direct.inc sa_block_direct_heads): K in
 *                  stretches of 16 keys head after head, then V in stretches of 32;
 *   heads/stretch  the same stretches with the heads split between the threads.
 * Each round runs every order once (first order rotating); a row prints its best round. With
 * REPEAT > 1 a round reads the cache REPEAT times over in one parallel region, as attn-bench's
 * repeated calls do: a cache the threads' caches hold then stays there, and the orders show what
 * each thread's share costs in its own L2 (an order whose share takes a piece of every row maps to
 * a fraction of the L2's sets: heads/keys at 8 heads, 2 threads, 4 KiB rows). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "read-row.h"

enum { LANES = READ_LANES, BLOCK = 512, SK = 16, SV = 32 };
typedef struct {
  const float *k, *v;
  long seq, heads, d;
} cache;

static const float *at(const float *b, const cache *c, long key, long h) { return b + (key * c->heads + h) * c->d; }
static void stretches(const float *b, const cache *c, long h0, long h1, long k0, long k1, long sw, float *acc) {
  for (long s0 = k0; s0 < k1; s0 += sw)
    for (long h = h0; h < h1; h++)
      for (long key = s0; key < s0 + sw && key < k1; key++) row(at(b, c, key, h), c->d, acc);
}
/* one thread's part of order o (tid of nt) */
static void read_part(const cache *c, int o, int tid, int nt, float *acc) {
  const long kb = c->seq * tid / nt, ke = c->seq * (tid + 1) / nt;
  const long hb = c->heads * tid / nt, he = c->heads * (tid + 1) / nt;
  switch (o) {
    case 0: {
      const long n = c->seq * c->heads * c->d, b = n * tid / nt, e = n * (tid + 1) / nt;
      for (long i = b; i < e; i += BLOCK * c->d) {
        const long m = e - i < BLOCK * c->d ? e - i : BLOCK * c->d;
        row(c->k + i, m, acc);
        row(c->v + i, m, acc);
      }
      break;
    }
    case 1:
    case 2: {
      const long k0 = o == 1 ? kb : 0, k1 = o == 1 ? ke : c->seq, h0 = o == 1 ? 0 : hb, h1 = o == 1 ? c->heads : he;
      for (long j0 = k0; j0 < k1; j0 += BLOCK) {
        const long j1 = j0 + BLOCK < k1 ? j0 + BLOCK : k1;
        for (long key = j0; key < j1; key++) row(at(c->k, c, key, h0), (h1 - h0) * c->d, acc);
        for (long key = j0; key < j1; key++) row(at(c->v, c, key, h0), (h1 - h0) * c->d, acc);
      }
      break;
    }
    default: {
      const long k0 = o == 3 ? kb : 0, k1 = o == 3 ? ke : c->seq, h0 = o == 3 ? 0 : hb, h1 = o == 3 ? c->heads : he;
      for (long j0 = k0; j0 < k1; j0 += BLOCK) {
        const long j1 = j0 + BLOCK < k1 ? j0 + BLOCK : k1;
        stretches(c->k, c, h0, h1, j0, j1, SK, acc);
        stretches(c->v, c, h0, h1, j0, j1, SV, acc);
      }
    }
  }
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: read-order SEQ_KV HEADS HEAD_DIM THREADS ROUNDS [REPEAT]\n");
    return 2;
  }
  cache c = {0, 0, atol(argv[1]), atol(argv[2]), atol(argv[3])};
  const int nt = atoi(argv[4]), rounds = atoi(argv[5]), repeat = argc > 6 ? atoi(argv[6]) : 1;
  if (c.seq < 1 || c.heads < 1 || c.d < LANES || c.d % LANES || nt < 1 || nt > c.heads || rounds < 1 || repeat < 1) {
    fprintf(stderr,
            "read-order: SEQ_KV >= 1, HEADS >= THREADS >= 1, HEAD_DIM a multiple of %d, ROUNDS >= 1, REPEAT >= 1\n",
            LANES);
    return 2;
  }
  const size_t n = (size_t)c.seq * (size_t)c.heads * (size_t)c.d, bytes = n * sizeof(float);
  float *k = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096), *v = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
  if (!k || !v) {
    fprintf(stderr, "read-order: out of memory (%zu bytes)\n", 2 * bytes);
    return 1;
  }
  for (size_t i = 0; i < n; i++) k[i] = v[i] = (float)(i % 7); /* touched: no page faults in the rounds */
  c.k = k;
  c.v = v;
  static const char *name[5] = {"head-major", "keys", "heads/keys", "stretch", "heads/stretch"};
  double best[5] = {1e30, 1e30, 1e30, 1e30, 1e30}, check = 0;
  for (int r = 0; r < rounds; r++)
    for (int i = 0; i < 5; i++) {
      const int o = (i + r) % 5;
      const double t0 = omp_get_wtime();
      double sum = 0;
#pragma omp parallel num_threads(nt) reduction(+ : sum)
      {
        float acc[LANES] = {0};
        for (int x = 0; x < repeat; x++) read_part(&c, o, omp_get_thread_num(), omp_get_num_threads(), acc);
        for (int l = 0; l < LANES; l++) sum += acc[l];
      }
      const double t = omp_get_wtime() - t0;
      if (t < best[o]) best[o] = t;
      check += sum;
    }
  printf("read-order: K and V [%ld keys][%ld heads][%ld] f32, %.1f MiB, %d thread%s, best of %d rounds", c.seq, c.heads,
         c.d, 2.0 * (double)bytes / 1048576.0, nt, nt == 1 ? "" : "s", rounds);
  if (repeat > 1) printf(" of %d reads", repeat);
  printf("\n");
  for (int o = 0; o < 5; o++)
    printf("  %-14s %7.1f GB/s  %.2f of head-major\n", name[o], 2.0 * repeat * (double)bytes / best[o] / 1e9,
           best[0] / best[o]);
  free(k);
  free(v);
  return check == -1.0; /* the sums are used */
}
