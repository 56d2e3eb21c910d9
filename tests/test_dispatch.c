/* tests/test_dispatch.c: CPU detection, auto-dispatch and forced variants.
 *   test_dispatch            detection agrees with /proc/cpuinfo on every feature of the ISA table
 *                            (src/isas.inc) for this architecture (under valgrind, whose CPUID
 *                            hides AVX-512, it may only see less); every row this CPU
 *                            runs can be forced and runs; rows it cannot run are refused with
 *                            SIMDATTN_ERR_UNSUPPORTED (never SIGILL); SIMDATTN_VARIANT picks a
 *                            row, an unknown name is SIMDATTN_ERR_INVALID naming it, and
 *                            options.variant wins over the environment; a row without f32
 *                            refuses f32 inputs; auto-dispatch picks the first row accepting
 *                            the inputs' dtypes (f32 and bf16 both checked).
 *   test_dispatch --masked   run with SIMDATTN_DISABLE_ISA=all: no SIMD feature is seen, every
 *                            SIMD row is refused, auto-dispatch falls back to scalar_tiled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness/cases.h"
#include "src/internal.h"

static case_data cd;

/* this machine's /proc/cpuinfo feature list (x86 "flags", AArch64 "Features"), as " a b c ", or
 * NULL when it is unreadable or another architecture's (under an emulator) */
static char *cpuinfo_flags(void) {
  FILE *fp = fopen("/proc/cpuinfo", "r");
  if (!fp) return NULL;
  char line[8192], *out = NULL;
#if defined(__x86_64__)
  const char *key = "flags";
#elif defined(__aarch64__)
  const char *key = "Features";
#else
  const char *key = "?";
#endif
  while (!out && fgets(line, sizeof line, fp)) {
    if (strncmp(line, key, strlen(key)) != 0) continue;
    char *colon = strchr(line, ':');
    if (!colon) continue;
    colon[strcspn(colon, "\n")] = '\0';
    out = malloc(strlen(colon) + 3);
    sprintf(out, " %s ", colon + 1);
  }
  fclose(fp);
  return out;
}

/* Under valgrind, whose CPUID hides what it cannot execute (AVX-512 in 3.19) while /proc/cpuinfo
 * is the kernel's: detection may then see less than the kernel lists, never more. */
static int under_valgrind(void) {
  const char *pre = getenv("LD_PRELOAD");
  return pre && strstr(pre, "vgpreload") != NULL;
}

static void check_feature(const char *arch, const char *name, const char *cpuinfo, unsigned bit, unsigned f,
                          const char *flags) {
#if defined(__x86_64__)
  if (strcmp(arch, "x86_64") != 0) return;
#elif defined(__aarch64__)
  if (strcmp(arch, "aarch64") != 0) return;
#else
  return;
#endif
  char word[64];
  snprintf(word, sizeof word, " %s ", cpuinfo);
  const int listed = strstr(flags, word) != NULL;
  if (under_valgrind() && listed && !(f & bit)) return;
  CHECK(listed == !!(f & bit), "%s: /proc/cpuinfo %s '%s', detection says %s", name, listed ? "lists" : "lacks",
        cpuinfo, f & bit ? "yes" : "no");
}

static simdattn_status run(const char *variant) {
  case_reset_outputs(&cd);
  const simdattn_options opt = {1, variant, NULL, NULL, 0};
  return simdattn_forward(&cd.p, &opt);
}

