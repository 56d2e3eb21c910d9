/* scripts/read-compute.c: how much of this core's streaming read survives when every float read
 * also feeds arithmetic, as in decode (scripts/read-compute compiles and runs it). No attention:
 * a head-major f32 K/V cache ([heads][seq_kv][d], 64 bytes past a page) is read as a decode task
 * reads it, head after head, blocks of 512 keys, K then V; each float feeds one FMA per query row
 * of a group of R rows (S reads K so, P.V reads V so: decode's FMAs per byte), in register tiles
 * of 4 keys x R rows (16 accumulators at R = 4, as core/flash_direct.inc's S tile), keys read side
 * by side or one by one; optionally a software prefetch DIST keys ahead (__builtin_prefetch, into
 * L1). R = 0 is the plain read with the same loop (one add per vector); the first two rows read with
 * the stream probe's loop instead (core/probes.inc sa_stream: 8 vectors a step into 8 sums, what
 * attn-bench's bw_frac divides by), all of K then all of V, and block by block as decode does. Each
 * round runs every configuration once, in rotated order; a row prints its best round, in GB/s and
 * as a fraction of the faster probe row's. DTYPE f16 stores K and V as IEEE half floats, each
 * vector converted to f32 as loaded (F16C's vcvtph2ps, as the kernel's f16 loader does) before its
 * FMAs or its add; the probe rows read the same bytes as f32, as attn-bench's probe does.
 *
 * What it measured: the README's design notes on decode beyond the last-level cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__AVX512F__) || defined(__F16C__)
#include <immintrin.h>
#define RC_F16 1
#else
#define RC_F16 0
#endif

typedef float v16 __attribute__((vector_size(64), aligned(4), may_alias));
enum { LANES = 16, BLOCK = 512, NK = 4, RMAX = 4 };

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static inline v16 ld(const float *p) { return *(const v16 *)p; }
/* element i of an f32 (f16 0) or f16 (1) buffer, LANES of them as f32 */
static inline __attribute__((always_inline)) v16 ldx(const void *x, long i, const int f16) {
#if RC_F16
  if (f16) {
    const unsigned short *h = (const unsigned short *)x + i;
#ifdef __AVX512F__
    return (v16)_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h));
#else
    const __m256 lo = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h)),
                 hi = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + 8)));
    v16 r;
    memcpy(&r, &lo, sizeof lo);
    memcpy((char *)&r + sizeof lo, &hi, sizeof hi);
    return r;
#endif
  }
#endif
  (void)f16;
  return ld((const float *)x + i);
}

