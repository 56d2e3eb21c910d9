/* ref/ref.h: internal (not installed) — the float64 oracle and the naive fp32 reference's
 * operation orders, for harness/ and tests/. */
#ifndef SA_REF_H
#define SA_REF_H

#include "../core/kernel.h"

/* Operation orders of the naive fp32 reference (sa_job.ref_order). The `ref` variant runs
 * SA_REF_FORWARD; attn-check runs them all and takes the largest error as err(ref)
 * (see EQUIVALENCE in README.md):
 *   FORWARD  dot products x = 0..d-1, separate multiply and add; weighted sums j = 0..n-1
 *   REVERSE  dot products x = d-1..0; weighted sums j = n-1..0
 *   FMA      dot products with fmaf, forward (what broadcast-FMA micro-kernels do); sums forward
 *   LANES16  dot products in 16 fmaf lanes then a tree sum (horizontal SIMD); sums reversed
 *   LANES16_SUM  dot products in 16 fmaf lanes as LANES16, summed by AVX-512's tree instead (each
 *            128-bit quarter (e0 + e2) + (e1 + e3), then (q0 + q1) + (q2 + q3): avx512/avx512.h
 *            sa_vhsum; LANES16's halving tree left AVX-512 at 1.78x its budget where the dot products'
 *            rounding set the error: tests/fuzz, d20, score terms 33, outputs 0.005-0.05, its
 *            error exactly this order's); the weighted sum forward with fmaf and the weights' sum
 *            (the softmax's normaliser) in 16 lanes then a tree, as SIMD kernels sum them: the
 *            two sums in different orders. The other orders sum both alike, so where every v
 *            is one power of two c (the weighted sum is then exactly c times the weights' sum
 *            in the same order, and the division gives c back) they give err(ref) 0, which no
 *            kernel summing the two apart can match (found by tests/fuzz: bf16 -4 in all 26 V
 *            rows, every flash variant 3-3.5 ulp of the output off)
 *   LOG2     scores in log2 units, as the SIMD kernels carry plain jobs' scores (core/flash_driver.inc
 *            sa_score_units, FlashAttention's exp2 form): dot products with fmaf, forward; each
 *            weight 2^(dot c + dot c_lo - shift) (c + c_lo: scale log2 e in two floats, one fmaf each)
 *            by exp2f; the weighted sum forward with fmaf, the weights' sum in 16 lanes then a tree
 *            (as LANES16_SUM, as the SIMD kernels sum them: tests/fuzz, CI's seed 1: d1, 50 of 63
 *            keys at the max score, where 2^(dot c_lo) puts those weights an ulp or more above 1, and
 *            the forward weighted sum rounds that excess away at every step while the kernels' lanes
 *            keep it in the normaliser: AVX-512 and AVX2 7x the other orders' error, 1.35x their
 *            budget, exactly this order's error once its weights' sum is in lanes). Its weights round apart from the
 *            other orders' e^(s - shift) (where every order's dot product is exact, d = 1, those
 *            all share one set of weights), so where the weighted sums cancel (tests/fuzz: max |v|
 *            22x max |out|, d1) err(ref) is not one set's luck: AVX-512 and AVX2 were 1.09x their
 *            budget there. Jobs in natural units (softcap, alibi, mask, sinks) run it as FMA.
 *   SETS2    dot products and weighted sums as FORWARD (separate multiply and add), but the weighted
 *            sum in two sets, as the direct P.V tile of a single row sums it (core/flash_direct.inc
 *            sa_pv_direct_micro: tiles of SA_REF_SETS2_TILE keys from key 0; within a tile even
 *            keys onto the running sum, odd keys into a second sum from zero, added at the tile's
 *            end). Where the weighted sums cancel, each order's error is one sample of the
 *            additions' rounding; these orders' samples need not reach a kernel's (tests/fuzz, CI:
 *            d1, 24 keys, an output 60x below sum w |v|, scalar_tiled, whose single-row decode sums
 *            this way unfused, at 1.18x a budget the six orders above set; the SIMD variants 0.21x).
 *            The forward's only: the backward runs the orders before it (SA_REF_N_BWD_ORDERS).
 */
