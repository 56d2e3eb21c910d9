/* tests/test_api.c: the public API's contract on bad input — every invalid field gets
 * SIMDATTN_ERR_INVALID, a message naming the field and the value, and not one byte of out or
 * lse written — plus the defaults of a zero-initialised problem. Links the public library. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "simdattn.h"

enum { B = 2, HQ = 4, HKV = 2, SQ = 5, SKV = 7, D = 8 };
static float q[B * HQ * SQ * D], k[B * HKV * SKV * D], v[B * HKV * SKV * D];
static float out[B * HQ * SQ * D + 64], lse[B * HQ * SQ + 64], mask[SQ * SKV];
static const float one_scale = 1.0f, nan_scale = NAN; /* fp8 scales: a valid one, and one that is not */
#define SENTINEL 12345.0f

static simdattn_problem good(void) {
  simdattn_problem p;
  memset(&p, 0, sizeof p);
  p.batch = B;
  p.heads_q = HQ;
  p.heads_kv = HKV;
  p.seq_q = SQ;
  p.seq_kv = SKV;
  p.head_dim = D;
  p.q = (simdattn_tensor){q, SIMDATTN_F32, HQ * SQ * D, SQ * D, D};
  p.k = (simdattn_tensor){k, SIMDATTN_F32, HKV * SKV * D, SKV * D, D};
  p.v = (simdattn_tensor){v, SIMDATTN_F32, HKV * SKV * D, SKV * D, D};
  p.out = out;
  p.out_stride_batch = HQ * SQ * D;
  p.out_stride_head = SQ * D;
  p.out_stride_seq = D;
  p.lse = lse;
  return p;
}

static void reset(void) {
  for (size_t t = 0; t < sizeof out / sizeof *out; t++) out[t] = SENTINEL;
  for (size_t t = 0; t < sizeof lse / sizeof *lse; t++) lse[t] = SENTINEL;
}
static int untouched(void) {
  for (size_t t = 0; t < sizeof out / sizeof *out; t++)
    if (out[t] != SENTINEL) return 0;
  for (size_t t = 0; t < sizeof lse / sizeof *lse; t++)
    if (lse[t] != SENTINEL) return 0;
  return 1;
}

/* Runs p and expects `want` with a message containing both `field` and `value`. */
static void expect(const simdattn_problem *p, const simdattn_options *o, simdattn_status want, const char *field,
                   const char *value, const char *what) {
  reset();
  const simdattn_status st = simdattn_forward(p, o);
  const char *msg = simdattn_last_error() ? simdattn_last_error() : "(null)";
  CHECK(st == want, "%s: status %d, want %d (%s)", what, (int)st, (int)want, msg);
  CHECK(strstr(msg, field) != NULL, "%s: message '%s' does not name '%s'", what, msg, field);
  if (value) CHECK(strstr(msg, value) != NULL, "%s: message '%s' does not give the value '%s'", what, msg, value);
  CHECK(untouched(), "%s: out or lse was written on failure", what);
}