/* keys [0, n) of one K or V stretch (rows of d floats): tiles of NK keys, R rows, prefetch dist keys ahead */
static inline __attribute__((always_inline)) v16 tiles(const void *x, long n, long d, long ahead, const v16 *q,
                                                       const int R, const int dist, const int bykey, const int f16) {
  const long eb = f16 ? 2 : 4; /* bytes per element */
  v16 tot = {0};
  for (long k0 = 0; k0 + NK <= n; k0 += NK) {
    if (dist)
      for (int kk = 0; kk < NK; kk++)
        if (k0 + kk + dist < ahead)
          for (long e = 0; e < d * eb; e += 64)
            __builtin_prefetch((const char *)x + (k0 + kk + dist) * d * eb + e, 0, 3);
    v16 acc[RMAX > 1 ? RMAX * NK : NK] = {0};
    if (bykey) {
      for (int kk = 0; kk < NK; kk++)
        for (long e = 0; e < d; e += LANES) {
          const v16 kv = ldx(x, (k0 + kk) * d + e, f16);
          if (R == 0) acc[kk] += kv;
          for (int r = 0; r < R; r++) acc[r * NK + kk] += q[r] * kv;
        }
    } else {
      for (long e = 0; e < d; e += LANES)
        for (int kk = 0; kk < NK; kk++) {
          const v16 kv = ldx(x, (k0 + kk) * d + e, f16);
          if (R == 0) acc[kk] += kv;
          for (int r = 0; r < R; r++) acc[r * NK + kk] += q[r] * kv;
        }
    }
    for (int i = 0; i < (R > 1 ? R : 1) * NK; i++) tot += acc[i];
  }
  return tot;
}
/* the stream probe's loop (core/probes.inc sa_stream): 8 vectors a step, 8 independent sums */
static v16 stream(const float *x, long n) {
  v16 a[8] = {0};
  for (long t = 0; t + 8 * LANES <= n; t += 8 * LANES)
    for (int c = 0; c < 8; c++) a[c] += ld(x + t + c * LANES);
  for (int c = 1; c < 8; c++) a[0] += a[c];
  return a[0];
}
/* one configuration over K and V (eb bytes an element: 4 f32, 2 f16) */
static v16 run(const char *k, const char *v, long heads, long seq, long d, long eb, int R, int dist, int bykey) {
  v16 q[RMAX], tot = {0};
  for (int r = 0; r < RMAX; r++) q[r] = tot + 0.5f / (float)(r + 1);
  const long fl = (long)sizeof(float);
  if (R == -2)
    return stream((const float *)k, heads * seq * d * eb / fl) + stream((const float *)v, heads * seq * d * eb / fl);
  for (long h = 0; h < heads; h++)
    for (long j0 = 0; j0 < seq; j0 += BLOCK) {
      const long n = seq - j0 < BLOCK ? seq - j0 : BLOCK, left = seq - j0;
      const char *kh = k + (h * seq + j0) * d * eb, *vh = v + (h * seq + j0) * d * eb;
      if (R < 0) {
        tot += stream((const float *)kh, n * d * eb / fl) + stream((const float *)vh, n * d * eb / fl);
        continue;
      }
#define SA_RC_CASE(RR, D, B, F)                                                           \
  if (R == RR && dist == D && bykey == B && (eb == 2) == F) {                             \
    tot += tiles(kh, n, d, left, q, RR, D, B, F) + tiles(vh, n, d, left, q, RR, D, B, F); \
    continue;                                                                             \
  }
#define SA_RC_DISTS(RR, B, F) SA_RC_CASE(RR, 0, B, F) SA_RC_CASE(RR, 16, B, F) SA_RC_CASE(RR, 64, B, F)
#define SA_RC_ALL(F) SA_RC_DISTS(0, 1, F) SA_RC_DISTS(1, 1, F) SA_RC_DISTS(4, 0, F) SA_RC_DISTS(4, 1, F)
      SA_RC_ALL(0)
#if RC_F16
      SA_RC_ALL(1)
#endif
    }
  return tot;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: read-compute SEQ_KV HEADS HEAD_DIM ROUNDS [f32|f16]\n");
    return 2;
  }
  const long seq = atol(argv[1]), heads = atol(argv[2]), d = atol(argv[3]);
  const int rounds = atoi(argv[4]);
  const char *dtype = argc > 5 ? argv[5] : "f32";
  if (strcmp(dtype, "f32") != 0 && strcmp(dtype, "f16") != 0) {
    fprintf(stderr, "read-compute: DTYPE is f32 or f16, not '%s'\n", dtype);
    return 2;
  }
  const long eb = dtype[1] == '1' ? 2 : 4;
  if (eb == 2 && !RC_F16) {
    fprintf(stderr, "read-compute: f16 needs a compiler targeting F16C or AVX-512 (-march=native on such a CPU)\n");
    return 2;
  }
  if (seq < NK || seq % NK || heads < 1 || d < LANES || d % LANES || rounds < 1) {
    fprintf(stderr, "read-compute: SEQ_KV a multiple of %d, HEADS >= 1, HEAD_DIM a multiple of %d, ROUNDS >= 1\n", NK,
            LANES);
    return 2;
  }
  const size_t n = (size_t)seq * (size_t)heads * (size_t)d, bytes = n * (size_t)eb;
  const size_t alloc = (bytes + 64 + 4095) / 4096 * 4096 + (size_t)64 * d * (size_t)eb + 4096;
  char *kb = aligned_alloc(4096, alloc), *vb = aligned_alloc(4096, alloc);
  if (!kb || !vb) {
    fprintf(stderr, "read-compute: out of memory (%zu bytes)\n", 2 * alloc);
    return 1;
  }
  memset(kb, 0, alloc);
  memset(vb, 0, alloc);
  char *k = kb + 64, *v = vb + 64;
  for (size_t i = 0; i < n; i++) /* touched: no page faults in the rounds */
    if (eb == 2) ((unsigned short *)k)[i] = ((unsigned short *)v)[i] = (unsigned short)(0x3c00 + i % 7); /* ~1.0 */
    else ((float *)k)[i] = ((float *)v)[i] = (float)(i % 7);
  static const struct {
    int rows, dist, bykey;
    const char *what;
  } cfg[] = {
      {-2, 0, 1, "probe, whole K, V"},    {-1, 0, 1, "probe, per block"},     {0, 0, 1, "plain read"},
      {0, 16, 1, "plain read, prefetch"}, {0, 64, 1, "plain read, prefetch"}, {1, 0, 1, "1 row"},
      {1, 16, 1, "1 row, prefetch"},      {1, 64, 1, "1 row, prefetch"},      {4, 0, 0, "4 rows, side by side"},
      {4, 16, 0, "4 rows, side by side"}, {4, 64, 0, "4 rows, side by side"}, {4, 0, 1, "4 rows, key by key"},
      {4, 16, 1, "4 rows, key by key"},   {4, 64, 1, "4 rows, key by key"},
  };
  enum { NCFG = sizeof cfg / sizeof cfg[0] };
  double best[NCFG];
  for (int c = 0; c < NCFG; c++) best[c] = 1e30;
  v16 check = {0};
  for (int r = 0; r < rounds; r++)
    for (int i = 0; i < NCFG; i++) {
      const int c = (i + r) % NCFG;
      const double t0 = now();
      check += run(k, v, heads, seq, d, eb, cfg[c].rows, cfg[c].dist, cfg[c].bykey);
      const double t = now() - t0;
      if (t < best[c]) best[c] = t;
    }
  const double plain = best[0] < best[1] ? best[0] : best[1]; /* the faster of the probe's two rows */
  printf("read-compute: K and V [%ld heads][%ld keys][%ld] %s, %.1f MiB, 1 thread, best of %d rounds\n", heads, seq, d,
         dtype, 2.0 * (double)bytes / 1048576.0, rounds);
  printf("  %-22s %9s %8s %9s\n", "rows (FMAs per value)", "prefetch", "GB/s", "of probe");
  for (int c = 0; c < NCFG; c++)
    printf("  %-22s %9d %8.1f %9.2f\n", cfg[c].what, cfg[c].dist, 2.0 * (double)bytes / best[c] / 1e9, plain / best[c]);
  free(kb);
  free(vb);
  return check[0] == -1.0f; /* the sums are used */
}
