/* core/exp.h: the inlined vector exp of the SIMD variants, written once over an ISA's
 * primitives (core/flash_driver.inc's sa_v* plus sa_vmin, sa_vround, sa_vldexp).
 *
 * Debian's SLEEF 3.5.1 has vector exp only as out-of-line calls; inside the online-softmax pass
 * a call per 16 scores costs its spills and call overhead (measured here: +4-5 points of peak at
 * d128 and d64 from inlining). Method (Cody & Waite range reduction):
 *   n = round(x log2 e),  r = x - n ln2  (two FMA steps: ln2 = C1 + C2, C1 = float(ln2)),
 *   e^r by its Taylor polynomial of degree 7 on |r| <= ln2/2 (truncation <= 0.347^8 / 8! = 5.3e-9
 *   relative, below 0.1 ULP), Horner with FMA; then e^x = e^r 2^n with sa_vldexp (exact scaling,
 *   one rounding when the result is subnormal).
 * x is first clamped to [-104.5, 89] (below, e^x rounds to 0; above, to inf), NaN passing through.
 * Accuracy, every float input in [-104, 89] against double exp (tests/test_exp.c, exhaustive):
 * <= 1 ULP (0.939 measured on AVX-512), checked there (SLEEF's Sleef_expf*_u10 measured in the same scan as the yardstick).
 * Coefficients are the Taylor series' own (1/k!), not taken from any library. */
#ifndef SA_CORE_EXP_H
#define SA_CORE_EXP_H

#define SA_EXP_MAX_ULP 1.0 /* the bound tests/test_exp.c enforces (measured: 0.939) */

#ifdef SA_VL /* an ISA's primitives are in scope */
static inline sa_vec sa_vexp_inline(sa_vec x) {
  x = sa_vmin(sa_vset1(89.0f), sa_vmax(sa_vset1(-104.5f), x)); /* NaN in x stays NaN */
  const sa_vec n = sa_vround(sa_vmul(x, sa_vset1(1.44269504088896341f)));
  sa_vec r = sa_vfma(n, sa_vset1(-0.693147182464599609375f), x); /* C1 = float(ln 2) */
  r = sa_vfma(n, sa_vset1(1.904654323148236e-09f), r);           /* -(ln2 - C1) */
  sa_vec p = sa_vset1(1.0f / 5040.0f);
  p = sa_vfma(p, r, sa_vset1(1.0f / 720.0f));
  p = sa_vfma(p, r, sa_vset1(1.0f / 120.0f));
  p = sa_vfma(p, r, sa_vset1(1.0f / 24.0f));
  p = sa_vfma(p, r, sa_vset1(1.0f / 6.0f));
  p = sa_vfma(p, r, sa_vset1(0.5f));
  p = sa_vfma(p, r, sa_vset1(1.0f));
  p = sa_vfma(p, r, sa_vset1(1.0f));
  return sa_vldexp(p, n);
}
#endif

#endif
