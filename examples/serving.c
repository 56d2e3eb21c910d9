/* examples/serving.c: one mixed serving step, the way a vLLM- or SGLang-style server calls
 * simdattn: a paged KV cache, and a batch that mixes decode sequences (one new token each) with a
 * chunk of a prompt being prefilled over its cached prefix.
 *
 * The cache is vLLM's CPU layout, [block][kv_head][slot][head_dim], BLOCK_SIZE slots a block,
 * blocks handed out in a scrambled order (as a block allocator does after some traffic). Each step:
 *   1. simdattn_kv_append writes the step's new K/V rows at their slots (block_table[r][pos /
 *      BLOCK_SIZE] * BLOCK_SIZE + pos % BLOCK_SIZE; vLLM's slot_mapping), -1 for padding rows;
 *   2. simdattn_plan_execute runs the whole batch in one call: packed query rows with cu_seqlens_q
 *      (vLLM's query_start_loc), seqlens_kv (seq_lens) and the block table, bottom-right causal, so
 *      each chunk's rows see their prefix and their own earlier rows.
 * One plan, made once for the largest batch, serves every step from one workspace. Each sequence
 * is checked against the plain loop an engine would otherwise write.
 *
 *   cc serving.c $(pkg-config --cflags --libs simdattn) -lm -Wl,-rpath,<libdir>   (README, "Using it") */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <simdattn.h>

enum { SEQS = 4, HEADS = 8, KV_HEADS = 2, HEAD_DIM = 64, BLOCK_SIZE = 16, MAX_BLOCKS = 8, NUM_BLOCKS = 40 };
enum { MAX_TOKENS = 64 }; /* query rows per step */

static unsigned seed = 7;
static float rnd(void) { return (float)(seed = seed * 1103515245u + 12345u) / 4294967296.0f - 0.5f; }

static float k_cache[NUM_BLOCKS][KV_HEADS][BLOCK_SIZE][HEAD_DIM], v_cache[NUM_BLOCKS][KV_HEADS][BLOCK_SIZE][HEAD_DIM];
static int32_t block_table[SEQS][MAX_BLOCKS];

/* the plain loop: query head h of a sequence at position pos attends to positions 0..pos */
static void naive(const float *q, int seq, int h, int pos, float *out) {
  float s[MAX_BLOCKS * BLOCK_SIZE], m = -INFINITY, sum = 0.0f;
  const int kvh = h / (HEADS / KV_HEADS);
  for (int t = 0; t <= pos; t++) {
    const float *k = k_cache[block_table[seq][t / BLOCK_SIZE]][kvh][t % BLOCK_SIZE];
    float dot = 0.0f;
    for (int x = 0; x < HEAD_DIM; x++) dot += q[x] * k[x];
    s[t] = dot / sqrtf((float)HEAD_DIM);
    if (s[t] > m) m = s[t];
  }
  for (int t = 0; t <= pos; t++) sum += (s[t] = expf(s[t] - m));
  for (int x = 0; x < HEAD_DIM; x++) out[x] = 0.0f;
  for (int t = 0; t <= pos; t++)
    for (int x = 0; x < HEAD_DIM; x++)
      out[x] += s[t] / sum * v_cache[block_table[seq][t / BLOCK_SIZE]][kvh][t % BLOCK_SIZE][x];
}

