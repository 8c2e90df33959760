#include "bgemm.h"

#include <stdlib.h>
#include <string.h>

/* Word w (64-bit) of a row of `words32` 32-bit words; the missing half of an odd tail is 0. */
static inline uint64_t load64(const uint32_t* row, int w, int words32) {
  uint64_t v = 0;
  memcpy(&v, row + 2 * w, 2 * w + 1 < words32 ? 8 : 4);
  return v;
}

int bgnn_bgemm_pack(bgnn_bgemm_filters* f, const uint32_t* filter, int channels_out, int words32) {
  f->channels_out = channels_out;
  f->words64 = (words32 + 1) / 2;
  f->blocks = (channels_out + BGNN_BGEMM_LANES - 1) / BGNN_BGEMM_LANES;
  f->packed = calloc((size_t)f->blocks * f->words64 * BGNN_BGEMM_LANES, sizeof(uint64_t));
  f->source = filter;
  f->rowwise = f->words64 <= BGNN_BGEMM_ROWWISE_WORDS;
  if (!f->packed) return 0;
  if (f->rowwise) {
    for (int o = 0; o < channels_out; ++o)
      for (int w = 0; w < f->words64; ++w) f->packed[(size_t)w * channels_out + o] = load64(filter + (size_t)o * words32, w, words32);
    return 1;
  }
  for (int o = 0; o < channels_out; ++o) {
    uint64_t* dst = f->packed + (size_t)(o / BGNN_BGEMM_LANES) * f->words64 * BGNN_BGEMM_LANES + o % BGNN_BGEMM_LANES;
    for (int w = 0; w < f->words64; ++w) dst[(size_t)w * BGNN_BGEMM_LANES] = load64(filter + (size_t)o * words32, w, words32);
  }
  return 1;
}

void bgnn_bgemm_free(bgnn_bgemm_filters* f) {
  free(f->packed);
  f->packed = NULL;
}

/* The micro-kernel: ROWS rows x LANES filters, accumulators held in registers. */
static inline void block_full(const bgnn_bgemm_filters* f, const uint64_t* xs, int32_t* acc) {
  const int W = f->words64;
  for (int b = 0; b < f->blocks; ++b) {
    const uint64_t* fb = f->packed + (size_t)b * W * BGNN_BGEMM_LANES;
    uint64_t a[BGNN_BGEMM_ROWS][BGNN_BGEMM_LANES] = {{0}};
    for (int w = 0; w < W; ++w) {
      const uint64_t* fw = fb + (size_t)w * BGNN_BGEMM_LANES;
      for (int r = 0; r < BGNN_BGEMM_ROWS; ++r) {
        const uint64_t x = xs[r * W + w];
        for (int l = 0; l < BGNN_BGEMM_LANES; ++l) a[r][l] += (uint64_t)__builtin_popcountll(x ^ fw[l]);
      }
    }
    const int o0 = b * BGNN_BGEMM_LANES;
    const int n = f->channels_out - o0 < BGNN_BGEMM_LANES ? f->channels_out - o0 : BGNN_BGEMM_LANES;
    if (n == BGNN_BGEMM_LANES) { /* a constant trip count: one narrowing vector store per row */
      for (int r = 0; r < BGNN_BGEMM_ROWS; ++r)
        for (int l = 0; l < BGNN_BGEMM_LANES; ++l) acc[r * f->channels_out + o0 + l] = (int32_t)a[r][l];
    } else {
      for (int r = 0; r < BGNN_BGEMM_ROWS; ++r)
        for (int l = 0; l < n; ++l) acc[r * f->channels_out + o0 + l] = (int32_t)a[r][l];
    }
  }
}

void bgnn_bgemm_load_rows(const bgnn_bgemm_filters* f, const uint32_t* x, int rows, int words32, uint64_t* xs) {
  for (int r = 0; r < BGNN_BGEMM_ROWS; ++r)
    for (int w = 0; w < f->words64; ++w)
      xs[r * f->words64 + w] = r < rows ? load64(x + (size_t)r * words32, w, words32) : 0;
}

/* One row against every filter in the word-major layout. */
static void row_all_filters(const bgnn_bgemm_filters* f, const uint64_t* x, int32_t* restrict acc) {
  const int n = f->channels_out;
  const uint64_t* restrict F = f->packed;
  for (int o = 0; o < n; ++o) acc[o] = (int32_t)__builtin_popcountll(x[0] ^ F[o]);
  for (int w = 1; w < f->words64; ++w) {
    const uint64_t xw = x[w];
    const uint64_t* restrict Fw = F + (size_t)w * n;
    for (int o = 0; o < n; ++o) acc[o] += (int32_t)__builtin_popcountll(xw ^ Fw[o]);
  }
}

void bgnn_bgemm_block(const bgnn_bgemm_filters* f, const uint64_t* xs, int32_t* acc) {
  if (!f->rowwise) {
    block_full(f, xs, acc);
    return;
  }
  for (int r = 0; r < BGNN_BGEMM_ROWS; ++r)
    row_all_filters(f, xs + (size_t)r * f->words64, acc + (size_t)r * f->channels_out);
}
