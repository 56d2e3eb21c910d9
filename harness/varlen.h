/* harness/varlen.h: ragged and paged problems (problem.varlen) for attn-check, the tests and
 * attn-bench. A varlen case is a list of sequences (q_len, kv_len) sharing heads, dims, dtypes and
 * features; each sequence's data is a dense case of its own (harness/cases.h, seeded by its name),
 * which is also what the oracle and simdattn_forward judge it on. The ragged problem packs those
 * sequences' q rows after a gap row and before two spare rows, and their K/V either as contiguous
 * packed rows (FlashAttention's varlen layout, optionally with NaN rows between sequences) or into
 * a paged cache (vLLM's [blocks][heads][slots][d] or FlashAttention's [blocks][slots][heads][d])
 * through a shuffled block table, whose unused blocks, unused slots and unused table entries hold
 * NaN or garbage: a kernel that reads them fails. */
#ifndef SA_HARNESS_VARLEN_H
#define SA_HARNESS_VARLEN_H

#include <stdint.h>

#include "cases.h"

#define VL_MAX_SEQS 32

typedef enum { VL_RAGGED, VL_PAGED_VLLM, VL_PAGED_FA } varlen_kind;

typedef struct {
  const char *tag; /* the sequence mix and what is special: "mixed", "decode", ... */
  varlen_kind kind;
  int64_t block_size; /* paged */
  int gaps;           /* ragged: NaN rows between sequences (seqlens_kv given) */
  int shared_prefix;  /* paged: sequence 1 shares sequence 0's first whole blocks (duplicate table entries) */
  int n;
  int64_t q_len[VL_MAX_SEQS], kv_len[VL_MAX_SEQS];
  case_spec base; /* heads, dims, causal, window, softcap, alibi, sinks, lse, dtypes (batch, seq_q, seq_kv unused) */
} varlen_spec;

typedef struct {
  varlen_spec spec;
  char name[200];
  simdattn_problem p;
  simdattn_varlen vl;
  case_data seq[VL_MAX_SEQS]; /* each sequence as a dense case of batch 1 (BSHD) */
  int32_t cu_q[VL_MAX_SEQS + 1], cu_kv[VL_MAX_SEQS + 1], kv_len[VL_MAX_SEQS];
  int32_t *table;
  void *q, *k, *v;
  float *out_buf, *lse_buf;
  size_t out_len, lse_len, out_at, lse_at;
  int64_t rows; /* packed query rows (seq_q) */
} varlen_data;

/* The grid (the same in quick and full); *out is malloc'ed; returns the count. */
int varlen_grid(varlen_spec **out);
void varlen_name(const varlen_spec *s, char *buf, size_t size);
int varlen_build(const varlen_spec *s, uint64_t seed, varlen_data *vd);
/* After a varlen_data was copied (moved) to another address: its problem points at its own arrays again */
void varlen_moved(varlen_data *vd);
void varlen_reset_outputs(varlen_data *vd);
/* 1 when nothing but the sequences' out rows and lse entries was written */
int varlen_guards_intact(const varlen_data *vd);
/* Sequence r's out rows and lse entries, in the dense order of its case ([heads][q_len][dv], [heads][q_len]) */
void varlen_gather(const varlen_data *vd, int r, float *out, float *lse);
/* 1 when sequence r's out and lse in the ragged buffers are bitwise its dense case's (after a forward of it) */
int varlen_same_bits(const varlen_data *vd, int r);
void varlen_free(varlen_data *vd);

#endif
