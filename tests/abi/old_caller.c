/* tests/abi/old_caller.c: a caller compiled against the 0.1 header (tests/abi/simdattn_0_1.h),
 * zero-initialising its structs as that header's users were told to: its problem has no
 * struct_size member, only padding there. */
#include <string.h>

#include "simdattn_0_1.h"

int old_caller_run(const void *q, const void *k, const void *v, float *out, float *lse, int64_t heads, int64_t seq,
                   int64_t d, int n_threads);
int old_caller_run(const void *q, const void *k, const void *v, float *out, float *lse, int64_t heads, int64_t seq,
                   int64_t d, int n_threads) {
  simdattn_problem p;
  memset(&p, 0, sizeof p);
  p.batch = 1, p.heads_q = heads, p.heads_kv = heads, p.seq_q = seq, p.seq_kv = seq, p.head_dim = d;
  p.q = (simdattn_tensor){q, SIMDATTN_F32, heads * seq * d, seq * d, d};
  p.k = (simdattn_tensor){k, SIMDATTN_F32, heads * seq * d, seq * d, d};
  p.v = (simdattn_tensor){v, SIMDATTN_F32, heads * seq * d, seq * d, d};
  p.out = out, p.out_stride_batch = heads * seq * d, p.out_stride_head = seq * d, p.out_stride_seq = d;
  p.lse = lse;
  p.causal = SIMDATTN_CAUSAL_BOTTOM_RIGHT;
  p.softcap = 30.0f;
  simdattn_options o = {n_threads, NULL, NULL, NULL};
  return (int)simdattn_forward(&p, &o);
}

/* the size of the 0.1 problem, for the test's report */
unsigned old_caller_problem_size(void);
unsigned old_caller_problem_size(void) { return (unsigned)sizeof(simdattn_problem); }