enum {
  SA_REF_FORWARD = 0,
  SA_REF_REVERSE,
  SA_REF_FMA,
  SA_REF_LANES16,
  SA_REF_LANES16_SUM,
  SA_REF_LOG2,
  SA_REF_SETS2,
  SA_REF_N_ORDERS
};
#define SA_REF_N_BWD_ORDERS SA_REF_SETS2
#define SA_REF_SETS2_TILE 32 /* core/flash_direct.inc SA_DIRECT_KT */

/* The float64 oracle: the judge of every check. Computes the rows listed in `rows` (flat
 * indices (b * heads_q + h) * seq_q + i; NULL = every row, in that order) into out[n][dv] and
 * lse[n] (either may be NULL). Same semantics as simdattn_forward, every operation in double
 * on the exactly converted inputs.
 *
 * When bound_out/bound_lse are given it also returns, per element, a worst-case bound on the
 * error of the naive fp32 reference in any of its operation orders (derived in oracle.c), or
 * NAN where the oracle's value is not finite or is an exact zero row (then only an exact match
 * is right). Returns 0, or -1 when out of memory. */
int sa_oracle_rows(const sa_job *j, const int64_t *rows, int64_t n_rows, double *out, double *lse,
                   double *bound_out, double *bound_lse);

/* The naive fp32 reference in operation order `order` on chosen rows only (flat indices as
 * above), into out[n][dv] and lse[n]: what the benchmark uses to spot-check long sequences.
 * Returns 0, or -1 when out of memory. */
int sa_ref_rows(const sa_job *j, const int64_t *rows, int64_t n_rows, int order, float *out, float *lse);

/* ---- the backward pass ----
 * The naive fp32 backward of J's problem in operation order `order` (the orders above, applied to
 * every dot product and sum: dot products q.k, dout.v and D = dout.out; the sums of dq over keys
 * and of dk, dv over a kv head's rows, forward or reversed; FMA orders fuse each product into its
 * sum; LOG2 runs as FMA), from the forward's out and lse in J->f, into J's dq, dk, dv, d_sinks.
 * Per row: P = exp(s - lse), dP = dout.v, dS = P (dP - D) (1 - t^2) scale, dq += dS k, dk += dS q,
 * dv += P dout. The rows of a kv head run query head by query head, rows in order (reversed in
 * REVERSE and LANES16), keys likewise. The `ref` variant's backward is order J->ref_order. */
void sa_ref_bwd_head(const sa_bwd_job *J, int64_t b, int64_t hk, int order, float *dq, int64_t dq_ld, float *ws);
size_t sa_ref_bwd_ws_bytes(const sa_bwd_job *J);
/* The same walk on chosen elements only, for long sequences: dq rows of rows[n_rows] (flat
 * (b heads_q + h) seq_q + i) into dq[n_rows][d], and dk, dv rows of keys[n_keys] (flat
 * (b heads_kv + hk) seq_kv + key, each once) into dk[n_keys][d], dv[n_keys][dv], bit for bit what
 * sa_ref_bwd_head gives them, in O((n_rows + n_keys) seq) work. Uses J's dk and dv rows of the chosen
 * keys as scratch. Returns 0, or -1 when out of memory. */
int sa_ref_bwd_spots(const sa_bwd_job *J, int order, const int64_t *rows, int64_t n_rows, const int64_t *keys,
                     int64_t n_keys, float *dq, float *dk, float *dv);
/* The float64 oracle backward: every gradient in double from the exactly converted inputs and dout,
 * with its own (double) out and lse: dq [batch][heads_q][seq_q][d], dk [batch][heads_kv][seq_kv][d],
 * dv [batch][heads_kv][seq_kv][dv], d_sinks [heads_q] (NULL without sinks). Returns 0, or -1 when out
 * of memory. */
int sa_oracle_bwd(const sa_bwd_job *J, double *dq, double *dk, double *dv, double *d_sinks);
/* The backward on chosen elements (flat rows and keys as sa_ref_bwd_spots), in double from the
 * backward's own inputs: the forward's given f32 out and lse (D = dout.out, P = exp(s - lse)), not
 * an oracle forward, so that it costs O((n_rows + n_keys) seq d) and a long sequence can be judged
 * (attn-bench). Judges the backward's arithmetic given its inputs; the forward that made out and lse
 * is judged on its own. Returns 0, or -1 when out of memory. */
int sa_oracle_bwd_spots(const sa_bwd_job *J, const int64_t *rows, int64_t n_rows, const int64_t *keys, int64_t n_keys,
                        double *dq, double *dk, double *dv);

#endif
