#if defined(__x86_64__)
#include <immintrin.h>
#include "xor_popcount.h"

/* 256 bits per step, popcount by nibble lookup (VPSHUFB) and VPSADBW into 64-bit lanes. */
__attribute__((target("avx2,popcnt"))) int32_t bgnn_xor_popcount__avx2(const uint32_t* a, const uint32_t* b,
                                                                 int words) {
  const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2,
                                         2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  __m256i acc = _mm256_setzero_si256();
  int w = 0;
  for (; w + 8 <= words; w += 8) {
    __m256i x = _mm256_xor_si256(_mm256_loadu_si256((const __m256i*)(a + w)),
                                 _mm256_loadu_si256((const __m256i*)(b + w)));
    __m256i cnt = _mm256_add_epi8(_mm256_shuffle_epi8(table, _mm256_and_si256(x, low)),
                                  _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(x, 4), low)));
    acc = _mm256_add_epi64(acc, _mm256_sad_epu8(cnt, _mm256_setzero_si256()));
  }
  int64_t lanes[4];
  _mm256_storeu_si256((__m256i*)lanes, acc);
  int32_t total = (int32_t)(lanes[0] + lanes[1] + lanes[2] + lanes[3]);
  for (; w < words; ++w) total += __builtin_popcount(a[w] ^ b[w]);
  return total;
}
#endif
