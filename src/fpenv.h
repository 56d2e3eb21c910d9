/* src/fpenv.h: the floating-point environment the kernels run in, set on every thread that runs
 * library work and given back exactly as found.
 *
 * A caller may run with flush-to-zero / denormals-are-zero (x86 MXCSR FTZ, DAZ; Arm FPCR.FZ,
 * FZ16), another rounding mode, "default NaN", or unmasked exceptions (SIGFPE on overflow). The
 * kernels' correctness (subnormal inputs and outputs within the equivalence rule, inf and NaN
 * semantics, the exp polynomial's round-to-nearest tricks) and their bitwise reproducibility
 * assume IEEE defaults, so library work runs in exactly those: round to nearest even, no
 * flushing, all exceptions masked. On the way out the caller's whole register is restored,
 * status (sticky exception) flags included, so a call leaves no trace in it.
 * Cost: reading the control register per task, and writing it only when its control bits differ
 * (entering) or the work raised a flag the caller had not (leaving). */
#ifndef SA_FPENV_H
#define SA_FPENV_H

#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h> /* _mm_getcsr / _mm_setcsr: SSE, baseline on x86-64 */
#define SA_FPENV_MXCSR 0x1F80u /* all six exceptions masked, round to nearest, FTZ and DAZ off */
typedef struct {
  unsigned mxcsr;
} sa_fpenv;
#define SA_FPENV_FLAGS 0x3Fu /* the six sticky status flags */
/* The control bits are set when they differ; the caller's flags are kept: a flag the caller has
 * raised and the work raises again (inexact, underflow: nearly every caller and every call) then
 * needs no write on the way out either. Clearing them here cost a second MXCSR write per call
 * whenever the caller had raised any flag but inexact (0.08 us of a 0.33 us 6-head seq_kv 1 call on
 * the Xeon, MXCSR writes being serialising). */
static inline void sa_fpenv_enter(sa_fpenv *saved) {
  saved->mxcsr = _mm_getcsr();
  if ((saved->mxcsr & ~SA_FPENV_FLAGS) != SA_FPENV_MXCSR) _mm_setcsr(SA_FPENV_MXCSR | (saved->mxcsr & SA_FPENV_FLAGS));
}
static inline void sa_fpenv_leave(const sa_fpenv *saved) {
  if (_mm_getcsr() != saved->mxcsr) _mm_setcsr(saved->mxcsr);
}
#elif defined(__aarch64__)
/* FPCR 0: round to nearest, FZ / FZ16 / DN / AH off, no trap enabled. FPSR holds the sticky flags. */
typedef struct {
  uint64_t fpcr, fpsr;
} sa_fpenv;
static inline uint64_t sa_get_fpcr(void) {
  uint64_t v;
  __asm__ __volatile__("mrs %0, fpcr" : "=r"(v));
  return v;
}
static inline uint64_t sa_get_fpsr(void) {
  uint64_t v;
  __asm__ __volatile__("mrs %0, fpsr" : "=r"(v));
  return v;
}
static inline void sa_set_fpcr(uint64_t v) { __asm__ __volatile__("msr fpcr, %0" : : "r"(v) : "memory"); }
static inline void sa_set_fpsr(uint64_t v) { __asm__ __volatile__("msr fpsr, %0" : : "r"(v) : "memory"); }
static inline void sa_fpenv_enter(sa_fpenv *saved) {
  saved->fpcr = sa_get_fpcr();
  saved->fpsr = sa_get_fpsr();
  if (saved->fpcr != 0) sa_set_fpcr(0);
}
static inline void sa_fpenv_leave(const sa_fpenv *saved) {
  if (sa_get_fpcr() != saved->fpcr) sa_set_fpcr(saved->fpcr);
  if (sa_get_fpsr() != saved->fpsr) sa_set_fpsr(saved->fpsr);
}
#else
typedef struct {
  int unused;
} sa_fpenv;
static inline void sa_fpenv_enter(sa_fpenv *saved) { (void)saved; }
static inline void sa_fpenv_leave(const sa_fpenv *saved) { (void)saved; }
#endif

#endif
