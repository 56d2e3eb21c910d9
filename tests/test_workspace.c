/* tests/test_workspace.c: a flash variant's extra memory grows with seq_kv * head_dim and the
 * thread count, never with seq_q * seq_kv: doubling seq (seq_q = seq_kv) at most doubles it,
 * while the unfused baseline's S matrix roughly quadruples. Memory, not time. */
#include <string.h>

#include "check.h"
#include "harness/baselines.h"
#include "harness/cases.h"
#include "src/internal.h"

/* the problems, one per (seq, d): built once (their data are never read: only planned) */
#define N_SHAPES 16
static struct {
  int64_t seq, d;
  case_data cd;
  int ok;
} shapes[N_SHAPES];
static int n_shapes;

static const simdattn_problem *problem(int64_t seq, int64_t d, int *ok) {
  for (int k = 0; k < n_shapes; k++)
    if (shapes[k].seq == seq && shapes[k].d == d) return *ok = shapes[k].ok, &shapes[k].cd.p;
  if (n_shapes == N_SHAPES) return *ok = 0, NULL;
  case_spec s = case_default("ws", seq, seq);
  s.heads_q = s.heads_kv = 1;
  s.d = s.dv = d;
  s.lse = 0;
  shapes[n_shapes].seq = seq, shapes[n_shapes].d = d;
  shapes[n_shapes].ok = case_build(&s, 1, &shapes[n_shapes].cd) == 0;
  *ok = shapes[n_shapes].ok;
  return &shapes[n_shapes++].cd.p;
}

static size_t flash_bytes(const sa_variant *v, int64_t seq, int threads, int64_t d, int *ok) {
  const simdattn_problem *p = problem(seq, d, ok);
  sa_job j;
  *ok = *ok && sa_validate(p, &j) == SIMDATTN_OK;
  size_t bytes = 0;
  if (*ok) {
    sa_plan(&j, v->kernel);
    const simdattn_options opt = {threads, NULL, NULL, NULL, 0};
    bytes = sa_workspace_bytes(&j, v, sa_parallel_workers(&opt, sa_task_count(&j)));
  }
  return bytes;
}

int main(void) {
  for (int t = 0; t < sa_variant_total(); t++) {
    const sa_variant *v = sa_variant_at(t);
    if (!strcmp(v->name, "ref")) continue; /* the naive reference holds a row of scores: not flash */
    if (!sa_variant_available(v)) {        /* its code is built for an ISA this CPU lacks: even its sizing may use it */
      printf("%-24s skipped: this CPU lacks its ISA\n", v->name);
      continue;
    }
    for (int threads = 1; threads <= 2; threads++)
      for (int64_t d = 64; d <= 128; d *= 2)
        for (int64_t seq = 512; seq <= 8192; seq *= 2) {
          int ok1, ok2;
          const size_t a = flash_bytes(v, seq, threads, d, &ok1), b = flash_bytes(v, 2 * seq, threads, d, &ok2);
          CHECK(ok1 && ok2, "build");
          CHECK(b <= 2 * a, "%s d%lld t%d: seq %lld -> %lld grows the workspace %zu -> %zu (more than 2x)", v->name,
                (long long)d, threads, (long long)seq, (long long)(2 * seq), a, b);
          if (seq == 8192)
            printf("%-24s d%-3lld t%d: workspace %zu bytes at seq %lld, %zu at %lld\n", v->name, (long long)d, threads,
                   a, (long long)seq, b, (long long)(2 * seq));
        }
  }
  for (int64_t seq = 512; seq <= 8192; seq *= 2) {
    simdattn_problem p;
    memset(&p, 0, sizeof p);
    p.seq_q = p.seq_kv = seq;
    const size_t a = sa_unfused_workspace(&p);
    p.seq_q = p.seq_kv = 2 * seq;
    const size_t b = sa_unfused_workspace(&p);
    CHECK(b >= 3.5 * (double)a, "unfused: seq %lld -> %lld: %zu -> %zu (want about 4x)", (long long)seq,
          (long long)(2 * seq), a, b);
  }
  for (int k = 0; k < n_shapes; k++) case_free(&shapes[k].cd);
  return check_report("test_workspace");
}
