/* src/cpu_x86.c: x86 feature detection from the SA_FEATURE rows of src/isas.inc — cpuid for what
 * the CPU has, xgetbv for what the OS saves on context switch (a CPU with AVX-512 under an OS that
 * does not save ZMM state must not run AVX-512 code). Compiled without ISA flags: runs on any
 * x86-64. */
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <cpuid.h>
#include <stdint.h>

#include "internal.h"

unsigned sa_cpu_detect_raw(void);
unsigned sa_cpu_tuning_raw(void);

static uint64_t sa_xgetbv0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

enum { EAX, EBX, ECX, EDX };
#define SA_XCR0_YMM 0x6ull  /* SSE and AVX state */
#define SA_XCR0_ZMM 0xe6ull /* plus opmask, ZMM_Hi256, Hi16_ZMM */
typedef struct {
  unsigned bit, leaf, subleaf, reg, shift;
  uint64_t xcr0;
} sa_x86_feature;
#define SA_X86(leaf, subleaf, reg, shift, state) leaf, subleaf, reg, shift, SA_XCR0_##state
#define SA_HWCAP(word, shift) 0, 0, 0, 0, 0
#define SA_DETECT_x86_64(id, ...) {SA_CPU_##id, __VA_ARGS__},
#define SA_DETECT_aarch64(id, ...)
static const sa_x86_feature sa_x86_features[] = {
#define SA_FEATURE(id, name, arch, cpuinfo, detect) SA_DETECT_##arch(id, detect)
#define SA_ISA(name, folder, arch, features, flags, probes)
#include "isas.inc"
#undef SA_FEATURE
#undef SA_ISA
};

unsigned sa_cpu_detect_raw(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
  if (!osxsave || !avx) return 0; /* no usable vector state beyond SSE: no feature of the table */
  const uint64_t xcr0 = sa_xgetbv0();
  const unsigned max_leaf = __get_cpuid_max(0, NULL);
  unsigned max_sub7 = 0;
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    max_sub7 = a;
  }
  unsigned f = 0;
  for (size_t t = 0; t < sizeof sa_x86_features / sizeof sa_x86_features[0]; t++) {
    const sa_x86_feature *x = &sa_x86_features[t];
    if (x->leaf > max_leaf || (x->leaf == 7 && x->subleaf > max_sub7)) continue;
    if ((xcr0 & x->xcr0) != x->xcr0) continue;
    unsigned r[4];
    __cpuid_count(x->leaf, x->subleaf, r[EAX], r[EBX], r[ECX], r[EDX]);
    if ((r[x->reg] >> x->shift) & 1u) f |= x->bit;
  }
  return f;
}

/* Tunings (src/internal.h SA_TUNE_*) for microarchitectures whose measured behaviour differs from
 * the defaults. No cpuid feature describes, say, what the hardware prefetchers follow, so they are
 * recognised by vendor, family and model; an unknown CPU gets the defaults. */
unsigned sa_cpu_tuning_raw(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
  const int amd = b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u;   /* "AuthenticAMD" */
  const int intel = b == 0x756e6547u && d == 0x49656e69u && c == 0x6c65746eu; /* "GenuineIntel" */
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  unsigned family = (a >> 8) & 0xfu, model = (a >> 4) & 0xfu;
  if (family == 0xfu) family += (a >> 20) & 0xffu;
  if (family >= 0x6u) model |= ((a >> 16) & 0xfu) << 4;
  unsigned t = 0;
  /* Zen 3: family 19h, models 00-0Fh, 20-2Fh, 40-5Fh (Zen 4 is 10-1Fh, 60-7Fh, A0-AFh) */
  if (amd && family == 0x19u && (model <= 0x0fu || (model >= 0x20u && model <= 0x2fu) || (model >= 0x40u && model <= 0x5fu)))
    t |= SA_TUNE_HEADS_PREFETCH;
  /* Zen 5: family 1Ah */
  if (amd && family == 0x1au) t |= SA_TUNE_GROUP_V_AHEAD;
  /* Emerald Rapids (Xeon, family 6 model CFh): the only Intel core measured so (core/flash_direct.inc) */
  if (intel && family == 0x6u && model == 0xcfu) t |= SA_TUNE_K_NEAR;
  return t;
}
#else
typedef int sa_cpu_x86_unused; /* an empty translation unit is not ISO C */
#endif
