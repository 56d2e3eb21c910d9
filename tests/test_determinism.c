/* tests/test_determinism.c: every variant this CPU runs gives bitwise-identical out and lse for
 * every n_threads, through a caller's thread pool (options.parallel) and on every repeat —
 * on shapes that split keys into chunks (decode), causal GQA prefill and the all-features case —
 * and, for every batched case, for each batch entry computed alone (batch 1, pointers moved to
 * the entry) as in the batch: the composition of a batch never changes a sequence's bits.
 * --quick (emulators): scalar_tiled and ref left out (portable C, run natively and under the
 * sanitizers; under qemu scalar_tiled took 31 s of this test's 92 on a Xeon family 6 model 207, ref
 * 28 s of 62 on Zen 5). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "variants_util.h"
#include "harness/cases.h"
#include "threads_util.h"

static size_t elem_bytes(simdattn_dtype t) { return t == SIMDATTN_F32 ? 4 : 2; }

/* Runs each batch entry of cd's problem as a problem of batch 1, into cd's out and lse. */
static int run_entries_alone(const case_data *cd, const simdattn_options *opt) {
  for (int64_t b = 0; b < cd->p.batch; b++) {
    simdattn_problem one = cd->p;
    one.batch = 1;
    one.q.data = (const char *)one.q.data + (size_t)(b * one.q.stride_batch) * elem_bytes(one.q.dtype);
    one.k.data = (const char *)one.k.data + (size_t)(b * one.k.stride_batch) * elem_bytes(one.k.dtype);
    one.v.data = (const char *)one.v.data + (size_t)(b * one.v.stride_batch) * elem_bytes(one.v.dtype);
    one.out += b * one.out_stride_batch;
    if (one.lse) one.lse += b * one.heads_q * one.seq_q;
    if (one.mask) one.mask += b * one.mask_stride_batch;
    if (simdattn_forward(&one, opt) != SIMDATTN_OK) return -1;
  }
  return 0;
}

static void snapshot(const case_data *cd, float *o, float *l) {
  memcpy(o, cd->out_buf, cd->out_len * sizeof(float));
  memcpy(l, cd->lse_buf, cd->lse_len * sizeof(float));
}

