/* tests/test_concurrency.c: a stress test. Six caller threads (more than this machine's cores)
 * call simdattn_forward at once, each on its own problem (prefill, decode with split keys, GQA,
 * sinks, f16/bf16 inputs) and variant, alternating between the library's own threads and a
 * caller-supplied `parallel` hook over a plain pthread pool (tests/threads_util.h, tasks in
 * reverse order); every result must equal, bitwise, the same call made alone on one thread.
 * Also simdattn_last_error stays per thread. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness/cases.h"
#include "threads_util.h"

enum { WORKERS = 6, ROUNDS = 10 };

typedef struct {
  case_data cd;
  const char *variant;
  float *want_out, *want_lse;
  int n_threads;
  int mismatches, errors, pooled;
  int error_msg_ok;
} job;

static void *worker(void *arg) {
  job *j = (job *)arg;
  for (int r = 0; r < ROUNDS; r++) {
    case_reset_outputs(&j->cd);
    test_pool pool = {2 + r % 2, 0};
    simdattn_options opt = {j->n_threads, j->variant, NULL, NULL, 0};
    if (r % 2) { /* odd rounds through the caller's own pool */
      opt.parallel = test_pool_parallel;
      opt.parallel_pool = &pool;
      j->pooled++;
    }
    if (simdattn_forward(&j->cd.p, &opt) != SIMDATTN_OK) j->errors++;
    if (memcmp(j->cd.out_buf, j->want_out, j->cd.out_len * sizeof(float)) ||
        memcmp(j->cd.lse_buf, j->want_lse, j->cd.lse_len * sizeof(float)))
      j->mismatches++;
    /* a failing call on this thread sets this thread's message only */
    simdattn_problem bad = j->cd.p;
    bad.seq_q = -(int64_t)(r + 1);
    char want[64];
    snprintf(want, sizeof want, "got %d", -(r + 1));
    if (simdattn_forward(&bad, NULL) != SIMDATTN_ERR_INVALID || !strstr(simdattn_last_error(), want))
      j->error_msg_ok = 0;
  }
  return NULL;
}

int main(void) {
  job jobs[WORKERS];
  const int nvar = simdattn_variant_count();
  for (int w = 0; w < WORKERS; w++) {
    case_spec s = case_default("conc", 60 + 17 * w, 200 + 101 * w);
    s.heads_q = 4;
    s.heads_kv = w % 2 ? 1 : 4;
    s.causal = (simdattn_causal)(w % 3);
    s.sinks = w % 2;
    if (w == 3) s.seq_q = 1; /* split-KV decode */
    if (w == 4) s.kvt = SIMDATTN_F16;
    if (w == 5) s.qt = s.kvt = SIMDATTN_BF16;
    simdattn_variant_info info;
    simdattn_variant_get(w % nvar, &info);
    /* ref always runs and takes every dtype; a reduced-precision-only variant gets its dtype */
    if (!info.available || case_fit_dtypes(&s, info.dtypes)) simdattn_variant_get(nvar - 1, &info);
    job *j = &jobs[w];
    memset(j, 0, sizeof *j);
    j->variant = info.name;
    j->n_threads = 1 + w % 2;
    j->error_msg_ok = 1;
    CHECK(case_build(&s, 11, &j->cd) == 0, "build");
    const simdattn_options alone = {1, j->variant, NULL, NULL, 0};
    CHECK(simdattn_forward(&j->cd.p, &alone) == SIMDATTN_OK, "%s", simdattn_last_error());
    j->want_out = malloc(j->cd.out_len * sizeof(float));
    j->want_lse = malloc(j->cd.lse_len * sizeof(float));
    memcpy(j->want_out, j->cd.out_buf, j->cd.out_len * sizeof(float));
    memcpy(j->want_lse, j->cd.lse_buf, j->cd.lse_len * sizeof(float));
  }
  pthread_t th[WORKERS];
  for (int w = 0; w < WORKERS; w++) pthread_create(&th[w], NULL, worker, &jobs[w]);
  for (int w = 0; w < WORKERS; w++) pthread_join(th[w], NULL);
  for (int w = 0; w < WORKERS; w++) {
    job *j = &jobs[w];
    CHECK(j->errors == 0 && j->mismatches == 0, "%s on %s: %d errors, %d of %d results differ from the lone call",
          j->variant, j->cd.name, j->errors, j->mismatches, ROUNDS);
    CHECK(j->error_msg_ok, "thread %d: simdattn_last_error was not its own", w);
    printf("thread %d: %-24s %s x%d (%d through a pthread pool): identical\n", w, j->variant, j->cd.name, ROUNDS,
           j->pooled);
    free(j->want_out);
    free(j->want_lse);
    case_free(&j->cd);
  }
  return check_report("test_concurrency");
}
