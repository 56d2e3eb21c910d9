/* src/cpu_arm.c: AArch64 feature detection through getauxval (Linux). Advanced SIMD is part of
 * the AArch64 baseline; later extensions are separate hwcap bits (fp16 and SVE in AT_HWCAP,
 * BF16 and I8MM in AT_HWCAP2). */
#if defined(__aarch64__)
#include <sys/auxv.h>

#include "internal.h"

#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1 << 10)
#endif
#ifndef HWCAP_SVE
#define HWCAP_SVE (1 << 22)
#endif
#ifndef HWCAP2_BF16
#define HWCAP2_BF16 (1 << 14)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1 << 13)
#endif

unsigned sa_cpu_detect_raw(void);

unsigned sa_cpu_detect_raw(void) {
  const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
  unsigned f = 0;
  if (hw & HWCAP_ASIMD) f |= SA_CPU_NEON;
  if (hw & HWCAP_ASIMDHP) f |= SA_CPU_ARM_FP16;
  if (hw & HWCAP_SVE) f |= SA_CPU_SVE;
  if (hw2 & HWCAP2_BF16) f |= SA_CPU_ARM_BF16;
  if (hw2 & HWCAP2_I8MM) f |= SA_CPU_I8MM;
  return f;
}
#elif !(defined(__x86_64__) || defined(_M_X64) || defined(__i386__))
unsigned sa_cpu_detect_raw(void);
unsigned sa_cpu_detect_raw(void) { return 0; } /* other architectures: scalar variants only */
#else
typedef int sa_cpu_arm_unused;
#endif
