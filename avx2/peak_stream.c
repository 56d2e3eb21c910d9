/* avx2/peak_stream.c — not a variant: attn-bench's streaming-read probe with 32-byte loads. */
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

uint64_t sa_stream_avx2(const void *buf, size_t bytes);
uint64_t sa_stream_avx2(const void *buf, size_t bytes) {
  const __m256i *p = (const __m256i *)buf;
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  for (size_t t = 0; t + 4 <= bytes / 32; t += 4) {
    a = _mm256_xor_si256(a, _mm256_load_si256(p + t));
    b = _mm256_xor_si256(b, _mm256_load_si256(p + t + 1));
    c = _mm256_xor_si256(c, _mm256_load_si256(p + t + 2));
    d = _mm256_xor_si256(d, _mm256_load_si256(p + t + 3));
  }
  const __m256i x = _mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d));
  return (uint64_t)_mm256_extract_epi64(x, 0) ^ (uint64_t)_mm256_extract_epi64(x, 3);
}
