/* tests/fuzz/fuzz_invalid.c: libFuzzer target — malformed descriptors.
 * A small valid problem (every buffer, outputs included, in one arena) gets one to four
 * mutations chosen and parameterised by the input's bytes, each of which makes it invalid on its
 * own: negative or huge sizes, heads_q not a multiple of heads_kv, head dims out of range, NULL
 * pointers, dtypes out of range, q quantized or misplaced fp8 scales, strides shorter than a row (rows of out overlapping),
 * offsets overflowing int64 or the address space, out or lse aliasing an input or each other,
 * NaN / inf / negative scale or softcap, bad causal and window, a short mask stride, negative
 * n_threads, an unknown variant name. Every call must return SIMDATTN_ERR_INVALID with a message,
 * and leave every byte of the arena as it was (no partial write, no write anywhere). The plan path
 * too: the mutated problem executed on a plan of the valid one is refused the same way (a changed
 * shape, a bad pointer or an alias), and simdattn_plan_create on it either refuses with a message
 * or plans (mutations of data pointers are execute's business), writing nothing either way. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simdattn.h"

typedef struct {
  const uint8_t *p;
  size_t n, at;
} reader;
static uint8_t u8(reader *r) { return r->at < r->n ? r->p[r->at++] : 0; }

enum { B = 1, HQ = 2, HKV = 1, SQ = 3, SKV = 5, D = 4 };
enum { Q_AT = 0, K_AT = 32, V_AT = 64, MASK_AT = 96, ALIBI_AT = 128, SINKS_AT = 136, OUT_AT = 160, LSE_AT = 200,
       ARENA = 224 };

static const char *names[] = {"negative size", "heads_q % heads_kv", "head_dim", "head_dim_v", "NULL pointer",
                              "dtype out of range", "q quantized, or a misplaced scale", "input stride < row", "out rows overlap",
                              "out aliases an input", "lse aliases", "scale", "softcap", "window < 0",
                              "window without causal", "causal out of range", "mask_stride_q", "offset overflow",
                              "n_threads < 0", "unknown variant"};
#define N_MUT ((int)(sizeof names / sizeof names[0]))
static const float nan_scale[2] = {NAN, INFINITY};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  reader r = {data, size, 0};
  static float arena[ARENA];
  for (int t = 0; t < ARENA; t++) arena[t] = (float)((t * 37) % 17) - 8.0f;
  simdattn_problem p;
  memset(&p, 0, sizeof p);
  p.batch = B, p.heads_q = HQ, p.heads_kv = HKV, p.seq_q = SQ, p.seq_kv = SKV, p.head_dim = D;
  p.q = (simdattn_tensor){arena + Q_AT, SIMDATTN_F32, HQ * SQ * D, SQ * D, D};
  p.k = (simdattn_tensor){arena + K_AT, SIMDATTN_F32, HKV * SKV * D, SKV * D, D};
  p.v = (simdattn_tensor){arena + V_AT, SIMDATTN_F32, HKV * SKV * D, SKV * D, D};
  p.out = arena + OUT_AT;
  p.out_stride_batch = HQ * SQ * D, p.out_stride_head = SQ * D, p.out_stride_seq = D;
  const uint8_t feat = u8(&r);
  if (feat & 1) p.lse = arena + LSE_AT;
  if (feat & 2) p.mask = arena + MASK_AT, p.mask_stride_q = SKV;
  if (feat & 4) p.alibi_slopes = arena + ALIBI_AT;
  if (feat & 8) p.sinks = arena + SINKS_AT;
  p.causal = (simdattn_causal)(feat >> 4 & 1 ? SIMDATTN_CAUSAL_BOTTOM_RIGHT : SIMDATTN_CAUSAL_NONE);
  simdattn_options opt = {1, NULL, NULL, NULL, 0};
  char variant_name[24];
  const simdattn_problem valid = p;
  int problem_changed = 0;

  const int n_mut = 1 + u8(&r) % 4;
  char applied[256] = "";
  for (int m = 0; m < n_mut; m++) {
    const int kind = u8(&r) % N_MUT;
    const uint8_t a = u8(&r), b = u8(&r);
    problem_changed |= kind < 18; /* 18 and later mutate the options only */
    simdattn_tensor *in[3] = {&p.q, &p.k, &p.v};
    simdattn_tensor *t = in[a % 3];
    strncat(applied, names[kind], sizeof applied - strlen(applied) - 3);
    strncat(applied, "; ", sizeof applied - strlen(applied) - 1);
    switch (kind) {
    case 0: { /* one of the sizes negative (heads_kv: < 1) */
      const int64_t neg = -1 - (int64_t)b * (a & 0x80 ? 0x10000000000ll : 1);
      switch (a % 5) {
      case 0: p.batch = neg; break;
      case 1: p.heads_q = neg; break;
      case 2: p.heads_kv = neg + 1; break; /* 0 or below */
      case 3: p.seq_q = neg; break;
      default: p.seq_kv = neg; break;
      }
      break;
    }
    case 1: /* heads_kv >= 2 that heads_q is not a multiple of */
      p.heads_kv = 2 + a % 7;
      p.heads_q = p.heads_kv * (1 + b % 4) + 1 + b % (p.heads_kv - 1);
      break;
    case 2: p.head_dim = a & 1 ? -(int64_t)b : 513 + (int64_t)b * 1000; break;
    case 3: p.head_dim_v = a & 1 ? -1 - (int64_t)b : 513 + (int64_t)b; break;
    case 4: /* a required pointer NULL */
      if (a % 4 == 3) p.out = NULL;
      else t->data = NULL;
      break;
    case 5: t->dtype = (simdattn_dtype)(a & 1 ? 7 + b : -1 - (int)b); break;
    case 6: /* q in a K/V-only format, a scale for a format without one, a non-finite or negative-stride scale
             * (the scales are 0.4 members: a caller of this header's struct_size) */
      p.struct_size = SIMDATTN_PROBLEM_SIZE;
      if (a % 4 == 0) p.q.dtype = (simdattn_dtype)(SIMDATTN_Q8_0 + b % 4);
      else if (a % 4 == 1) p.k_scale = &nan_scale[b % 2];
      else if (a % 4 == 2) p.k.dtype = p.v.dtype = SIMDATTN_FP8E4M3, p.v_scale = &nan_scale[b % 2];
      else p.kv_scale_stride = -1 - (int64_t)b;
      break;
    case 7: /* a stride shorter than the row, on a dimension with extent > 1 */
      if (t == &p.q && a & 8) t->stride_head = b % D;
      else t->stride_seq = a & 16 ? -1 - (int64_t)b : b % D;
      break;
    case 8:
      if (a & 1) p.out_stride_seq = b % D;
      else p.out_stride_head = (SQ - 1) * D + b % D; /* the heads' rows interleave */
      break;
    case 9: { /* out pointed into q, k, v, the mask or alibi/sinks */
      static const int at[] = {Q_AT, K_AT, V_AT, MASK_AT, ALIBI_AT, SINKS_AT};
      const int w = a % 6;
      if (w == 3 && !p.mask) p.mask = arena + MASK_AT, p.mask_stride_q = SKV;
      if (w == 4 && !p.alibi_slopes) p.alibi_slopes = arena + ALIBI_AT;
      if (w == 5 && !p.sinks) p.sinks = arena + SINKS_AT;
      p.out = arena + at[w] + b % 2;
      break;
    }
    case 10: /* lse pointed into an input or into out */
      p.lse = arena + (a % 4 == 0 ? Q_AT : a % 4 == 1 ? V_AT : a % 4 == 2 ? OUT_AT : K_AT) + b % 3;
      break;
    case 11: p.scale = a % 3 == 0 ? NAN : a % 3 == 1 ? INFINITY : -(float)(1 + b) / 8.0f; break;
    case 12: p.softcap = a % 3 == 0 ? NAN : a % 3 == 1 ? -INFINITY : -(float)(1 + b); break;
    case 13: p.window = -1 - (int64_t)b; p.causal = SIMDATTN_CAUSAL_TOP_LEFT; break;
    case 14: p.window = 1 + b; p.causal = SIMDATTN_CAUSAL_NONE; break;
    case 15: p.causal = (simdattn_causal)(a & 1 ? 3 + b : -1 - (int)b); break;
    case 16: p.mask = arena + MASK_AT, p.mask_stride_q = 1 + b % (SKV - 1); break;
    case 17: { /* strides whose offsets overflow int64 or the address space */
      const int64_t huge = INT64_MAX / (1 + (b % 3)) - (int64_t)a;
      if (a & 1) t->stride_seq = huge;
      else p.out_stride_seq = huge;
      break;
    }
    case 18: opt.n_threads = -1 - (int)b; break;
    default: /* a name no variant has */
      snprintf(variant_name, sizeof variant_name, "no_such_variant_%u", (unsigned)(a * 256 + b));
      opt.variant = variant_name;
      break;
    }
  }

  static float before[ARENA];
  memcpy(before, arena, sizeof arena);
  const simdattn_status st = simdattn_forward(&p, &opt);
  const char *msg = simdattn_last_error();
  if (st != SIMDATTN_ERR_INVALID || !msg || !*msg) {
    fprintf(stderr, "fuzz_invalid: status %d ('%s') for: %s\n", (int)st, msg ? msg : "(null)", applied);
    abort();
  }
  if (memcmp(before, arena, sizeof arena)) {
    fprintf(stderr, "fuzz_invalid: a refused call wrote memory (%s): %s\n", msg, applied);
    abort();
  }

  /* the plan path */
  simdattn_plan *plan = NULL;
  const simdattn_status pst = simdattn_plan_create(&p, &opt, &plan);
  if (pst != SIMDATTN_OK && (pst != SIMDATTN_ERR_INVALID || !*simdattn_last_error() || plan)) {
    fprintf(stderr, "fuzz_invalid: plan_create status %d ('%s') for: %s\n", (int)pst, simdattn_last_error(), applied);
    abort();
  }
  simdattn_plan_destroy(plan);
  if (problem_changed) {
    const simdattn_options one = {1, NULL, NULL, NULL, 0};
    if (simdattn_plan_create(&valid, &one, &plan) != SIMDATTN_OK) {
      fprintf(stderr, "fuzz_invalid: the valid problem cannot be planned: %s\n", simdattn_last_error());
      abort();
    }
    const size_t n = simdattn_plan_workspace_size(plan);
    void *ws = n ? aligned_alloc(SIMDATTN_WORKSPACE_ALIGN, (n + 63) / 64 * 64) : NULL;
    const simdattn_status est = simdattn_plan_execute(plan, &p, ws, n);
    if (est != SIMDATTN_ERR_INVALID || !*simdattn_last_error()) {
      fprintf(stderr, "fuzz_invalid: plan_execute status %d ('%s') for: %s\n", (int)est, simdattn_last_error(),
              applied);
      abort();
    }
    free(ws);
    simdattn_plan_destroy(plan);
  }
  if (memcmp(before, arena, sizeof arena)) {
    fprintf(stderr, "fuzz_invalid: the plan path wrote memory: %s\n", applied);
    abort();
  }
  return 0;
}