int main(int argc, char **argv) {
  const int masked = argc > 1 && !strcmp(argv[1], "--masked");
  case_spec s = case_default("dispatch", 40, 90);
  s.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  CHECK(case_build(&s, 3, &cd) == 0, "build");
  const unsigned f = sa_cpu_features();
  char names[256];
  printf("detected: %s\n", sa_cpu_feature_names(f, names, sizeof names));

  /* detection agrees with the kernel's /proc/cpuinfo on every feature of the ISA table for this
   * architecture (the kernel lists what the CPU has and the OS enables) */
  char *flags = cpuinfo_flags();
  if (!masked && flags) {
#define SA_ISA(name, folder, arch, features, cflags, probes)
#define SA_FEATURE(id, name, arch, cpuinfo, detect) check_feature(#arch, name, cpuinfo, SA_CPU_##id, f, flags);
#include "src/isas.inc"
#undef SA_FEATURE
#undef SA_ISA
  }
  free(flags);
#if defined(__aarch64__)
  CHECK(masked || (f & SA_CPU_NEON), "AArch64 always has Advanced SIMD");
#endif
  if (masked) CHECK(f == 0, "SIMDATTN_DISABLE_ISA=all must hide every feature, still see %s", names);

  /* every row: runs when available, else refused with a status (the kernel is never entered) */
  int n_refused = 0;
  for (int t = 0; t < sa_variant_total(); t++) {
    const sa_variant *v = sa_variant_at(t);
    const simdattn_status st = run(v->name);
    if (sa_variant_available(v) && (v->dtypes & (1u << SIMDATTN_F32))) {
      CHECK(st == SIMDATTN_OK, "%s: %s", v->name, simdattn_last_error());
    } else if (sa_variant_available(v)) { /* a reduced-precision-only row: f32 is refused */
      CHECK(st == SIMDATTN_ERR_UNSUPPORTED && strstr(simdattn_last_error(), "does not accept"),
            "%s must refuse f32 inputs with UNSUPPORTED, got %d '%s'", v->name, (int)st, simdattn_last_error());
      CHECK(case_guards_intact(&cd), "refused %s wrote output", v->name);
    } else {
      n_refused++;
      CHECK(st == SIMDATTN_ERR_UNSUPPORTED && strstr(simdattn_last_error(), v->name) &&
                strstr(simdattn_last_error(), "lacks"),
            "%s must be refused with UNSUPPORTED naming it, got %d '%s'", v->name, (int)st, simdattn_last_error());
      CHECK(case_guards_intact(&cd), "refused %s wrote output", v->name);
    }
    if (masked && v->cpu) CHECK(!sa_variant_available(v), "%s needs SIMD but is available with all masked", v->name);
  }
  printf("%d rows, %d refused on this CPU\n", sa_variant_total(), n_refused);

  /* auto-dispatch: the first available row that accepts the dtypes and may auto-dispatch, for
   * f32 and for bf16 inputs (where an AVX512_BF16 row may come first) */
  for (int pass = 0; pass < 2; pass++) {
    case_spec sb = s;
    sb.qt = sb.kvt = pass ? SIMDATTN_BF16 : SIMDATTN_F32;
    case_data cb;
    CHECK(case_build(&sb, 3, &cb) == 0, "build");
    const char *pick = simdattn_best_variant(&cb.p);
    const sa_variant *first = NULL;
    for (int t = 0; t < sa_variant_total() && !first; t++) {
      const sa_variant *v = sa_variant_at(t);
      if (sa_variant_available(v) && !(v->flags & SA_VARIANT_NO_AUTO) && (v->dtypes & (1u << sb.qt))) first = v;
    }
    CHECK(first && pick && !strcmp(pick, first->name), "%s: best '%s', want the first available row '%s'",
          sa_dtype_name(sb.qt), pick ? pick : "(none)", first ? first->name : "?");
    case_reset_outputs(&cb);
    CHECK(simdattn_forward(&cb.p, NULL) == SIMDATTN_OK, "auto on %s: %s", sa_dtype_name(sb.qt), simdattn_last_error());
    printf("auto-dispatch for %s inputs: %s\n", sa_dtype_name(sb.qt), pick ? pick : "(none)");
    case_free(&cb);
  }
  const char *best = simdattn_best_variant(&cd.p);
  CHECK(best != NULL, "best variant");
  CHECK(best && strcmp(best, "ref") != 0, "the reference must never be auto-dispatched");
  if (masked) CHECK(best && !strcmp(best, "scalar_tiled"), "masked: best is '%s', want scalar_tiled", best);

  /* SIMDATTN_VARIANT: the result is bitwise that of the named variant */
  float *want_ref = malloc(cd.out_len * sizeof(float)), *want_auto = malloc(cd.out_len * sizeof(float));
  CHECK(run("ref") == SIMDATTN_OK, "ref");
  memcpy(want_ref, cd.out_buf, cd.out_len * sizeof(float));
  CHECK(run(NULL) == SIMDATTN_OK, "auto");
  memcpy(want_auto, cd.out_buf, cd.out_len * sizeof(float));
  CHECK(memcmp(want_ref, want_auto, cd.out_len * sizeof(float)) != 0,
        "ref and %s agree to the bit on this case; the environment test below would prove nothing", best);
  setenv("SIMDATTN_VARIANT", "ref", 1);
  CHECK(run(NULL) == SIMDATTN_OK, "env ref");
  const char *env_pick = simdattn_best_variant(&cd.p);
  CHECK(env_pick && !strcmp(env_pick, "ref"), "simdattn_best_variant under SIMDATTN_VARIANT=ref: '%s'",
        env_pick ? env_pick : "(null)");
  CHECK(!memcmp(cd.out_buf, want_ref, cd.out_len * sizeof(float)), "SIMDATTN_VARIANT=ref did not run ref");
  CHECK(run(best) == SIMDATTN_OK && !memcmp(cd.out_buf, want_auto, cd.out_len * sizeof(float)),
        "options.variant must win over SIMDATTN_VARIANT");
  setenv("SIMDATTN_VARIANT", "avx9_f32_flash_q1k1", 1);
  CHECK(run(NULL) == SIMDATTN_ERR_INVALID && strstr(simdattn_last_error(), "SIMDATTN_VARIANT") &&
            strstr(simdattn_last_error(), "avx9_f32_flash_q1k1"),
        "unknown SIMDATTN_VARIANT: '%s'", simdattn_last_error());
  CHECK(case_guards_intact(&cd), "unknown variant wrote output");
  CHECK(simdattn_best_variant(&cd.p) == NULL && strstr(simdattn_last_error(), "avx9_f32_flash_q1k1"),
        "simdattn_best_variant under an unknown SIMDATTN_VARIANT: '%s'", simdattn_last_error());
  setenv("SIMDATTN_VARIANT", "", 1);
  CHECK(run(NULL) == SIMDATTN_OK && !memcmp(cd.out_buf, want_auto, cd.out_len * sizeof(float)),
        "an empty SIMDATTN_VARIANT means auto");
  unsetenv("SIMDATTN_VARIANT");
  free(want_ref);
  free(want_auto);
  case_free(&cd);
  return check_report(masked ? "test_dispatch --masked" : "test_dispatch");
}
