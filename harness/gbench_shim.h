/* harness/gbench_shim.h: a C API over Google Benchmark (the repo's only C++ is its .cc).
 * Rows are registered by name with a C callback that runs a batch of iterations; counters are
 * computed from the wall time the shim measures around the callback (the names must carry
 * nothing Google Benchmark would append, so UseRealTime/UseManualTime are never used). Every
 * standard flag works: --benchmark_filter, _format=json, _out, _repetitions, _min_time. */
#ifndef SA_HARNESS_GBENCH_SHIM_H
#define SA_HARNESS_GBENCH_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gbs_bench gbs_bench;

/* Prepares and checks a row before any timing; called each time Google Benchmark enters the
 * row. Returns 0, or nonzero after writing why into err: the row is then reported as an error
 * and never timed. */
typedef int (*gbs_setup_fn)(void *ctx, char *err, size_t err_size);
/* Runs the timed work `iters` times. Returns 0, or nonzero with err written (row errored). The
 * rates are computed from the wall time the shim measures around the call, unless the callback
 * sets *seconds (>= 0) to the time of the iterations it stands by (e.g. after running them again
 * because the machine was busy; Google Benchmark's own real_time then includes every attempt). */
typedef int (*gbs_run_fn)(void *ctx, int64_t iters, double *seconds, char *err, size_t err_size);

gbs_bench *gbs_register(const char *name, gbs_setup_fn setup, gbs_run_fn run, void *ctx);
/* Counter `name` = per_iter * iterations / wall seconds * scale (a rate on the wall clock). */
void gbs_rate(gbs_bench *b, const char *name, double per_iter, double scale);
/* Counter `name` = counter `of` / divisor (e.g. peak_frac = GFLOPS / the measured peak).
 * gbs_ratio_ref reads *divisor when the row finishes (setup may refine it). */
void gbs_ratio(gbs_bench *b, const char *name, const char *of, double divisor);
void gbs_ratio_ref(gbs_bench *b, const char *name, const char *of, const double *divisor);
/* Counter `name` = value (e.g. workspace_bytes); may be set again by setup. */
void gbs_value(gbs_bench *b, const char *name, double value);
/* A key/value in the JSON context. */
void gbs_context(const char *key, const char *value);
/* Runs the rows the flags select. 0 ok, 1 unrecognised flag, 2 the filter matched nothing. */
int gbs_run(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
