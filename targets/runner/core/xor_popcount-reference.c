#include "xor_popcount.h"

int32_t bgnn_xor_popcount__scalar(const uint32_t* a, const uint32_t* b, int words) {
  int32_t acc = 0;
  int w = 0;
  for (; w + 2 <= words; w += 2) {
    uint64_t x = ((uint64_t)a[w] | (uint64_t)a[w + 1] << 32) ^ ((uint64_t)b[w] | (uint64_t)b[w + 1] << 32);
    acc += __builtin_popcountll(x);
  }
  for (; w < words; ++w) acc += __builtin_popcount(a[w] ^ b[w]);
  return acc;
}
