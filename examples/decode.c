/* examples/decode.c: a KV-cache decode loop, the way an inference engine calls simdattn.
 *
 * The cache of each layer is interleaved, [position][kv_head][head_dim] (llama.cpp's and
 * llama2.c's layout: one row per position holds every kv head), with room for MAX_POS positions.
 * Each token appends its K and V rows at position `pos`, then attends with one query row per head
 * (seq_q = 1) to positions 0..pos: seq_kv = pos + 1 and BOTTOM_RIGHT causal alignment, so the
 * query sits at the last position (TOP_LEFT would let it see only position 0). One plan serves
 * every layer and every token: made once for seq_kv = MAX_POS, executed with the layer's
 * pointers and the current seq_kv, in one workspace allocated once. Each step is checked against
 * the plain loop an engine would otherwise write.
 *
 *   cc decode.c $(pkg-config --cflags --libs simdattn) -lm -Wl,-rpath,<libdir>   (README, "Using it") */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <simdattn.h>

enum { LAYERS = 4, MAX_POS = 64, HEADS = 8, KV_HEADS = 2, HEAD_DIM = 64 };

/* the plain loop: one head's attention over positions 0..n-1 of a layer's cache */
static void naive_head(const float *q, const float *kc, const float *vc, int kv_head, int n, float *out) {
  float s[MAX_POS], m = -INFINITY, sum = 0.0f;
  for (int t = 0; t < n; t++) {
    const float *k = kc + ((size_t)t * KV_HEADS + (size_t)kv_head) * HEAD_DIM;
    float dot = 0.0f;
    for (int x = 0; x < HEAD_DIM; x++) dot += q[x] * k[x];
    s[t] = dot / sqrtf((float)HEAD_DIM);
    if (s[t] > m) m = s[t];
  }
  for (int t = 0; t < n; t++) sum += (s[t] = expf(s[t] - m));
  for (int x = 0; x < HEAD_DIM; x++) out[x] = 0.0f;
  for (int t = 0; t < n; t++) {
    const float *v = vc + ((size_t)t * KV_HEADS + (size_t)kv_head) * HEAD_DIM;
    for (int x = 0; x < HEAD_DIM; x++) out[x] += s[t] / sum * v[x];
  }
}

int main(void) {
  const size_t cache_floats = (size_t)MAX_POS * KV_HEADS * HEAD_DIM;
  float *k_cache[LAYERS], *v_cache[LAYERS];
  for (int l = 0; l < LAYERS; l++) {
    k_cache[l] = calloc(cache_floats, sizeof(float));
    v_cache[l] = calloc(cache_floats, sizeof(float));
  }
  static float q[HEADS * HEAD_DIM], out[HEADS * HEAD_DIM], want[HEAD_DIM];

  /* the decode shape; strides in elements: the cache is [position][kv_head][head_dim] */
  simdattn_problem p = {
      .struct_size = SIMDATTN_PROBLEM_SIZE,
      .batch = 1,
      .heads_q = HEADS,
      .heads_kv = KV_HEADS, /* GQA: 4 query heads per kv head */
      .seq_q = 1,
      .seq_kv = MAX_POS, /* the plan's capacity; each call sets the current length */
      .head_dim = HEAD_DIM,
      .q = {.data = q, .dtype = SIMDATTN_F32, .stride_head = HEAD_DIM, .stride_seq = HEAD_DIM},
      .k = {.data = k_cache[0], .dtype = SIMDATTN_F32, .stride_head = HEAD_DIM, .stride_seq = KV_HEADS * HEAD_DIM},
      .v = {.data = v_cache[0], .dtype = SIMDATTN_F32, .stride_head = HEAD_DIM, .stride_seq = KV_HEADS * HEAD_DIM},
      .out = out,
      .out_stride_head = HEAD_DIM,
      .out_stride_seq = HEAD_DIM,
      .causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT, /* the query is the last position */
  };
  simdattn_plan *plan;
  if (simdattn_plan_create(&p, NULL, &plan) != SIMDATTN_OK) {
    fprintf(stderr, "plan: %s\n", simdattn_last_error());
    return 1;
  }
  const size_t ws_size = simdattn_plan_workspace_size(plan);
  void *ws = aligned_alloc(SIMDATTN_WORKSPACE_ALIGN, (ws_size + 63) / 64 * 64 + 64);

  double worst = 0.0;
  unsigned seed = 1;
  for (int pos = 0; pos < MAX_POS; pos++)
    for (int l = 0; l < LAYERS; l++) {
      /* this token's q, and its K and V rows appended to the layer's cache */
      for (int x = 0; x < HEADS * HEAD_DIM; x++) q[x] = (float)(seed = seed * 1103515245u + 12345u) / 4294967296.0f - 0.5f;
      float *kr = k_cache[l] + (size_t)pos * KV_HEADS * HEAD_DIM, *vr = v_cache[l] + (size_t)pos * KV_HEADS * HEAD_DIM;
      for (int x = 0; x < KV_HEADS * HEAD_DIM; x++) {
        kr[x] = (float)(seed = seed * 1103515245u + 12345u) / 4294967296.0f - 0.5f;
        vr[x] = (float)(seed = seed * 1103515245u + 12345u) / 4294967296.0f - 0.5f;
      }
      p.k.data = k_cache[l];
      p.v.data = v_cache[l];
      p.seq_kv = pos + 1;
      if (simdattn_plan_execute(plan, &p, ws, ws_size) != SIMDATTN_OK) {
        fprintf(stderr, "execute: %s\n", simdattn_last_error());
        return 1;
      }
      for (int h = 0; h < HEADS; h++) {
        naive_head(q + h * HEAD_DIM, k_cache[l], v_cache[l], h / (HEADS / KV_HEADS), pos + 1, want);
        for (int x = 0; x < HEAD_DIM; x++) {
          const double e = fabs((double)out[h * HEAD_DIM + x] - (double)want[x]);
          if (e > worst) worst = e;
        }
      }
    }
  printf("simdattn %s, variant %s: %d tokens x %d layers decoded through one plan (workspace %zu bytes); "
         "largest difference from the plain loop %.3g\n",
         simdattn_version(), simdattn_plan_variant(plan), MAX_POS, LAYERS, ws_size, worst);
  simdattn_plan_destroy(plan);
  free(ws);
  for (int l = 0; l < LAYERS; l++) free(k_cache[l]), free(v_cache[l]);
  return worst < 1e-5 ? 0 : 1;
}
