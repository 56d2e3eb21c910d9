/* neon/peak_stream.c — not a variant: attn-bench's streaming-read probe with 16-byte loads. */
#include <arm_neon.h>
#include <stddef.h>
#include <stdint.h>

uint64_t sa_stream_neon(const void *buf, size_t bytes);
uint64_t sa_stream_neon(const void *buf, size_t bytes) {
  const uint64_t *p = (const uint64_t *)buf;
  uint64x2_t a = vdupq_n_u64(0), b = a, c = a, d = a;
  for (size_t t = 0; t + 8 <= bytes / 8; t += 8) {
    a = veorq_u64(a, vld1q_u64(p + t));
    b = veorq_u64(b, vld1q_u64(p + t + 2));
    c = veorq_u64(c, vld1q_u64(p + t + 4));
    d = veorq_u64(d, vld1q_u64(p + t + 6));
  }
  const uint64x2_t x = veorq_u64(veorq_u64(a, b), veorq_u64(c, d));
  return vgetq_lane_u64(x, 0) ^ vgetq_lane_u64(x, 1);
}
