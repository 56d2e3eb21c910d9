/* scripts/hwcap-features.c: print the AArch64 "Features" line Linux's /proc/cpuinfo shows for the
 * CPU this runs on, from AT_HWCAP / AT_HWCAP2 with the kernel's own names (arch/arm64/kernel/
 * cpuinfo.c, bit order of uapi/asm/hwcap.h). For CI under qemu-user, whose /proc/cpuinfo is the
 * host's: `qemu-aarch64 hwcap-features` shows what the emulated CPU offers, independently of the
 * library's detection (src/cpu_arm.c). Build: aarch64-linux-gnu-gcc -static -O1 -o X this.c */
#include <stdio.h>
#include <sys/auxv.h>

static const char *const hwcap[32] = {"fp",      "asimd", "evtstrm", "aes",   "pmull",    "sha1",   "sha2", "crc32",
                                      "atomics", "fphp",  "asimdhp", "cpuid", "asimdrdm", "jscvt",  "fcma", "lrcpc",
                                      "dcpop",   "sha3",  "sm3",     "sm4",   "asimddp",  "sha512", "sve",  "asimdfhm",
                                      "dit",     "uscat", "ilrcpc",  "flagm", "ssbs",     "sb",     "paca", "pacg"};
static const char *const hwcap2[22] = {"dcpodp",  "sve2",   "sveaes", "svepmull", "svebitperm", "svesha3",
                                       "svesm4",  "flagm2", "frint",  "svei8mm",  "svef32mm",   "svef64mm",
                                       "svebf16", "i8mm",   "bf16",   "dgh",      "rng",        "bti",
                                       "mte",     "ecv",    "afp",    "rpres"};

int main(void) {
  const unsigned long h1 = getauxval(AT_HWCAP), h2 = getauxval(AT_HWCAP2);
  int first = 1;
  for (int b = 0; b < 32; b++)
    if (h1 >> b & 1ul) printf("%s%s", first ? "" : " ", hwcap[b]), first = 0;
  for (int b = 0; b < 22; b++)
    if (h2 >> b & 1ul) printf("%s%s", first ? "" : " ", hwcap2[b]), first = 0;
  printf("\n");
  return 0;
}