int main(void) {
  for (size_t t = 0; t < sizeof q / sizeof *q; t++) q[t] = sinf((float)t);
  for (size_t t = 0; t < sizeof k / sizeof *k; t++) k[t] = cosf((float)t * 0.7f);
  for (size_t t = 0; t < sizeof v / sizeof *v; t++) v[t] = (float)(t % 13) - 6.0f;
  simdattn_problem p;

#define BAD(mutation, field, value)                                  \
  do {                                                               \
    p = good();                                                      \
    mutation;                                                        \
    expect(&p, NULL, SIMDATTN_ERR_INVALID, field, value, #mutation); \
  } while (0)

  /* sizes */
  BAD(p.batch = -1, "batch", "-1");
  BAD(p.heads_q = -2, "heads_q", "-2");
  BAD(p.heads_kv = 0, "heads_kv", "0");
  BAD(p.seq_q = -3, "seq_q", "-3");
  BAD(p.seq_kv = -4, "seq_kv", "-4");
  BAD(p.heads_kv = 3, "heads_kv", "3");
  BAD(p.head_dim = 0, "head_dim", "0");
  BAD(p.head_dim = 513, "head_dim", "513");
  BAD(p.head_dim_v = -1, "head_dim_v", "-1");
  BAD(p.head_dim_v = 600, "head_dim_v", "600");
  /* dtypes */
  BAD(p.q.dtype = (simdattn_dtype)7, "q.dtype", "7");
  BAD(p.q.dtype = SIMDATTN_Q8_0, "q.dtype", "q8_0");  /* quantized formats: K and V only */
  BAD(p.k.dtype = SIMDATTN_Q4_0, "head_dim", "q4_0"); /* D = 8: not whole blocks of 32 */
  /* fp8 scales (0.4 members: a caller of this header's struct_size) */
  BAD((p.struct_size = SIMDATTN_PROBLEM_SIZE, p.k_scale = &one_scale), "k_scale", "f32"); /* a format without one */
  BAD((p.struct_size = SIMDATTN_PROBLEM_SIZE, p.k.dtype = SIMDATTN_FP8E4M3, p.k_scale = &nan_scale), "k_scale[0]",
      "nan");
  BAD((p.struct_size = SIMDATTN_PROBLEM_SIZE, p.kv_scale_stride = -2), "kv_scale_stride", "-2");
  BAD(p.v.dtype = (simdattn_dtype)-1, "v.dtype", "-1");
  /* pointers */
  BAD(p.q.data = NULL, "q", "NULL");
  BAD(p.k.data = NULL, "k", "NULL");
  BAD(p.v.data = NULL, "v", "NULL");
  BAD(p.out = NULL, "out", "NULL");
  /* strides smaller than the row they hold */
  BAD(p.q.stride_seq = D - 1, "q.stride_seq", "7");
  BAD(p.k.stride_head = 3, "k.stride_head", "3");
  BAD(p.v.stride_batch = -8, "v.stride_batch", "-8");
  BAD(p.out_stride_seq = 2, "out_stride_seq", "2");
  BAD((p.head_dim_v = 16, p.v.stride_seq = 8), "v.stride_seq", "8");
  /* out rows overlapping each other */
  BAD(p.out_stride_head = D, "out rows overlap", NULL);
  /* scale, softcap, window, causal */
  BAD(p.scale = -1.0f, "scale", "-1");
  BAD(p.scale = NAN, "scale", "nan");
  BAD(p.scale = INFINITY, "scale", "inf");
  BAD(p.softcap = -2.0f, "softcap", "-2");
  BAD(p.softcap = INFINITY, "softcap", "inf");
  BAD(p.window = -5, "window", "-5");
  BAD(p.window = 4, "window", "4");
  BAD(p.causal = (simdattn_causal)9, "causal", "9");
  /* mask */
  BAD((p.mask = mask, p.mask_stride_q = 3), "mask_stride_q", "3");
  BAD((p.mask = mask, p.mask_stride_q = SKV, p.mask_stride_head = -1), "mask_stride_head", "-1");
  /* outputs aliasing inputs or each other */
  BAD(p.out = q, "out overlaps q", NULL);
  BAD(p.out = v + 8, "out overlaps", NULL);
  BAD(p.lse = k, "lse overlaps k", NULL);
  BAD(p.lse = out + 5, "overlaps", NULL);
  BAD((p.mask = mask, p.mask_stride_q = SKV, p.lse = mask), "lse overlaps mask", NULL);
  BAD(p.sinks = lse, "lse overlaps sinks", NULL);
  /* element offsets overflowing int64 */
  BAD((p.q.stride_batch = INT64_MAX / 2), "q", "overflow");
  BAD((p.seq_q = INT64_MAX / 4, p.heads_q = 8), "overflow", NULL);
  BAD((p.out_stride_batch = INT64_MAX / 3, p.lse = NULL), "out", "overflow");

  reset();
  CHECK(simdattn_forward(NULL, NULL) == SIMDATTN_ERR_INVALID && strstr(simdattn_last_error(), "problem"),
        "NULL problem: '%s'", simdattn_last_error());
  /* options */
  p = good();
  simdattn_options o = {-1, NULL, NULL, NULL, 0};
  expect(&p, &o, SIMDATTN_ERR_INVALID, "n_threads", "-1", "n_threads -1");
  o = (simdattn_options){0, "no_such_variant", NULL, NULL, 0};
  expect(&p, &o, SIMDATTN_ERR_INVALID, "options.variant", "no_such_variant", "unknown variant");

  /* success clears the message and writes only what it should */
  p = good();
  reset();
  CHECK(simdattn_forward(&p, NULL) == SIMDATTN_OK, "good problem: %s", simdattn_last_error());
  CHECK(simdattn_last_error()[0] == '\0', "message after success: '%s'", simdattn_last_error());
  CHECK(out[B * HQ * SQ * D] == SENTINEL && lse[B * HQ * SQ] == SENTINEL, "wrote past the end");

  /* zero-initialised options/fields mean defaults: scale 0 == 1/sqrt(head_dim), bitwise */
  static float out2[sizeof out / sizeof *out], lse2[sizeof lse / sizeof *lse];
  memcpy(out2, out, sizeof out);
  memcpy(lse2, lse, sizeof lse);
  p.scale = 1.0f / sqrtf((float)D);
  const simdattn_options defaults = {0, NULL, NULL, NULL, 0};
  CHECK(simdattn_forward(&p, &defaults) == SIMDATTN_OK, "explicit scale: %s", simdattn_last_error());
  CHECK(memcmp(out, out2, sizeof out) == 0 && memcmp(lse, lse2, sizeof lse) == 0,
        "scale 0 must equal 1/sqrt(head_dim) exactly, and NULL options the zero options");

  /* empty problems are valid: nothing to compute, NULL pointers allowed where nothing is held */
  p = good();
  p.seq_q = 0;
  p.q.data = NULL;
  p.out = NULL;
  p.lse = NULL;
  CHECK(simdattn_forward(&p, NULL) == SIMDATTN_OK, "seq_q 0: %s", simdattn_last_error());
  p = good();
  p.seq_kv = 0;
  p.k.data = p.v.data = NULL;
  reset();
  CHECK(simdattn_forward(&p, NULL) == SIMDATTN_OK, "seq_kv 0: %s", simdattn_last_error());
  CHECK(out[0] == 0.0f && out[B * HQ * SQ * D - 1] == 0.0f && isinf(lse[0]) && lse[0] < 0,
        "0 keys: out 0 and lse -inf");

  /* introspection */
  const int n = simdattn_variant_count();
  CHECK(n >= 2, "variant count %d", n);
  simdattn_variant_info info;
  int have_ref = 0, have_tiled = 0;
  for (int t = 0; t < n; t++) {
    CHECK(simdattn_variant_get(t, &info) == SIMDATTN_OK, "variant_get(%d)", t);
    have_ref |= !strcmp(info.name, "ref");
    have_tiled |= !strcmp(info.name, "scalar_tiled") && info.available && info.dtypes == 127u;
  }
  CHECK(have_ref && have_tiled, "ref and scalar_tiled must be registered and available");
  CHECK(simdattn_variant_get(n, &info) == SIMDATTN_ERR_INVALID && strstr(simdattn_last_error(), "index"),
        "variant_get out of range");
  CHECK(simdattn_variant_get(0, NULL) == SIMDATTN_ERR_INVALID, "variant_get NULL");
  p = good();
  CHECK(simdattn_best_variant(&p) != NULL, "best variant");
  p.batch = -1;
  CHECK(simdattn_best_variant(&p) == NULL, "best variant of an invalid problem");
  CHECK(strlen(simdattn_version()) >= 5, "version '%s'", simdattn_version());
  return check_report("test_api");
}
