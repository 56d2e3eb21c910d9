/* harness/attn-check.c: every variant this CPU runs against the float64 oracle, over a grid of
 * cases, with the equivalence rule (README.md, "Equivalence"):
 *   err(x) = max |x - oracle| over the oracle's finite elements
 *   pass iff err(variant) <= 2 err(ref) + 2 FLT_EPSILON max|oracle|   (out, and lse)
 * and elements the oracle says are 0, +-inf or NaN must be exactly that. err(ref) is the
 * largest error of the naive fp32 reference over its operation orders (ref/ref.h), and each
 * order is held to the worst-case bound derived in ref/oracle.c, so a wrong reference cannot
 * widen the budget. Also checked: no write outside the out rows and lse entries (guards), for
 * injected NaNs the exact pattern of NaN outputs the semantics require, and that the plan API
 * (simdattn_plan_create + _execute) gives every case exactly simdattn_forward's bits. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bwd.h"
#include "cases.h"
#include "equiv.h"
#include "ref/ref.h"
#include "src/internal.h"
#include "varlen.h"

/* Does row (b, h, i) see key `key`? (causal rule, window, mask; the NaN cases have finite scores) */
static int sees(const sa_job *j, int64_t b, int64_t h, int64_t i, int64_t key) {
  sa_row row;
  sa_row_setup(j, b, h / j->group, i * j->group + h % j->group, &row);
  if (key < row.lo || key >= row.hi) return 0;
  return !(row.mask && row.mask[key] == -INFINITY);
}

/* The oracle against the semantics for one injected NaN: NaN in q_i makes row i NaN (if it sees
 * any key); NaN in a visible k_j makes the rows that see j NaN; NaN in v_j[x] makes column x NaN
 * in the rows that see j; nothing else is NaN. An injected +inf in v_j[x] (INF_V) makes column x
 * +inf in the rows that see j, nothing NaN. Returns 1 when the oracle agrees. */
static int nan_pattern_ok(const case_data *cd, const sa_job *j, const double *o_out, const double *o_lse) {
  const case_spec *s = &cd->spec;
  if (s->nan == NAN_NONE || cd->nan_b < 0) return 1;
  int64_t t = 0;
  for (int64_t b = 0; b < s->batch; b++)
    for (int64_t h = 0; h < s->heads_q; h++)
      for (int64_t i = 0; i < s->seq_q; i++, t++) {
        int row_nan = 0, col_nan = 0;
        if (s->nan == NAN_Q && b == cd->nan_b && h == cd->nan_h && i == cd->nan_pos) {
          for (int64_t key = 0; key < s->seq_kv; key++) row_nan |= sees(j, b, h, i, key);
        } else if (s->nan != NAN_Q && b == cd->nan_b && h / j->group == cd->nan_h && sees(j, b, h, i, cd->nan_pos)) {
          if (s->nan == NAN_K) row_nan = 1;
          else col_nan = 1;
        }
        for (int64_t x = 0; x < s->dv; x++) {
          const double o = o_out[t * s->dv + x];
          if (s->nan == INF_V) {
            if ((col_nan && x == cd->nan_x) != (o == INFINITY) || isnan(o)) return 0;
            continue;
          }
          const int want = row_nan || (col_nan && x == cd->nan_x);
          if (want != (isnan(o) != 0)) return 0;
        }
        if (row_nan != (isnan(o_lse[t]) != 0)) return 0;
      }
  return 1;
}

typedef struct {
  long passed, failed, skipped;
} check_stats;

/* A quantized case's format error: the largest |oracle on the quantized cache - oracle on the f32
 * data it was quantized from| over the out elements finite in both (what the format costs, apart
 * from the kernel's error, which is judged against the oracle on the dequantized values) */
static double format_error(const case_data *cd, const sa_truth *t) {
  simdattn_problem p = cd->p;
  p.k.data = cd->k_f32, p.k.dtype = SIMDATTN_F32;
  p.v.data = cd->v_f32, p.v.dtype = SIMDATTN_F32;
  p.k_scale = p.v_scale = NULL;
  sa_job j;
  if (sa_validate(&p, &j) != SIMDATTN_OK) return NAN;
  double *o = malloc(sizeof(double) * (size_t)(t->n * t->dv + 1));
  double err = 0.0;
  if (!o || sa_oracle_rows(&j, t->rows, t->n, o, NULL, NULL, NULL)) err = NAN;
  for (int64_t k = 0; o && err == err && k < t->n * t->dv; k++)
    if (isfinite(o[k]) && isfinite(t->o_out[k]) && fabs(o[k] - t->o_out[k]) > err) err = fabs(o[k] - t->o_out[k]);
  free(o);
  return err;
}

