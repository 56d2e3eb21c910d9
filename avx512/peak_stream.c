/* avx512/peak_stream.c — not a variant: attn-bench's streaming-read probe with 64-byte loads.
 * One core pulls much more from DRAM with wide loads than with the baseline's 16-byte ones
 * (measured here: 45-52 vs 29-33 GB/s), and the decode ceiling must be what the CPU can do. */
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

uint64_t sa_stream_avx512(const void *buf, size_t bytes);
uint64_t sa_stream_avx512(const void *buf, size_t bytes) {
  const __m512i *p = (const __m512i *)buf;
  __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
  for (size_t t = 0; t + 4 <= bytes / 64; t += 4) {
    a = _mm512_xor_si512(a, _mm512_load_si512(p + t));
    b = _mm512_xor_si512(b, _mm512_load_si512(p + t + 1));
    c = _mm512_xor_si512(c, _mm512_load_si512(p + t + 2));
    d = _mm512_xor_si512(d, _mm512_load_si512(p + t + 3));
  }
  uint64_t lanes[8], x = 0; /* an xor reduction: the library's add reduction is signed and may overflow */
  _mm512_storeu_si512(lanes, _mm512_xor_si512(_mm512_xor_si512(a, b), _mm512_xor_si512(c, d)));
  for (int k = 0; k < 8; k++) x ^= lanes[k];
  return x;
}
