/* tests/threads_util.h: a plain pthread pool implementing simdattn_options.parallel, running
 * the library's tasks in reverse order on several threads (any order must give the same bits). */
#ifndef SA_TESTS_THREADS_UTIL_H
#define SA_TESTS_THREADS_UTIL_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "simdattn.h"

typedef struct {
  int threads;
  atomic_long calls; /* task calls made, for checking "exactly once" */
} test_pool;

typedef struct {
  void (*task)(void *, int64_t);
  void *ctx;
  int64_t count;
  atomic_llong next;
  test_pool *pool;
} pool_run;

static void *pool_worker(void *arg) {
  pool_run *r = (pool_run *)arg;
  for (;;) {
    const long long t = atomic_fetch_add(&r->next, 1);
    if (t >= r->count) break;
    r->task(r->ctx, r->count - 1 - t); /* reverse order */
    atomic_fetch_add(&r->pool->calls, 1);
  }
  return NULL;
}

static void test_pool_parallel(void *pool, void (*task)(void *, int64_t), void *ctx, int64_t count) {
  test_pool *tp = (test_pool *)pool;
  pool_run r;
  r.task = task;
  r.ctx = ctx;
  r.count = count;
  atomic_init(&r.next, 0);
  r.pool = tp;
  pthread_t th[16];
  const int n = tp->threads < 16 ? tp->threads : 16;
  for (int t = 0; t < n; t++) pthread_create(&th[t], NULL, pool_worker, &r);
  for (int t = 0; t < n; t++) pthread_join(th[t], NULL);
}
#endif
