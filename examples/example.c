/* examples/example.c: causal attention with GQA through the public API — what an embedding
 * project writes. Builds against an installed simdattn via find_package or pkg-config. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <simdattn.h>

int main(void) {
  enum { B = 1, HQ = 8, HKV = 2, S = 128, D = 64 };
  float *q = malloc(sizeof(float) * B * HQ * S * D), *k = malloc(sizeof(float) * B * HKV * S * D);
  float *v = malloc(sizeof(float) * B * HKV * S * D), *out = malloc(sizeof(float) * B * HQ * S * D);
  for (int t = 0; t < B * HQ * S * D; t++) q[t] = sinf(0.01f * (float)t);
  for (int t = 0; t < B * HKV * S * D; t++) k[t] = cosf(0.013f * (float)t), v[t] = (float)(t % 7) - 3.0f;

  simdattn_problem p = {0}; /* zero = non-causal, scale 1/sqrt(head_dim), no extras */
  p.batch = B, p.heads_q = HQ, p.heads_kv = HKV, p.seq_q = S, p.seq_kv = S, p.head_dim = D;
  p.q = (simdattn_tensor){q, SIMDATTN_F32, HQ * S * D, S * D, D}; /* [B][H][S][D] */
  p.k = (simdattn_tensor){k, SIMDATTN_F32, HKV * S * D, S * D, D};
  p.v = (simdattn_tensor){v, SIMDATTN_F32, HKV * S * D, S * D, D};
  p.out = out, p.out_stride_batch = HQ * S * D, p.out_stride_head = S * D, p.out_stride_seq = D;
  p.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;

  const simdattn_status st = simdattn_forward(&p, NULL);
  if (st != SIMDATTN_OK) {
    fprintf(stderr, "simdattn_forward: %s\n", simdattn_last_error());
    return 1;
  }
  printf("simdattn %s, variant %s: out[0][0][%d][0..3] = %.6f %.6f %.6f %.6f\n", simdattn_version(),
         simdattn_best_variant(&p), S - 1, out[(S - 1) * D], out[(S - 1) * D + 1], out[(S - 1) * D + 2],
         out[(S - 1) * D + 3]);
  /* row 0 sees only key 0, so its output is v[0] exactly */
  const int ok = out[0] == v[0] && out[1] == v[1];
  free(q), free(k), free(v), free(out);
  return ok ? 0 : 1;
}
