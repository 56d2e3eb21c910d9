/* harness/load.c: foreign CPU load and steal time from /proc/stat and getrusage (load.h). */
#include "load.h"

#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

void sa_load_mark_now(sa_load_mark *m) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  m->own = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
  m->ok = 0;
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return;
  /* cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user) */
  unsigned long long v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const int n =
      fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
  fclose(f);
  if (n < 4) return;
  m->busy = v[0] + v[1] + v[2] + v[5] + v[6];
  m->steal = v[7];
  m->total = m->busy + v[3] + v[4] + v[7];
  m->ok = 1;
}

static double clamp01(double x) { return x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x; }

void sa_load_between(const sa_load_mark *a, const sa_load_mark *b, double *foreign, double *steal) {
  *foreign = *steal = 0.0;
  if (!a->ok || !b->ok || b->total <= a->total) return;
  const double tick = (double)sysconf(_SC_CLK_TCK), total = (double)(b->total - a->total);
  const double own = (b->own - a->own) * tick; /* in ticks */
  *foreign = clamp01(((double)(b->busy - a->busy) - own) / total);
  *steal = clamp01((double)(b->steal - a->steal) / total);
}
