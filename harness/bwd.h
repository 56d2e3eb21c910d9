/* harness/bwd.h: attn-check's backward cases (names start with bwd/) — every variant with a
 * backward pass against the float64 oracle's gradients (ref/oracle.c sa_oracle_bwd), per tensor
 * (dq, dk, dv, d_sinks) with the unchanged rule:
 *   pass iff err(variant) <= 2 err(ref) + 2 FLT_EPSILON max|oracle|
 * err(ref) the largest error of the naive fp32 backward over its operation orders (ref/ref.h).
 * Also: nothing written outside the gradients (NaN guards), the same bits at 1 thread, at every
 * thread and through the plan API (simdattn_plan_create_backward / _execute_backward). */
#ifndef SA_HARNESS_BWD_H
#define SA_HARNESS_BWD_H

#include <stdint.h>

#include "cases.h"
#include "src/internal.h"

/* the backward grid: specs whose case_name, prefixed "bwd/", names each case */
int bwd_grid(int quick, case_spec **out);
/* 1: print FAIL lines only (tests/fuzz) */
extern int bwd_quiet;
/* one case over the variants; passed / failed counts added */
void bwd_run_case(const case_spec *spec, const sa_variant *const *vars, int n_vars, uint64_t seed, const char *filter,
                  long *passed, long *failed);

#endif
