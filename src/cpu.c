/* src/cpu.c: the cached CPU feature set, feature names (src/isas.inc), the SIMDATTN_DISABLE_ISA
 * mask, and the ISAs this build has. Raw detection lives in cpu_x86.c / cpu_arm.c. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

unsigned sa_cpu_detect_raw(void); /* cpu_x86.c, cpu_arm.c */
unsigned sa_cpu_tuning_raw(void);

static const struct {
  const char *name;
  unsigned bit;
} sa_feature_names[] = {
#define SA_FEATURE(id, name, arch, cpuinfo, detect) {name, SA_CPU_##id},
#define SA_ISA(name, folder, arch, features, flags, probes)
#include "isas.inc"
#undef SA_FEATURE
#undef SA_ISA
};
#define SA_N_FEATURES (sizeof sa_feature_names / sizeof sa_feature_names[0])

unsigned sa_cpu_feature_bit(const char *name) {
  for (size_t t = 0; t < SA_N_FEATURES; t++)
    if (strcmp(name, sa_feature_names[t].name) == 0) return sa_feature_names[t].bit;
  return 0;
}

const char *sa_cpu_feature_names(unsigned f, char *buf, size_t size) {
  size_t at = 0;
  buf[0] = '\0';
  for (size_t t = 0; t < SA_N_FEATURES && at < size; t++)
    if (f & sa_feature_names[t].bit)
      at += (size_t)snprintf(buf + at, size - at, "%s%s", at ? "," : "", sa_feature_names[t].name);
  return buf;
}

/* SIMDATTN_DISABLE_ISA=avx512f,avx2 hides features from dispatch (testing and comparing
 * variants on one machine); unknown names are reported once on stderr and ignored. "all"
 * hides every SIMD feature. */
static unsigned sa_disabled_mask(void) {
  const char *env = getenv("SIMDATTN_DISABLE_ISA");
  if (!env || !*env) return 0;
  unsigned mask = 0;
  char name[32];
  while (*env) {
    size_t n = strcspn(env, ", ");
    if (n > 0 && n < sizeof name) {
      memcpy(name, env, n);
      name[n] = '\0';
      const unsigned bit = strcmp(name, "all") == 0 ? ~0u : sa_cpu_feature_bit(name);
      if (!bit) fprintf(stderr, "simdattn: SIMDATTN_DISABLE_ISA: unknown feature '%s' ignored\n", name);
      mask |= bit;
    }
    env += n;
    env += strspn(env, ", ");
  }
  return mask;
}

static unsigned sa_features_cached;
static pthread_once_t sa_features_once = PTHREAD_ONCE_INIT;
static void sa_features_init(void) { sa_features_cached = sa_cpu_detect_raw() & ~sa_disabled_mask(); }

unsigned sa_cpu_features(void) {
  pthread_once(&sa_features_once, sa_features_init);
  return sa_features_cached;
}

static unsigned sa_tuning_cached;
static pthread_once_t sa_tuning_once = PTHREAD_ONCE_INIT;
static void sa_tuning_init(void) { sa_tuning_cached = sa_cpu_tuning_raw(); }

unsigned sa_cpu_tuning(void) {
  pthread_once(&sa_tuning_once, sa_tuning_init);
  return sa_tuning_cached;
}

/* ---- the ISAs this build has ---- */
static const sa_isa sa_isas[] = {
#define SA_FEATURE(id, name, arch, cpuinfo, detect)
#define SA_ISA(name, folder, arch, features, flags, probes) SA_IF(SA_HAVE_##name, {#name, (features), probes}, )
#include "isas.inc"
#undef SA_FEATURE
#undef SA_ISA
};

int sa_isa_count(void) { return (int)(sizeof sa_isas / sizeof sa_isas[0]); }
const sa_isa *sa_isa_at(int index) { return index >= 0 && index < sa_isa_count() ? &sa_isas[index] : NULL; }
int sa_isa_available(const sa_isa *isa) { return (sa_cpu_features() & isa->cpu) == isa->cpu; }
