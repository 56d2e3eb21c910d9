/* src/cpu_arm.c: AArch64 feature detection from the SA_FEATURE rows of src/isas.inc, through
 * getauxval (Linux): each row names its AT_HWCAP or AT_HWCAP2 bit. Advanced SIMD is part of the
 * AArch64 baseline; later extensions are separate bits. */
#if defined(__aarch64__)
#include <sys/auxv.h>

#include "internal.h"

unsigned sa_cpu_detect_raw(void);
unsigned sa_cpu_tuning_raw(void);
unsigned sa_cpu_tuning_raw(void) { return 0; } /* no AArch64 core has a tuning yet */

typedef struct {
  unsigned bit, word, shift;
} sa_arm_feature;
#define SA_X86(leaf, subleaf, reg, shift, state) 0, 0
#define SA_HWCAP(word, shift) word, shift
#define SA_DETECT_x86_64(id, ...)
#define SA_DETECT_aarch64(id, ...) {SA_CPU_##id, __VA_ARGS__},
static const sa_arm_feature sa_arm_features[] = {
#define SA_FEATURE(id, name, arch, cpuinfo, detect) SA_DETECT_##arch(id, detect)
#define SA_ISA(name, folder, arch, features, flags, probes)
#include "isas.inc"
#undef SA_FEATURE
#undef SA_ISA
};

unsigned sa_cpu_detect_raw(void) {
  const unsigned long hw[3] = {0, getauxval(AT_HWCAP), getauxval(AT_HWCAP2)};
  unsigned f = 0;
  for (size_t t = 0; t < sizeof sa_arm_features / sizeof sa_arm_features[0]; t++)
    if ((hw[sa_arm_features[t].word] >> sa_arm_features[t].shift) & 1ul) f |= sa_arm_features[t].bit;
  return f;
}
#elif !(defined(__x86_64__) || defined(_M_X64) || defined(__i386__))
unsigned sa_cpu_detect_raw(void);
unsigned sa_cpu_detect_raw(void) { return 0; } /* other architectures: scalar variants only */
unsigned sa_cpu_tuning_raw(void);
unsigned sa_cpu_tuning_raw(void) { return 0; }
#else
typedef int sa_cpu_arm_unused;
#endif
