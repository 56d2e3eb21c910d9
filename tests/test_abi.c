/* tests/test_abi.c: versions and the ABI (include/simdattn.h, "ABI").
 *   - the header's version macros, SIMDATTN_VERSION_NUMBER, simdattn_version() and the version CMake
 *     configured (SIMDATTN_CMAKE_VERSION) are one version (the .pc file's: tests/install_test.sh);
 *   - a caller built against the frozen 0.1 header (tests/abi/old_caller.c) runs on this library
 *     and gets bitwise what a caller of this header gets for the same problem;
 *   - struct_size: SIMDATTN_PROBLEM_SIZE and 0 work alike; a size below the 0.1 layout is
 *     SIMDATTN_ERR_INVALID naming struct_size; a newer header's larger problem is served while its
 *     unknown tail is zero and refused (SIMDATTN_ERR_UNSUPPORTED) when it sets something there.
 * Links the public library as users do. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "simdattn.h"

int old_caller_run(const void *q, const void *k, const void *v, float *out, float *lse, int64_t heads, int64_t seq,
                   int64_t d, int n_threads);
unsigned old_caller_problem_size(void);

#define STR_(x) #x
#define STR(x) STR_(x)

enum { H = 3, S = 70, D = 24 };
static float q[H * S * D], k[H * S * D], v[H * S * D];

static simdattn_problem make(float *out, float *lse) {
  simdattn_problem p;
  memset(&p, 0, sizeof p);
  p.struct_size = SIMDATTN_PROBLEM_SIZE;
  p.batch = 1, p.heads_q = H, p.heads_kv = H, p.seq_q = S, p.seq_kv = S, p.head_dim = D;
  p.q = (simdattn_tensor){q, SIMDATTN_F32, H * S * D, S * D, D};
  p.k = (simdattn_tensor){k, SIMDATTN_F32, H * S * D, S * D, D};
  p.v = (simdattn_tensor){v, SIMDATTN_F32, H * S * D, S * D, D};
  p.out = out, p.out_stride_batch = H * S * D, p.out_stride_head = S * D, p.out_stride_seq = D;
  p.lse = lse;
  p.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  p.softcap = 30.0f;
  return p;
}

int main(void) {
  /* one version everywhere */
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", SIMDATTN_VERSION_MAJOR, SIMDATTN_VERSION_MINOR, SIMDATTN_VERSION_PATCH);
  CHECK(!strcmp(simdattn_version(), want), "simdattn_version() '%s', the header says %s", simdattn_version(), want);
  CHECK(!strcmp(STR(SIMDATTN_CMAKE_VERSION), want), "CMake configured %s, the header says %s", STR(SIMDATTN_CMAKE_VERSION),
        want);
  CHECK(SIMDATTN_VERSION_NUMBER == SIMDATTN_VERSION_MAJOR * 10000 + SIMDATTN_VERSION_MINOR * 100 + SIMDATTN_VERSION_PATCH,
        "SIMDATTN_VERSION_NUMBER");
  printf("version %s (SIMDATTN_VERSION_NUMBER %d)\n", want, SIMDATTN_VERSION_NUMBER);

  for (int t = 0; t < H * S * D; t++) {
    q[t] = sinf(0.37f * (float)t);
    k[t] = cosf(0.11f * (float)t);
    v[t] = sinf(0.05f * (float)t + 1.0f);
  }
  static float out_old[H * S * D], lse_old[H * S], out_new[H * S * D], lse_new[H * S], out_zero[H * S * D],
      lse_zero[H * S];
  /* a 0.1 caller, and this header's caller with struct_size set and with it 0 */
  CHECK(old_caller_run(q, k, v, out_old, lse_old, H, S, D, 1) == SIMDATTN_OK, "the 0.1 caller: %s",
        simdattn_last_error());
  simdattn_problem p = make(out_new, lse_new);
  const simdattn_options one = {1, NULL, NULL, NULL, 0};
  CHECK(simdattn_forward(&p, &one) == SIMDATTN_OK, "struct_size %u: %s", p.struct_size, simdattn_last_error());
  p = make(out_zero, lse_zero);
  p.struct_size = 0;
  CHECK(simdattn_forward(&p, &one) == SIMDATTN_OK, "struct_size 0: %s", simdattn_last_error());
  CHECK(!memcmp(out_old, out_new, sizeof out_new) && !memcmp(lse_old, lse_new, sizeof lse_new),
        "a 0.1 caller gets other bits than a caller of this header");
  CHECK(!memcmp(out_zero, out_new, sizeof out_new), "struct_size 0 and SIMDATTN_PROBLEM_SIZE differ");
  printf("a caller built against the 0.1 header (problem of %u bytes) runs, bitwise equal\n", old_caller_problem_size());

  /* struct_size below the 0.1 layout */
  p = make(out_new, lse_new);
  p.struct_size = 8;
  CHECK(simdattn_forward(&p, &one) == SIMDATTN_ERR_INVALID && strstr(simdattn_last_error(), "struct_size"),
        "struct_size 8: '%s'", simdattn_last_error());
  simdattn_plan *plan = NULL;
  CHECK(simdattn_plan_create(&p, &one, &plan) == SIMDATTN_ERR_INVALID && !plan, "plan with struct_size 8");

  /* a newer header's problem: more members after this header's */
  struct {
    simdattn_problem p;
    float newer[6];
  } big;
  memset(&big, 0, sizeof big);
  big.p = make(out_new, lse_new);
  big.p.struct_size = (uint32_t)sizeof big;
  CHECK(simdattn_forward(&big.p, &one) == SIMDATTN_OK, "a newer caller with a zero tail: %s", simdattn_last_error());
  big.newer[2] = 1.0f;
  CHECK(simdattn_forward(&big.p, &one) == SIMDATTN_ERR_UNSUPPORTED && strstr(simdattn_last_error(), "does not know"),
        "a newer caller setting an unknown member: '%s'", simdattn_last_error());
  return check_report("test_abi");
}