/* The plan API on the case simdattn_forward just ran: plan, a workspace of the size the plan asks,
 * execute; every output byte (guards included) must be the same. 1 when it is, else 0 with why.
 * The plan runs decode on an interleaved cache with several kv heads per task side by side whatever
 * the size (sa_group_heads_min_bytes 0), and never takes heads as rows (sa_heads_as_rows_max_bytes
 * -1) or the short path (sa_direct_short_max_bytes -1), which simdattn_forward does for multi-head
 * decode within L2: so each path is judged on every such case, and their bits compared. */
static int plan_agrees(case_data *cd, const simdattn_options *opt, char *why, size_t n) {
  float *out = malloc(sizeof(float) * cd->out_len), *lse = malloc(sizeof(float) * cd->lse_len);
  const double group_min = sa_group_heads_min_bytes, rows_max = sa_heads_as_rows_max_bytes,
               short_max = sa_direct_short_max_bytes;
  simdattn_plan *plan = NULL;
  void *ws = NULL;
  int ok = 0;
  if (!out || !lse) {
    snprintf(why, n, "  cannot allocate the plan check");
    goto done;
  }
  memcpy(out, cd->out_buf, sizeof(float) * cd->out_len);
  memcpy(lse, cd->lse_buf, sizeof(float) * cd->lse_len);
  sa_group_heads_min_bytes = 0.0;
  sa_heads_as_rows_max_bytes = -1.0;
  sa_direct_short_max_bytes = -1.0;
  if (simdattn_plan_create(&cd->p, opt, &plan) != SIMDATTN_OK) {
    snprintf(why, n, "  simdattn_plan_create: %s", simdattn_last_error());
    goto done;
  }
  const size_t bytes = simdattn_plan_workspace_size(plan);
  ws = bytes ? aligned_alloc(SIMDATTN_WORKSPACE_ALIGN, (bytes + 63) / 64 * 64) : NULL;
  case_reset_outputs(cd);
  if (simdattn_plan_execute(plan, &cd->p, ws, bytes) != SIMDATTN_OK) {
    snprintf(why, n, "  simdattn_plan_execute: %s", simdattn_last_error());
    goto done;
  }
  ok = !memcmp(out, cd->out_buf, sizeof(float) * cd->out_len) && !memcmp(lse, cd->lse_buf, sizeof(float) * cd->lse_len);
  if (!ok) snprintf(why, n, "  simdattn_plan_execute's bits differ from simdattn_forward's");
done:
  sa_group_heads_min_bytes = group_min;
  sa_heads_as_rows_max_bytes = rows_max;
  sa_direct_short_max_bytes = short_max;
  free(ws);
  simdattn_plan_destroy(plan);
  free(out);
  free(lse);
  return ok;
}