int main(void) {
  /* the block allocator: scrambled blocks, MAX_BLOCKS per sequence */
  for (int r = 0; r < SEQS; r++)
    for (int b = 0; b < MAX_BLOCKS; b++) block_table[r][b] = (r * MAX_BLOCKS + b) * 7 % NUM_BLOCKS;
  static float q[MAX_TOKENS][HEADS][HEAD_DIM], out[MAX_TOKENS][HEADS][HEAD_DIM], k_new[MAX_TOKENS][KV_HEADS][HEAD_DIM],
      v_new[MAX_TOKENS][KV_HEADS][HEAD_DIM], want[HEAD_DIM];
  int32_t cu_seqlens_q[SEQS + 1], seqlens_kv[SEQS], slots[MAX_TOKENS];
  int cached[SEQS] = {0, 0, 0, 0}; /* positions already in the cache */
  /* the steps: sequence 0 prefills 40 tokens in chunks of 24 and 16, the others arrive later */
  static const int new_tokens[3][SEQS] = {{24, 9, 0, 0}, {16, 1, 30, 0}, {1, 1, 1, 5}};

  simdattn_varlen vl = {.cu_seqlens_q = cu_seqlens_q,
                        .seqlens_kv = seqlens_kv,
                        .block_table = &block_table[0][0],
                        .block_table_stride = MAX_BLOCKS,
                        .block_size = BLOCK_SIZE,
                        .num_blocks = NUM_BLOCKS};
  simdattn_problem p = {
      .struct_size = SIMDATTN_PROBLEM_SIZE,
      .batch = SEQS, /* the most sequences a step has */
      .heads_q = HEADS,
      .heads_kv = KV_HEADS,
      .seq_q = MAX_TOKENS,               /* the most query rows a step packs */
      .seq_kv = MAX_BLOCKS * BLOCK_SIZE, /* the most keys a sequence has */
      .head_dim = HEAD_DIM,
      .q = {.data = q, .dtype = SIMDATTN_F32, .stride_head = HEAD_DIM, .stride_seq = HEADS * HEAD_DIM},
      /* the cache: stride_batch between blocks, stride_seq between slots */
      .k = {.data = k_cache,
            .dtype = SIMDATTN_F32,
            .stride_batch = KV_HEADS * BLOCK_SIZE * HEAD_DIM,
            .stride_head = BLOCK_SIZE * HEAD_DIM,
            .stride_seq = HEAD_DIM},
      .v = {.data = v_cache,
            .dtype = SIMDATTN_F32,
            .stride_batch = KV_HEADS * BLOCK_SIZE * HEAD_DIM,
            .stride_head = BLOCK_SIZE * HEAD_DIM,
            .stride_seq = HEAD_DIM},
      .out = &out[0][0][0],
      .out_stride_head = HEAD_DIM,
      .out_stride_seq = HEADS * HEAD_DIM,
      .causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT, /* a chunk's rows are its sequence's last positions */
      .varlen = &vl,
  };
  simdattn_plan *plan;
  if (simdattn_plan_create(&p, NULL, &plan) != SIMDATTN_OK) {
    fprintf(stderr, "plan: %s\n", simdattn_last_error());
    return 1;
  }
  const size_t ws_size = simdattn_plan_workspace_size(plan);
  void *ws = aligned_alloc(SIMDATTN_WORKSPACE_ALIGN, (ws_size + 63) / 64 * 64 + 64);

  simdattn_kv_append_args app = {
      .heads_kv = KV_HEADS,
      .head_dim = HEAD_DIM,
      .k = {.data = k_new, .dtype = SIMDATTN_F32, .stride_head = HEAD_DIM, .stride_seq = KV_HEADS * HEAD_DIM},
      .v = {.data = v_new, .dtype = SIMDATTN_F32, .stride_head = HEAD_DIM, .stride_seq = KV_HEADS * HEAD_DIM},
      .slots = slots,
      .k_cache = {.data = k_cache,
                  .dtype = SIMDATTN_F32,
                  .stride_block = KV_HEADS * BLOCK_SIZE * HEAD_DIM,
                  .stride_head = BLOCK_SIZE * HEAD_DIM,
                  .stride_slot = HEAD_DIM},
      .v_cache = {.data = v_cache,
                  .dtype = SIMDATTN_F32,
                  .stride_block = KV_HEADS * BLOCK_SIZE * HEAD_DIM,
                  .stride_head = BLOCK_SIZE * HEAD_DIM,
                  .stride_slot = HEAD_DIM},
      .block_size = BLOCK_SIZE,
      .num_blocks = NUM_BLOCKS,
      .struct_size = SIMDATTN_KV_APPEND_SIZE,
  };
  double worst = 0.0;
  int rows_total = 0;
  for (int step = 0; step < 3; step++) {
    /* pack the step's rows: sequence by sequence, with their slots in the cache */
    int t = 0;
    for (int r = 0; r < SEQS; r++) {
      cu_seqlens_q[r] = t;
      for (int i = 0; i < new_tokens[step][r]; i++, t++) {
        const int pos = cached[r] + i;
        slots[t] = block_table[r][pos / BLOCK_SIZE] * BLOCK_SIZE + pos % BLOCK_SIZE;
        for (int x = 0; x < HEADS * HEAD_DIM; x++) (&q[t][0][0])[x] = rnd();
        for (int x = 0; x < KV_HEADS * HEAD_DIM; x++) (&k_new[t][0][0])[x] = rnd(), (&v_new[t][0][0])[x] = rnd();
      }
      seqlens_kv[r] = cached[r] + new_tokens[step][r];
    }
    cu_seqlens_q[SEQS] = t;
    slots[t] = -1; /* a padding row: skipped */
    app.n_rows = t + 1;
    if (simdattn_kv_append(&app) != SIMDATTN_OK || simdattn_plan_execute(plan, &p, ws, ws_size) != SIMDATTN_OK) {
      fprintf(stderr, "step %d: %s\n", step, simdattn_last_error());
      return 1;
    }
    for (int r = 0; r < SEQS; r++) {
      for (int i = 0; i < new_tokens[step][r]; i++)
        for (int h = 0; h < HEADS; h++) {
          const int row = cu_seqlens_q[r] + i;
          naive(q[row][h], r, h, cached[r] + i, want);
          for (int x = 0; x < HEAD_DIM; x++) {
            const double e = fabs((double)out[row][h][x] - (double)want[x]);
            if (e > worst) worst = e;
          }
        }
      cached[r] += new_tokens[step][r];
    }
    rows_total += t;
  }
  printf(
      "simdattn %s, variant %s: 3 serving steps over a paged cache (%d query rows, decode and chunked "
      "prefill mixed; workspace %zu bytes); largest difference from the plain loop %.3g\n",
      simdattn_version(), simdattn_plan_variant(plan), rows_total, ws_size, worst);
  simdattn_plan_destroy(plan);
  free(ws);
  return worst < 1e-5 ? 0 : 1;
}
