/* tests/fuzz/fuzz_backward.c: libFuzzer target — the backward pass on valid problems.
 * The input's bytes choose a small problem (batch, heads and GQA group, seq_q, seq_kv, head_dim
 * and head_dim_v across the tiles' edges, causal alignment, window, softcap, alibi, sinks, mask,
 * layout, value distribution, f32/f16/bf16 inputs) and its data seed; every variant with a
 * backward pass that this CPU runs is then judged as attn-check judges its bwd/ cases
 * (harness/bwd.c: the float64 oracle's gradients, the rule per tensor, guards, 1 thread against
 * all, the plan API). A failure aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness/bwd.h"

typedef struct {
  const uint8_t *p;
  size_t n, at;
} reader;
static uint8_t u8(reader *r) { return r->at < r->n ? r->p[r->at++] : 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  reader r = {data, size, 0};
  case_spec s = case_default("bwd", 1 + u8(&r) % 70, u8(&r) % 140);
  s.batch = 1 + u8(&r) % 2;
  s.heads_kv = 1 + u8(&r) % 2;
  s.heads_q = s.heads_kv * (1 + u8(&r) % 3);
  const uint8_t dd = u8(&r);
  s.d = 1 + dd % 72;
  s.dv = u8(&r) % 2 ? s.d : 1 + u8(&r) % 72;
  const uint8_t f = u8(&r);
  s.causal = (simdattn_causal)(f % 3);
  if (s.causal && (f & 4)) s.window = 1 + u8(&r) % 40;
  if (f & 8) s.alibi = 1;
  if (f & 16) s.sinks = 1;
  if (f & 32) s.mask = (case_mask)(1 + u8(&r) % 3);
  if (f & 64) s.layout = (case_layout)(u8(&r) % 4);
  static const case_dist dists[] = {DIST_NORMAL, DIST_NORMAL, DIST_LARGE, DIST_TINY, DIST_DOMINANT, DIST_CONST,
                                    DIST_SOFTCAP};
  s.dist = dists[u8(&r) % (sizeof dists / sizeof *dists)];
  if (s.dist == DIST_SOFTCAP) s.softcap = 1.0f + (float)(u8(&r) % 50);
  static const simdattn_dtype dts[] = {SIMDATTN_F32, SIMDATTN_F16, SIMDATTN_BF16};
  const uint8_t t = u8(&r);
  s.qt = dts[t % 3];
  s.kvt = t & 4 ? dts[t / 8 % 3] : s.qt;
  const uint64_t seed = 1 + u8(&r);
  const sa_variant *vars[64];
  const int n_vars = sa_variant_select(NULL, 0, vars, 64);
  bwd_quiet = getenv("FUZZ_VERBOSE") == NULL;
  long passed = 0, failed = 0;
  bwd_run_case(&s, vars, n_vars, seed, NULL, &passed, &failed);
  if (failed) {
    fflush(stdout);
    abort();
  }
  return 0;
}