/* One case: its oracle and err(ref) once, then every variant in vars that accepts its dtypes. */
static void run_case(const case_spec *spec, const sa_variant *const *vars, int n_vars, uint64_t seed,
                     const char *filter, int verbose, check_stats *st) {
  case_data cd;
  char name[160];
  case_name(spec, name, sizeof name);
  if (filter && !strstr(name, filter)) return;
  int any = 0;
  for (int t = 0; t < n_vars; t++) any |= sa_variant_accepts_dtypes(vars[t], spec->qt, spec->kvt, case_vt(spec));
  if (!any) return;
  if (case_build(spec, seed, &cd) != 0) {
    printf("FAIL %-28s %s  cannot allocate the case\n", "-", name);
    st->failed++;
    return;
  }
  sa_job job;
  sa_truth truth;
  const int64_t nrows = spec->batch * spec->heads_q * spec->seq_q;
  if (sa_validate(&cd.p, &job) != SIMDATTN_OK || sa_truth_build(&cd.p, NULL, nrows, spec->lse, &truth)) {
    printf("FAIL %-28s %s  cannot build the case's oracle: %s\n", "-", name, simdattn_last_error());
    st->failed++;
    case_free(&cd);
    return;
  }
  const int pattern_ok = nan_pattern_ok(&cd, &job, truth.o_out, truth.o_lse);
  char fmt[64] = "";
  if (case_quantized(spec)) { /* the format's own error, beside the kernel's */
    const double e = format_error(&cd, &truth);
    snprintf(fmt, sizeof fmt, " fmt_err %.3g", e);
  }
  if (verbose || !truth.ref_ok)
    printf("%s %-28s %s  err(ref) out %.3g lse %.3g over %d orders, bound_ratio %.3g\n", truth.ref_ok ? "info" : "FAIL",
           "ref(orders)", name, truth.ref_out, truth.ref_lse, SA_REF_N_ORDERS, truth.ref_bound_ratio);
  float *got = malloc(sizeof(float) * (size_t)(nrows * spec->dv + 1));
  float *got_lse = malloc(sizeof(float) * (size_t)(nrows + 1));
  for (int t = 0; t < n_vars && got && got_lse; t++) {
    const sa_variant *v = vars[t];
    if (!sa_variant_accepts(v, &job)) continue; /* not this variant's dtypes: not applicable */
    if (!sa_variant_available(v)) {
      st->skipped++;
      continue;
    }
    case_reset_outputs(&cd);
    const simdattn_options opt = {0, v->name, NULL, NULL, 0};
    const simdattn_status status = simdattn_forward(&cd.p, &opt);
    sa_gather(&cd.p, &truth, got, got_lse);
    const sa_verdict e = sa_judge(&truth, got, got_lse);
    const int guards = case_guards_intact(&cd);
    const int is_ref = !strcmp(v->name, "ref");
    char why[200] = "", plan_why[200] = "";
    const int plan_ok = status != SIMDATTN_OK || plan_agrees(&cd, &opt, plan_why, sizeof plan_why);
    const int ok = status == SIMDATTN_OK && guards && e.pass && pattern_ok && (!is_ref || truth.ref_ok) && plan_ok;
    if (status != SIMDATTN_OK) snprintf(why, sizeof why, "  status %d: %s", (int)status, simdattn_last_error());
    else if (!guards) snprintf(why, sizeof why, "  wrote outside its out rows / lse entries");
    else if (!e.exact) snprintf(why, sizeof why, "  a 0 / inf / NaN element of the oracle not matched exactly");
    else if (!pattern_ok) snprintf(why, sizeof why, "  the oracle's NaN pattern breaks the semantics");
    else if (is_ref && !truth.ref_ok)
      snprintf(why, sizeof why, "  exceeds its derived error bound (ratio %.3g)", truth.ref_bound_ratio);
    else if (!plan_ok) snprintf(why, sizeof why, "%s", plan_why);
    printf("%s %-28s %s  out_err %.3g budget %.3g lse_err %.3g budget %.3g ratio %.3f%s%s\n", ok ? "PASS" : "FAIL",
           v->name, name, e.err_out, truth.budget_out, e.err_lse, truth.budget_lse, e.ratio, fmt, why);
    if (is_ref)
      printf("     %-28s %s  bound_ratio %.3g (every order within its derived bound)\n", "", name,
             truth.ref_bound_ratio);
    if (ok) st->passed++;
    else st->failed++;
  }
  free(got);
  free(got_lse);
  sa_truth_free(&truth);
  case_free(&cd);
}

/* One ragged or paged case (harness/varlen.h): each sequence judged against the oracle on its own
 * dense case with the unchanged rule; nothing written outside the sequences' rows; every sequence
 * bitwise equal to simdattn_forward of it alone (a dense batch of 1) and the plan API bitwise equal
 * to simdattn_forward of the whole batch. */
