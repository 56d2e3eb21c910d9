/* core/exp.h: the inlined vector exp of the SIMD variants, written once over an ISA's
 * primitives (core/flash_driver.inc's sa_v* plus sa_vmin, sa_vround, sa_vldexp).
 *
 * Debian's SLEEF 3.5.1 has vector exp only as out-of-line calls; inside the online-softmax pass
 * a call per 16 scores costs its spills and call overhead (README.md, "What makes the SIMD
 * variants fast"). Method (Cody & Waite range reduction):
 *   n = round(x log2 e),  r = x - n ln2  (two FMA steps: ln2 = C1 + C2, C1 = float(ln2)),
 *   e^r by its Taylor polynomial of degree 7 on |r| <= ln2/2 (truncation <= 0.347^8 / 8! = 5.3e-9
 *   relative, below 0.1 ULP), Horner with FMA; then e^x = e^r 2^n with sa_vldexp (exact scaling,
 *   one rounding when the result is subnormal).
 * x is first clamped to [-104.5, 89] (below, e^x rounds to 0; above, to inf), NaN passing through;
 * the lanes clamped below are +0 (sa_vldexp_live), as the scaling would round them.
 * Accuracy, every float input in [-104, 89] against double exp (tests/test_exp.c, exhaustive):
 * <= 1 ULP, checked there (SLEEF's Sleef_expf*_u10 measured in the same scan as the yardstick).
 * Coefficients are the Taylor series' own (1/k!), not taken from any library. */
#ifndef SA_CORE_EXP_H
#define SA_CORE_EXP_H

#define SA_EXP_MAX_ULP 1.0 /* the bounds tests/test_exp.c enforces */
#define SA_EXP2_MAX_ULP 1.0

#ifdef SA_VL /* an ISA's primitives are in scope */
/* p 2^n, where the lanes with y <= lim (clamped: their result rounds to +0) may be given +0
 * without computing it. An ISA defines SA_HAVE_VLDEXP_LIVE and its own where a result that
 * underflows costs a microcode assist (x86 without FTZ, which the library never sets: on a Xeon
 * the dead keys of one decode call's last tile, -inf scores, took over half its time). */
#ifndef SA_HAVE_VLDEXP_LIVE
static inline sa_vec sa_vldexp_live(sa_vec p, sa_vec n, sa_vec y, float lim) {
  (void)y, (void)lim;
  return sa_vldexp(p, n);
}
#endif
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
  return sa_vldexp_live(p, n, x, -104.5f); /* clamped lanes: e^-104.5 rounds to 0 */
}

/* 2^y for y <= SA_EXP2_LIM (16), -inf or NaN: the driver's exponents in log2-score mode (scores
 * times scale log2(e), minus a shift that may lag their max by up to 8), one reduction step
 * cheaper than e^x; above the limit the result is unspecified (the driver redoes such blocks).
 * n = round(y), f = y - n in [-0.5, 0.5] (exact), 2^f = 1 + f q(f) with q of degree 5: a minimax
 * fit of relative error (Lawson's iteration, numpy; 2.0e-9 in double, 1.6e-8 with the coefficients
 * rounded to float), then p 2^n. -inf gives 0, NaN stays NaN. Exhaustively checked over [-151, 16]
 * against double exp2 in tests/test_exp.c. */
#define SA_EXP2_LIM 16.0f
static inline sa_vec sa_vexp2_lim(sa_vec y) {
  y = sa_vmax(sa_vset1(-151.0f), y); /* -inf -> -151 -> 0; NaN stays NaN */
  const sa_vec n = sa_vround(y), f = sa_vsub(y, n);
  sa_vec p = sa_vset1(0.0001535334886284545f);
  p = sa_vfma(p, f, sa_vset1(0.0013398872688412666f));
  p = sa_vfma(p, f, sa_vset1(0.009618437848985195f));
  p = sa_vfma(p, f, sa_vset1(0.055503323674201965f));
  p = sa_vfma(p, f, sa_vset1(0.24022647738456726f));
  p = sa_vfma(p, f, sa_vset1(0.6931471824645996f));
  p = sa_vfma(p, f, sa_vset1(1.0f));
  return sa_vldexp_live(p, n, y, -151.0f); /* clamped lanes: 2^-151 rounds to 0 */
}
#endif

#endif
