/* src/parallel.c: running independent tasks — OpenMP when built with it, the caller's own
 * pool when options.parallel is set, else the calling thread. Each running task gets a worker
 * index that no concurrently running task shares (it picks the task's workspace). The split
 * into tasks is fixed before this runs, so which thread runs a task never changes results. */
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "fpenv.h"
#include "internal.h"

#define SA_MAX_POOL 256 /* workspaces handed to a caller's pool */
#define SA_MAX_LISTS 256 /* task lists, one per worker (more workers share them) */

typedef struct {
  _Alignas(64) atomic_llong i; /* the list's next position; a cache line each */
} sa_list;

static int sa_online_cpus(void) {
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

int sa_parallel_workers(const simdattn_options *opt, int64_t count) {
  int n;
  if (opt && opt->parallel) {
    n = sa_online_cpus(); /* concurrency beyond this waits for a free workspace */
    if (n > SA_MAX_POOL) n = SA_MAX_POOL;
  } else {
    n = opt ? opt->n_threads : 0;
#ifdef _OPENMP
    if (n <= 0) n = omp_get_max_threads();
#else
    n = 1;
#endif
  }
  if (count < n) n = (int)count;
  return n > 0 ? n : 1;
}

/* The caller's hook may run tasks on any threads: hand each a free workspace slot. */
typedef struct {
  sa_task_fn fn;
  void *ctx;
  int workers;
  atomic_int *busy;
} sa_pool_ctx;

static void sa_pool_task(void *ctx, int64_t index) {
  sa_pool_ctx *pc = (sa_pool_ctx *)ctx;
  for (;;) {
    for (int w = 0; w < pc->workers; w++) {
      int expected = 0;
      if (atomic_load_explicit(&pc->busy[w], memory_order_relaxed) == 0 &&
          atomic_compare_exchange_strong(&pc->busy[w], &expected, 1)) {
        sa_fpenv env; /* the caller's pool thread: IEEE defaults for the task, its own mode after */
        sa_fpenv_enter(&env);
        pc->fn(pc->ctx, index, w);
        sa_fpenv_leave(&env);
        atomic_store_explicit(&pc->busy[w], 0, memory_order_release);
        return;
      }
    }
    sched_yield(); /* more tasks in flight than workspaces: one finishes soon */
  }
}

void sa_parallel_run(const simdattn_options *opt, int64_t count, int workers, sa_task_fn fn, void *ctx) {
  if (count <= 0) return;
  if (opt && opt->parallel) {
    atomic_int busy[SA_MAX_POOL];
    for (int w = 0; w < workers; w++) atomic_init(&busy[w], 0);
    sa_pool_ctx pc = {fn, ctx, workers, busy};
    opt->parallel(opt->parallel_pool, sa_pool_task, &pc, count);
    return;
  }
  if (workers <= 1) {
    for (int64_t t = 0; t < count; t++) fn(ctx, t, 0);
    return;
  }
#ifdef _OPENMP
  /* Worker w first runs its own list, tasks w, w + lists, w + 2 lists, ... in order (a list per
   * worker, up to SA_MAX_LISTS; beyond, workers w and w + lists share one), then
   * helps with the others' (each list's next task is claimed atomically, so every task runs
   * once). Consecutive tasks are other heads' (sa_task_at), so a worker's own list keeps the
   * same heads, whose K/V and packed blocks stay in its core's L2 (a plain dynamic schedule
   * moved each head between the cores: prefill seq 512, 4 heads, d64, 2 threads 1.79x one
   * thread; with own lists 1.95x). Stealing keeps the threads finishing together on a shared,
   * noisy machine. */
  const int lists = workers < SA_MAX_LISTS ? workers : SA_MAX_LISTS;
  sa_list next[SA_MAX_LISTS];
  for (int l = 0; l < lists; l++) atomic_init(&next[l].i, 0);
#pragma omp parallel num_threads(workers)
  {
    const int w = omp_get_thread_num(); /* the team may be smaller than workers: every list is visited */
    sa_fpenv env;                       /* OpenMP's threads keep whatever mode they had: IEEE defaults */
    sa_fpenv_enter(&env);
    for (int v = 0; v < lists; v++) {
      const int l = (w + v) % lists;
      for (;;) {
        const int64_t t = l + atomic_fetch_add_explicit(&next[l].i, 1, memory_order_relaxed) * (int64_t)lists;
        if (t >= count) break;
        fn(ctx, t, w);
      }
    }
    sa_fpenv_leave(&env);
  }
#endif
}
