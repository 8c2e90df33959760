#if defined(__x86_64__)
#include <immintrin.h>
#include "xor_popcount.h"

/* 512 bits per step with VPOPCNTQ (AVX-512 VPOPCNTDQ); the tail uses a masked load. */
__attribute__((target("avx512f,avx512vpopcntdq"))) int32_t bgnn_xor_popcount__avx512(const uint32_t* a,
                                                                                     const uint32_t* b,
                                                                                     int words) {
  __m512i acc = _mm512_setzero_si512();
  int w = 0;
  for (; w + 16 <= words; w += 16) {
    __m512i x = _mm512_xor_si512(_mm512_loadu_si512(a + w), _mm512_loadu_si512(b + w));
    acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(x));
  }
  if (w < words) {
    __mmask16 m = (__mmask16)((1u << (words - w)) - 1u);
    __m512i x = _mm512_xor_si512(_mm512_maskz_loadu_epi32(m, a + w), _mm512_maskz_loadu_epi32(m, b + w));
    acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(x));
  }
  return (int32_t)_mm512_reduce_add_epi64(acc);
}
#endif
