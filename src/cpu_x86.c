/* src/cpu_x86.c: x86 feature detection — cpuid for what the CPU has, xgetbv for what the OS
 * saves on context switch (a CPU with AVX-512 under an OS that does not save ZMM state must
 * not run AVX-512 code). Compiled without ISA flags: runs on any x86-64. */
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <cpuid.h>
#include <stdint.h>

#include "internal.h"

unsigned sa_cpu_detect_raw(void);

static uint64_t sa_xgetbv0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

unsigned sa_cpu_detect_raw(void) {
  unsigned a, b, c, d, f = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
  if (!osxsave || !avx) return 0;
  const uint64_t xcr0 = sa_xgetbv0();
  const int ymm_ok = (xcr0 & 0x6) == 0x6;    /* SSE and AVX state */
  const int zmm_ok = (xcr0 & 0xe6) == 0xe6;  /* plus opmask, ZMM_Hi256, Hi16_ZMM */
  if (!ymm_ok) return 0;
  if (fma) f |= SA_CPU_FMA;
  if (f16c) f |= SA_CPU_F16C;
  unsigned max_leaf = __get_cpuid_max(0, NULL);
  if (max_leaf < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  if ((b >> 5) & 1) f |= SA_CPU_AVX2;
  if (zmm_ok) {
    if ((b >> 16) & 1) f |= SA_CPU_AVX512F;
    if ((b >> 17) & 1) f |= SA_CPU_AVX512DQ;
    if ((b >> 30) & 1) f |= SA_CPU_AVX512BW;
    if ((b >> 31) & 1) f |= SA_CPU_AVX512VL;
    const unsigned subleaves = a;
    if (subleaves >= 1) {
      __cpuid_count(7, 1, a, b, c, d);
      if ((a >> 5) & 1) f |= SA_CPU_AVX512BF16;
    }
  }
  return f;
}
#else
typedef int sa_cpu_x86_unused; /* an empty translation unit is not ISO C */
#endif
