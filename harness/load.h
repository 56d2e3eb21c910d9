/* harness/load.h: how much of the machine other processes took while a measurement ran. A
 * benchmark on a shared machine is only as good as the CPU time it had: attn-bench records, per
 * row, the share of all CPUs' time that other processes used (foreign_cpu, 0..1: /proc/stat's busy
 * time minus this process's own CPU time from getrusage) and the share the hypervisor stole
 * (steal, where the kernel reports it), and re-runs rows above a threshold. */
#ifndef SA_HARNESS_LOAD_H
#define SA_HARNESS_LOAD_H

#include <stdint.h>

typedef struct {
  int ok;                      /* /proc/stat was readable */
  uint64_t busy, steal, total; /* clock ticks over all CPUs */
  double own;                  /* this process's CPU seconds (user + system) */
} sa_load_mark;

/* A reading of the machine's CPU counters and this process's CPU time, now. */
void sa_load_mark_now(sa_load_mark *m);
/* Between two readings: the share of all CPUs' time used by other processes (foreign, 0..1) and
 * stolen by the hypervisor (steal, 0..1). Both 0 when /proc/stat cannot be read. Resolution is
 * the kernel's clock tick (10 ms per CPU): about +-0.1 on a 0.1 s row of a 2-CPU machine. */
void sa_load_between(const sa_load_mark *a, const sa_load_mark *b, double *foreign, double *steal);

#endif
