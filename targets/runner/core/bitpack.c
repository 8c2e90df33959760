#include "bitpack.h"

/* The comparison (x < 0.0f) is false for -0.0f and NaN: both pack as +1, as LCE's
 * portable bit-packing does. */
void bgnn_bitpack32(const float* in, int rows, int channels, uint32_t* out) {
  const int words = bgnn_words(channels);
  for (int r = 0; r < rows; ++r) {
    const float* x = in + (size_t)r * channels;
    uint32_t* o = out + (size_t)r * words;
    for (int w = 0; w < words; ++w) {
      const int base = w * 32, n = channels - base < 32 ? channels - base : 32;
      uint32_t bits = 0;
      for (int b = 0; b < n; ++b) bits |= (uint32_t)(x[base + b] < 0.0f) << b;
      o[w] = bits;
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
