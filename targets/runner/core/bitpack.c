#include "bitpack.h"

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

/* The comparison (x < 0.0f) is false for -0.0f and NaN: both pack as +1, as LCE's
 * portable bit-packing does. The SIMD forms use the same ordered comparison. */
static inline uint32_t pack_word32(const float* x) {
  uint32_t bits = 0;
#if defined(__x86_64__) && defined(__AVX__)
  for (int b = 0; b < 32; b += 8)
    bits |= (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + b), _mm256_setzero_ps(), _CMP_LT_OQ)) << b;
#elif defined(__x86_64__) /* SSE2: part of the x86_64 baseline */
  for (int b = 0; b < 32; b += 4)
    bits |= (uint32_t)_mm_movemask_ps(_mm_cmplt_ps(_mm_loadu_ps(x + b), _mm_setzero_ps())) << b;
#elif defined(__aarch64__)
  const uint32x4_t weights = {1, 2, 4, 8};
  for (int b = 0; b < 32; b += 4)
    bits |= vaddvq_u32(vandq_u32(vcltq_f32(vld1q_f32(x + b), vdupq_n_f32(0.0f)), weights)) << b;
#else
  for (int b = 0; b < 32; ++b) bits |= (uint32_t)(x[b] < 0.0f) << b;
#endif
  return bits;
}

void bgnn_bitpack32(const float* in, int rows, int channels, uint32_t* out) {
  const int words = bgnn_words(channels), full = channels / 32;
  for (int r = 0; r < rows; ++r) {
    const float* x = in + (size_t)r * channels;
    uint32_t* o = out + (size_t)r * words;
    for (int w = 0; w < full; ++w) o[w] = pack_word32(x + w * 32);
    if (full < words) {
      uint32_t bits = 0;
      for (int b = 0; b < channels - full * 32; ++b) bits |= (uint32_t)(x[full * 32 + b] < 0.0f) << b;
      o[full] = bits;
    }
  }
}

void bgnn_bitpack64(const float* in, int rows, int channels, uint64_t* out) {
  const int words = bgnn_words64(channels);
  for (int r = 0; r < rows; ++r) {
    const float* x = in + (size_t)r * channels;
    uint64_t* o = out + (size_t)r * words;
    for (int w = 0; w < words; ++w) {
      const int base = w * 64, n = channels - base < 64 ? channels - base : 64;
      uint64_t bits = 0;
      for (int b = 0; b < n; ++b) bits |= (uint64_t)(x[base + b] < 0.0f) << b;
      o[w] = bits;
    }
  }
}

void bgnn_unpack32(const uint32_t* in, int rows, int channels, float* out) {
  const int words = bgnn_words(channels);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < channels; ++c)
      out[(size_t)r * channels + c] = (in[(size_t)r * words + c / 32] >> (c % 32)) & 1u ? -1.0f : 1.0f;
}