int main(int argc, char **argv) {
  const int quick = argc > 1 && !strcmp(argv[1], "--quick");
  enum { NSPECS = 8 };
  case_spec specs[NSPECS];
  specs[0] = case_default("det-decode", 1, 4099); /* few tasks: keys split into chunks */
  specs[0].heads_q = 32;
  specs[0].heads_kv = 8;
  specs[0].d = specs[0].dv = 128;
  specs[0].causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  specs[1] = case_default("det-prefill", 300, 300);
  specs[1].heads_q = 8;
  specs[1].heads_kv = 2;
  specs[1].causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  specs[2] = case_default("det-all", 70, 700);
  specs[2].batch = 2;
  specs[2].heads_q = 4;
  specs[2].heads_kv = 1;
  specs[2].causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  specs[2].window = 500;
  specs[2].mask = MASK_FULL;
  specs[2].softcap = 15.0f;
  specs[2].dist = DIST_SOFTCAP;
  specs[2].alibi = specs[2].sinks = 1;
  specs[2].layout = LAYOUT_BSHD_PAD;
  specs[2].d = 72;
  specs[2].dv = 40;
  specs[3] = case_default("det-split-nan", 2, 3000); /* a NaN in V inside a split chunk */
  specs[3].nan = NAN_V;
  specs[3].sinks = 1;
  specs[4] = case_default("det-f16", 33, 1500);
  specs[4].qt = SIMDATTN_BF16;
  specs[4].kvt = SIMDATTN_F16;
  specs[4].heads_q = specs[4].heads_kv = 1;
  /* batches: decode whose keys a sequence alone splits into more chunks than a batch of them
   * would under a rule counting the batch's tasks; prefill with shared packing, mask and alibi */
  specs[5] = case_default("det-batch-decode", 1, 12001);
  specs[5].batch = 3;
  specs[5].heads_q = 16;
  specs[5].heads_kv = 4;
  specs[5].causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  specs[5].sinks = 1;
  specs[5].layout = LAYOUT_BSHD_PAD;
  specs[6] = case_default("det-batch-prefill", 130, 260);
  specs[6].batch = 3;
  specs[6].heads_q = 4;
  specs[6].heads_kv = 2;
  specs[6].causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  specs[6].mask = MASK_FULL;
  specs[6].alibi = 1;
  specs[6].kvt = SIMDATTN_F16;
  /* an interleaved cache whose batch lies beyond SA_SPLIT_INTERLEAVED_MIN_BYTES (src/forward.c) but
   * whose sequences do not (16 x 1100 keys x 4 x 2 x 4 bytes: 563 KB each, 9 MB in all): the split
   * is the sequence's */
  specs[7] = case_default("det-batch-bshd", 1, 1100);
  specs[7].batch = 16;
  specs[7].heads_q = specs[7].heads_kv = 16;
  specs[7].d = specs[7].dv = 4;
  specs[7].causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  specs[7].layout = LAYOUT_BSHD;

  simdattn_variant_info info;
  for (int v = 0; test_next_variant(&v, &info, 1); v++) {
    if (quick && (!strcmp(info.name, "scalar_tiled") || !strcmp(info.name, "ref"))) continue;
    for (int c = 0; c < NSPECS; c++) {
      case_spec spec = specs[c];
      if (case_fit_dtypes(&spec, info.dtypes)) continue; /* bf16-only rows: the f32 cases as bf16 twins */
      case_data cd;
      if (case_build(&spec, 7, &cd)) {
        CHECK(0, "cannot build %s", specs[c].group);
        continue;
      }
      float *o1 = malloc(cd.out_len * sizeof(float)), *l1 = malloc(cd.lse_len * sizeof(float));
      float *o2 = malloc(cd.out_len * sizeof(float)), *l2 = malloc(cd.lse_len * sizeof(float));
      simdattn_options opt = {1, info.name, NULL, NULL, 0};
      CHECK(simdattn_forward(&cd.p, &opt) == SIMDATTN_OK, "%s %s: %s", info.name, cd.name, simdattn_last_error());
      snapshot(&cd, o1, l1);
      const int threads[] = {2, 3, 0, 1, 5};
      for (int t = 0; t < 5; t++) {
        case_reset_outputs(&cd);
        opt.n_threads = threads[t];
        CHECK(simdattn_forward(&cd.p, &opt) == SIMDATTN_OK, "%s", simdattn_last_error());
        snapshot(&cd, o2, l2);
        CHECK(!memcmp(o1, o2, cd.out_len * sizeof(float)) && !memcmp(l1, l2, cd.lse_len * sizeof(float)),
              "%s %s: n_threads %d differs from n_threads 1", info.name, cd.name, threads[t]);
      }
      for (int pt = 1; pt <= 4; pt += 3) {
        test_pool pool = {pt, 0};
        case_reset_outputs(&cd);
        const simdattn_options hook = {8, info.name, test_pool_parallel, &pool, 0};
        CHECK(simdattn_forward(&cd.p, &hook) == SIMDATTN_OK, "%s", simdattn_last_error());
        snapshot(&cd, o2, l2);
        CHECK(!memcmp(o1, o2, cd.out_len * sizeof(float)) && !memcmp(l1, l2, cd.lse_len * sizeof(float)),
              "%s %s: the caller's pool (%d threads, reverse order) differs from n_threads 1", info.name,
              cd.name, pt);
        CHECK(atomic_load(&pool.calls) > 0, "the pool hook was never called");
      }
      if (cd.p.batch > 1) {
        case_reset_outputs(&cd);
        const simdattn_options alone = {2, info.name, NULL, NULL, 0};
        CHECK(run_entries_alone(&cd, &alone) == 0, "%s %s alone: %s", info.name, cd.name, simdattn_last_error());
        snapshot(&cd, o2, l2);
        CHECK(!memcmp(o1, o2, cd.out_len * sizeof(float)) && !memcmp(l1, l2, cd.lse_len * sizeof(float)),
              "%s %s: a batch entry computed alone differs from the same entry in the batch", info.name, cd.name);
      }
      CHECK(case_guards_intact(&cd), "%s %s: guards", info.name, cd.name);
      printf("%-24s %-60s bitwise identical over n_threads 1,2,3,0,5 and pools of 1 and 4%s\n", info.name, cd.name,
             cd.p.batch > 1 ? ", and each batch entry alone" : "");
      free(o1);
      free(l1);
      free(o2);
      free(l2);
      case_free(&cd);
    }
  }
  return check_report("test_determinism");
}
