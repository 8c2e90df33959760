#if defined(__aarch64__)
#include <arm_neon.h>
#include "xor_popcount.h"

/* 128 bits per step: VCNT counts bits per byte, pairwise adds widen into 16-bit lanes. */
int32_t bgnn_xor_popcount__neon(const uint32_t* a, const uint32_t* b, int words) {
  uint16x8_t acc = vdupq_n_u16(0);
  int w = 0;
  for (; w + 4 <= words; w += 4) {
    uint8x16_t x = vreinterpretq_u8_u32(veorq_u32(vld1q_u32(a + w), vld1q_u32(b + w)));
    acc = vpadalq_u8(acc, vcntq_u8(x));
  }
  int32_t total = (int32_t)vaddlvq_u16(acc);
  for (; w < words; ++w) total += __builtin_popcount(a[w] ^ b[w]);
  return total;
}
#endif
