/* tests/test_bounds.c: no variant reads or writes one byte outside what the strides imply.
 * Each of q, k, v, the mask, out and lse is copied to the very end of an mmap'd region followed by
 * a PROT_NONE page (a read past the last element the strides name faults), and then to the very
 * start of a region preceded by one (a read before the first element faults); every variant
 * this CPU runs, head dims 1..130, sequence lengths 1..130, f32 / f16 / bf16, BHSD and BSHD, with
 * and without a mask, decode and prefill. The result must be bitwise the one computed from the
 * ordinary buffers. `test_bounds --quick` runs a subset (sanitizer and emulator builds). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "core/dtype.h"
#include "variants_util.h"
#include "harness/cases.h"

static size_t page;

typedef struct {
  char *map;
  size_t map_len;
  void *at; /* the copy */
} fenced;

/* n bytes placed flush against a PROT_NONE page: after it (at_end) or before it */
static void *fence(fenced *f, const void *src, size_t n, int at_end) {
  const size_t body = (n + page - 1) / page * page;
  f->map_len = body + 2 * page;
  f->map = mmap(NULL, f->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (f->map == MAP_FAILED) {
    f->map = NULL;
    return NULL;
  }
  mprotect(f->map, page, PROT_NONE);
  mprotect(f->map + page + body, page, PROT_NONE);
  f->at = at_end ? f->map + page + body - n : f->map + page;
  if (src) memcpy(f->at, src, n);
  return f->at;
}
static void unfence(fenced *f) {
  if (f->map) munmap(f->map, f->map_len);
  f->map = NULL;
}

/* elements from the tensor's base to one past its last element */
static int64_t span(int64_t b, int64_t h, int64_t s, int64_t row, int64_t sb, int64_t sh, int64_t ss) {
  if (b == 0 || h == 0 || s == 0) return 0;
  return (b - 1) * sb + (h - 1) * sh + (s - 1) * ss + row;
}

/* bytes of n elements of dtype t (the dtype table) */
static size_t dsize(simdattn_dtype t, int64_t n) { return (size_t)sa_dtype_bytes(t, n); }

static long n_runs;

static void one(const simdattn_variant_info *info, case_spec spec) {
  if (case_fit_dtypes(&spec, info->dtypes)) return;
  case_data cd;
  if (case_build(&spec, 3, &cd)) {
    CHECK(0, "cannot build %s", spec.group);
    return;
  }
  simdattn_problem p = cd.p;
  const simdattn_options opt = {1, info->name, NULL, NULL, 0};
  case_reset_outputs(&cd);
  CHECK(simdattn_forward(&p, &opt) == SIMDATTN_OK, "%s %s: %s", info->name, cd.name, simdattn_last_error());
  const int64_t dv = p.head_dim_v ? p.head_dim_v : p.head_dim;
  const int64_t nq = span(p.batch, p.heads_q, p.seq_q, p.head_dim, p.q.stride_batch, p.q.stride_head, p.q.stride_seq);
  const int64_t nk = span(p.batch, p.heads_kv, p.seq_kv, p.head_dim, p.k.stride_batch, p.k.stride_head, p.k.stride_seq);
  const int64_t nv = span(p.batch, p.heads_kv, p.seq_kv, dv, p.v.stride_batch, p.v.stride_head, p.v.stride_seq);
  const int64_t no = span(p.batch, p.heads_q, p.seq_q, dv, p.out_stride_batch, p.out_stride_head, p.out_stride_seq);
  const int64_t nl = p.batch * p.heads_q * p.seq_q;
  const int64_t nm = p.mask ? span(p.mask_stride_batch ? p.batch : 1, p.mask_stride_head ? p.heads_q : 1, p.seq_q,
                                   p.seq_kv, p.mask_stride_batch, p.mask_stride_head, p.mask_stride_q)
                            : 0;
  float *want = malloc(sizeof(float) * (size_t)(no + 1)), *want_lse = malloc(sizeof(float) * (size_t)(nl + 1));
  memcpy(want, p.out, sizeof(float) * (size_t)no);
  if (p.lse) memcpy(want_lse, p.lse, sizeof(float) * (size_t)nl);

  for (int at_end = 1; at_end >= 0; at_end--) {
    fenced fq, fk, fv, fm, fo, fl;
    memset(&fm, 0, sizeof fm);
    memset(&fl, 0, sizeof fl);
    simdattn_problem g = p;
    g.q.data = fence(&fq, p.q.data, dsize(p.q.dtype, nq), at_end);
    g.k.data = fence(&fk, p.k.data, dsize(p.k.dtype, nk), at_end);
    g.v.data = fence(&fv, p.v.data, dsize(p.v.dtype, nv), at_end);
    if (p.mask) g.mask = fence(&fm, p.mask, sizeof(float) * (size_t)nm, at_end);
    g.out = fence(&fo, NULL, sizeof(float) * (size_t)no, at_end);
    memset(g.out, 0, sizeof(float) * (size_t)no);
    if (p.lse) g.lse = fence(&fl, NULL, sizeof(float) * (size_t)nl, at_end);
    if (!g.q.data || !g.k.data || !g.v.data || !g.out || (p.lse && !g.lse) || (p.mask && !g.mask)) {
      CHECK(0, "mmap");
    } else {
      n_runs++;
      CHECK(simdattn_forward(&g, &opt) == SIMDATTN_OK, "%s %s fenced: %s", info->name, cd.name, simdattn_last_error());
      /* compare the rows only (out's padding between rows is not written) */
      int same = 1;
      for (int64_t b = 0; b < p.batch; b++)
        for (int64_t h = 0; h < p.heads_q; h++)
          for (int64_t i = 0; i < p.seq_q; i++) {
            const int64_t o = b * p.out_stride_batch + h * p.out_stride_head + i * p.out_stride_seq;
            same &= !memcmp(g.out + o, want + o, sizeof(float) * (size_t)dv);
          }
      if (p.lse) same &= !memcmp(g.lse, want_lse, sizeof(float) * (size_t)nl);
      CHECK(same, "%s %s fenced at the %s: result differs from the ordinary buffers'", info->name, cd.name,
            at_end ? "end" : "start");
    }
    unfence(&fq), unfence(&fk), unfence(&fv), unfence(&fm), unfence(&fo), unfence(&fl);
  }
  free(want);
  free(want_lse);
  case_free(&cd);
}

int main(int argc, char **argv) {
  const int quick = argc > 1 && !strcmp(argv[1], "--quick");
  page = (size_t)sysconf(_SC_PAGESIZE);
  static const int64_t dims_all[] = {1, 3, 8, 15, 17, 31, 33, 64, 80, 100, 128, 130};
  static const int64_t dims_quick[] = {1, 17, 64, 130};
  static const int64_t seqs_all[][2] = {{1, 1}, {1, 5}, {2, 17}, {5, 63}, {7, 130}, {13, 64}, {1, 600}, {70, 70}};
  static const int64_t seqs_quick[][2] = {{1, 5}, {5, 63}, {1, 600}, {13, 64}};
  const int n_dims = quick ? 4 : 12, n_seqs = quick ? 4 : 8;
  static const simdattn_dtype dts[][2] = {{SIMDATTN_F32, SIMDATTN_F32}, {SIMDATTN_F32, SIMDATTN_F16},
                                          {SIMDATTN_BF16, SIMDATTN_BF16}, {SIMDATTN_F16, SIMDATTN_BF16}};
  simdattn_variant_info info;
  for (int t = 0; test_next_variant(&t, &info, 1); t++) {
    const long before = n_runs;
    for (int di = 0; di < n_dims; di++)
      for (int si = 0; si < n_seqs; si++) {
        const int64_t *sq = quick ? seqs_quick[si] : seqs_all[si];
        case_spec s = case_default("bounds", sq[0], sq[1]);
        s.heads_q = 2;
        s.heads_kv = 1;
        s.d = quick ? dims_quick[di] : dims_all[di];
        s.dv = (di % 3 == 1) ? s.d + 3 : s.d; /* head_dim_v != head_dim sometimes */
        s.causal = (si % 2) ? SIMDATTN_CAUSAL_BOTTOM_RIGHT : SIMDATTN_CAUSAL_NONE;
        s.layout = (di + si) % 2 ? LAYOUT_BSHD : LAYOUT_BHSD;
        s.mask = (di + si) % 3 == 0 ? MASK_FULL : MASK_NONE;
        s.qt = dts[(di + si) % 4][0];
        s.kvt = dts[(di + si) % 4][1];
        one(&info, s);
      }
    printf("%s: %ld fenced runs\n", info.name, n_runs - before);
  }
  printf("%ld fenced runs in all\n", n_runs);
  return check_report("test_bounds");
}