static void run_varlen_case(const varlen_spec *spec, const sa_variant *const *vars, int n_vars, uint64_t seed,
                            const char *filter, check_stats *st) {
  char name[200];
  varlen_name(spec, name, sizeof name);
  if (filter && !strstr(name, filter)) return;
  const case_spec *b = &spec->base;
  int any = 0;
  for (int t = 0; t < n_vars; t++) any |= sa_variant_accepts_dtypes(vars[t], b->qt, b->kvt, b->kvt);
  if (!any) return;
  varlen_data vd;
  sa_truth truth[VL_MAX_SEQS];
  memset(truth, 0, sizeof truth);
  if (varlen_build(spec, seed, &vd) != 0) {
    printf("FAIL %-28s %s  cannot build the case\n", "-", name);
    st->failed++;
    varlen_free(&vd);
    return;
  }
  int64_t most = 1;
  for (int r = 0; r < spec->n; r++) {
    const int64_t rows = b->heads_q * spec->q_len[r];
    if (rows > most) most = rows;
    if (rows && sa_truth_build(&vd.seq[r].p, NULL, rows, b->lse, &truth[r])) {
      printf("FAIL %-28s %s  cannot build sequence %d's oracle: %s\n", "-", name, r, simdattn_last_error());
      st->failed++;
      goto done;
    }
  }
  float *got = malloc(sizeof(float) * (size_t)(most * b->dv + 1)),
        *got_lse = malloc(sizeof(float) * (size_t)(most + 1));
  float *keep_out = malloc(sizeof(float) * vd.out_len), *keep_lse = malloc(sizeof(float) * vd.lse_len);
  for (int t = 0; t < n_vars && got && got_lse && keep_out && keep_lse; t++) {
    const sa_variant *v = vars[t];
    if (!sa_variant_accepts_dtypes(v, b->qt, b->kvt, b->kvt)) continue;
    if (!sa_variant_available(v)) {
      st->skipped++;
      continue;
    }
    varlen_reset_outputs(&vd);
    const simdattn_options opt = {0, v->name, NULL, NULL, 0};
    const simdattn_status status = simdattn_forward(&vd.p, &opt);
    char why[240] = "";
    sa_verdict worst = {0, 0, 1, 0, 1};
    double wbo = 0, wbl = 0;
    int ok = status == SIMDATTN_OK;
    if (!ok) snprintf(why, sizeof why, "  status %d: %s", (int)status, simdattn_last_error());
    if (ok && !varlen_guards_intact(&vd)) ok = 0, snprintf(why, sizeof why, "  wrote outside its sequences' rows");
    for (int r = 0; r < spec->n && ok; r++) {
      if (!spec->q_len[r]) continue;
      varlen_gather(&vd, r, got, got_lse);
      const sa_verdict e = sa_judge(&truth[r], got, got_lse);
      if (e.ratio >= worst.ratio) worst = e, wbo = truth[r].budget_out, wbl = truth[r].budget_lse;
      if (!e.exact)
        ok = 0, snprintf(why, sizeof why, "  sequence %d: a 0 / inf / NaN element of the oracle not matched", r);
      else if (!e.pass) ok = 0, snprintf(why, sizeof why, "  sequence %d over its budget", r);
    }
    if (ok)
      memcpy(keep_out, vd.out_buf, sizeof(float) * vd.out_len),
          memcpy(keep_lse, vd.lse_buf, sizeof(float) * vd.lse_len);
    for (int r = 0; r < spec->n && ok; r++) { /* alone, as a dense batch of 1 */
      if (!spec->q_len[r]) continue;
      case_reset_outputs(&vd.seq[r]);
      if (simdattn_forward(&vd.seq[r].p, &opt) != SIMDATTN_OK || !varlen_same_bits(&vd, r))
        ok = 0, snprintf(why, sizeof why, "  sequence %d's bits differ from simdattn_forward of it alone", r);
    }
    if (ok) { /* the plan API: the same bits */
      simdattn_plan *plan = NULL;
      void *ws = NULL;
      if (simdattn_plan_create(&vd.p, &opt, &plan) != SIMDATTN_OK) {
        ok = 0, snprintf(why, sizeof why, "  simdattn_plan_create: %s", simdattn_last_error());
      } else {
        const size_t bytes = simdattn_plan_workspace_size(plan);
        ws = bytes ? aligned_alloc(SIMDATTN_WORKSPACE_ALIGN, (bytes + 63) / 64 * 64) : NULL;
        varlen_reset_outputs(&vd);
        if (simdattn_plan_execute(plan, &vd.p, ws, bytes) != SIMDATTN_OK)
          ok = 0, snprintf(why, sizeof why, "  simdattn_plan_execute: %s", simdattn_last_error());
        else if (memcmp(keep_out, vd.out_buf, sizeof(float) * vd.out_len) ||
                 memcmp(keep_lse, vd.lse_buf, sizeof(float) * vd.lse_len))
          ok = 0, snprintf(why, sizeof why, "  simdattn_plan_execute's bits differ from simdattn_forward's");
      }
      free(ws);
      simdattn_plan_destroy(plan);
    }
    printf("%s %-28s %s  out_err %.3g budget %.3g lse_err %.3g budget %.3g ratio %.3f%s\n", ok ? "PASS" : "FAIL",
           v->name, name, worst.err_out, wbo, worst.err_lse, wbl, worst.ratio, why);
    if (ok) st->passed++;
    else st->failed++;
  }
  free(got);
  free(got_lse);
  free(keep_out);
  free(keep_lse);
done:
  for (int r = 0; r < spec->n; r++)
    if (b->heads_q > 0 && spec->q_len[r] > 0) sa_truth_free(&truth[r]);
  varlen_free(&vd);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: attn-check [--quick] [--variant NAME]... [--require NAME]... [--seed N]\n"
          "                  [--filter SUBSTRING] [--stride N [--offset K]] [--list] [--verbose]\n"
          "Runs every variant this CPU runs against the float64 oracle over a grid of cases.\n"
          "  --quick        the CI-sized grid (default: the full grid)\n"
          "  --variant N    check only variant N (repeatable; default: every registry row)\n"
          "  --require N    fail, instead of skipping, when variant N cannot run here (repeatable)\n"
          "  --seed N       data seed (default 1)\n"
          "  --filter S     only cases whose name contains S\n"
          "  --stride N     every Nth case of the grid (slow runners: valgrind, emulators)\n"
          "  --offset K     with --stride N, start at case K (0..N-1): N runs with offsets 0..N-1\n"
          "                 check the whole grid between them\n"
          "  --list         list the variants and whether this CPU runs them\n"
          "  --verbose      also print the reference's own lines per operation order\n"
          "Exit status: 0 all passed, 1 a check failed, 2 bad usage.\n");
}

static void list_variants(void) {
  char feats[256];
  printf("CPU features: %s\n", sa_cpu_feature_names(sa_cpu_features(), feats, sizeof feats));
  printf("%-32s %-8s %-14s %-10s %s\n", "variant", "isa", "dtypes", "runs here", "auto-dispatch");
  for (int t = 0; t < sa_variant_total(); t++) {
    const sa_variant *v = sa_variant_at(t);
    char dt[64] = "";
#define SA_DT_NAME_IF_(E, name, blk, bb, sc, ...)            \
  if (v->dtypes & SA_DT_BIT(SIMDATTN_##E)) {                 \
    if (dt[0]) strncat(dt, ",", sizeof dt - strlen(dt) - 1); \
    strncat(dt, #name, sizeof dt - strlen(dt) - 1);          \
  }
    SA_DTYPES(SA_DT_NAME_IF_, ~)
    char need[128];
    sa_cpu_feature_names(v->cpu & ~sa_cpu_features(), need, sizeof need);
    printf("%-32s %-8s %-14s %-10s %s\n", v->name, v->isa, dt, sa_variant_available(v) ? "yes" : "no",
           v->flags & SA_VARIANT_NO_AUTO ? "never (reference)" : "yes");
    if (!sa_variant_available(v)) printf("    needs: %s\n", need);
  }
}

int main(int argc, char **argv) {
  int quick = 0, verbose = 0;
  uint64_t seed = 1;
  const char *filter = NULL;
  int stride = 1, offset = 0;
  const char *only[128] = {0}, *require[64] = {0};
  int n_only = 0, n_require = 0;
  for (int a = 1; a < argc; a++) {
    const char *o = argv[a];
    if (!strcmp(o, "--quick")) quick = 1;
    else if (!strcmp(o, "--verbose")) verbose = 1;
    else if (!strcmp(o, "--list")) {
      list_variants();
      return 0;
    } else if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
      usage(stdout);
      return 0;
    } else if ((!strcmp(o, "--variant") || !strcmp(o, "--require") || !strcmp(o, "--seed") || !strcmp(o, "--filter") ||
                !strcmp(o, "--stride") || !strcmp(o, "--offset")) &&
               a + 1 < argc) {
      const char *val = argv[++a];
      if (!strcmp(o, "--seed")) {
        char *end;
        seed = strtoull(val, &end, 10);
        if (*end) {
          fprintf(stderr, "attn-check: --seed needs a number, got '%s'\n", val);
          return 2;
        }
      } else if (!strcmp(o, "--filter")) {
        filter = val;
      } else if (!strcmp(o, "--stride")) {
        stride = atoi(val);
        if (stride < 1) {
          fprintf(stderr, "attn-check: --stride needs a number >= 1, got '%s'\n", val);
          return 2;
        }
      } else if (!strcmp(o, "--offset")) {
        char *end;
        offset = (int)strtol(val, &end, 10);
        if (*end || offset < 0) {
          fprintf(stderr, "attn-check: --offset needs a number >= 0, got '%s'\n", val);
          return 2;
        }
      } else {
        if (!sa_variant_find(val)) {
          fprintf(stderr, "attn-check: %s: no variant named '%s' (see --list)\n", o, val);
          return 2;
        }
        if (n_only >= 64 || n_require >= 64) return 2;
        if (!strcmp(o, "--variant")) only[n_only++] = val;
        else require[n_require++] = val;
      }
    } else {
      fprintf(stderr, "attn-check: unknown or incomplete option '%s'\n", o);
      usage(stderr);
      return 2;
    }
  }

  /* the variants to check */
  const sa_variant *vars[64];
  if (n_only) /* --require names are checked too */
    for (int o = 0; o < n_require && n_only < 64; o++) only[n_only++] = require[o];
  const int n_vars = sa_variant_select(only, n_only, vars, 64);
  long passed = 0, failed = 0, skipped = 0;
  for (int o = 0; o < n_require; o++) {
    const sa_variant *v = sa_variant_find(require[o]);
    if (!sa_variant_available(v)) {
      char need[128];
      printf("FAIL %-28s required, but this CPU lacks %s\n", v->name,
             sa_cpu_feature_names(v->cpu & ~sa_cpu_features(), need, sizeof need));
      failed++;
    }
  }
  for (int t = 0; t < n_vars; t++)
    if (!sa_variant_available(vars[t])) {
      char need[128];
      printf("SKIP %-28s this CPU lacks %s\n", vars[t]->name,
             sa_cpu_feature_names(vars[t]->cpu & ~sa_cpu_features(), need, sizeof need));
    }

  if (offset >= stride) {
    fprintf(stderr, "attn-check: --offset %d must be below --stride %d\n", offset, stride);
    return 2;
  }
  case_spec *grid;
  const int n_cases = case_grid(quick, &grid);
  printf("attn-check: %s grid, %d cases, seed %llu\n", quick ? "quick" : "full", n_cases, (unsigned long long)seed);
  check_stats st = {0, 0, 0};
  for (int c = offset; c < n_cases; c += stride) {
    run_case(&grid[c], vars, n_vars, seed, filter, verbose, &st);
    /* a variant that takes no f32 input gets every f32 case again in its own dtype (a twin with
     * q, k and v in the first float format it accepts: case_fit_dtypes), so its whole grid is
     * covered, not a few cases; variants with the same twin share its oracle */
    if (grid[c].qt != SIMDATTN_F32 || grid[c].kvt != SIMDATTN_F32 || grid[c].mixed_v) continue;
    int done[64] = {0};
    for (int t = 0; t < n_vars; t++) {
      case_spec twin = grid[c];
      if (done[t] || (vars[t]->dtypes & SA_DT_F32) || case_fit_dtypes(&twin, vars[t]->dtypes)) continue;
      const sa_variant *same[64];
      int n_same = 0;
      for (int u = t; u < n_vars; u++) {
        case_spec other = grid[c];
        if (!done[u] && !(vars[u]->dtypes & SA_DT_F32) && !case_fit_dtypes(&other, vars[u]->dtypes) &&
            other.qt == twin.qt)
          same[n_same++] = vars[u], done[u] = 1;
      }
      run_case(&twin, same, n_same, seed, filter, verbose, &st);
    }
  }
  varlen_spec *vgrid;
  const int n_varlen = varlen_grid(&vgrid);
  /* the quick grid: every other one (each ragged case and its paged twin alternate: both kinds stay) */
  const int vstride = stride * (quick ? 2 : 1);
  printf("attn-check: %d ragged and paged cases%s\n", n_varlen, quick ? ", every other one (--quick)" : "");
  for (int c = offset * (quick ? 2 : 1); c < n_varlen; c += vstride)
    run_varlen_case(&vgrid[c], vars, n_vars, seed, filter, &st);
  free(vgrid);
  case_spec *bgrid;
  const int n_bwd = bwd_grid(quick, &bgrid);
  printf("attn-check: %d backward cases (bwd/)\n", n_bwd);
  for (int c = offset; c < n_bwd; c += stride) bwd_run_case(&bgrid[c], vars, n_vars, seed, filter, &st.passed, &st.failed);
  free(bgrid);
  passed = st.passed, failed += st.failed, skipped = st.skipped;
  free(grid);
  printf("%ld passed, %ld failed, %ld skipped\n", passed, failed, skipped);
  return failed ? 1 : 0;
}
