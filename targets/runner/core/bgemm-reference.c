/* The scalar variant of the binary GEMM (bgemm.h), portable C: the reference every other
 * variant is tested against, and what runs where no vector variant applies.
 *
 * acc[r][o] = sum over 64-bit words w of popcount(x_r[w] XOR f_o[w]). Filters are
 * repacked once into 64-bit words in one of two layouts, both so that one input word meets
 * filter words that sit side by side:
 * - short rows (<= ROWWISE_WORDS words): word-major over all filters ([word64][channel]);
 *   each row streams through every filter, adding into its counts (2-4x faster than the
 *   tiles below for 64-256 channels, where a tile's few words cannot pay for its set-up).
 * - longer rows: blocks of LANES filters ([block][word64][lane]), counts of
 *   BGNN_BGEMM_ROWS rows x LANES filters held in registers across all words.
 */
#include <stdlib.h>

#include "bgemm.h"

#define LANES 8
#define ROWWISE_WORDS 4
enum { LAYOUT_ROWWISE = 1, LAYOUT_BLOCKS = 2 };

int bgnn_bgemm_pack__scalar(bgnn_bgemm_filters* f, const uint32_t* filter, int channels_out, int words32) {
  f->channels_out = channels_out;
  f->words64 = (words32 + 1) / 2;
  f->tiles = (channels_out + LANES - 1) / LANES;
  f->layout = f->words64 <= ROWWISE_WORDS ? LAYOUT_ROWWISE : LAYOUT_BLOCKS;
  f->packed = calloc((size_t)f->tiles * f->words64 * LANES, sizeof(uint64_t));
  if (!f->packed) return 0;
  for (int o = 0; o < channels_out; ++o)
    for (int w = 0; w < f->words64; ++w) {
      const uint64_t v = bgnn_bgemm_word(filter + (size_t)o * words32, w, words32);
      if (f->layout == LAYOUT_ROWWISE)
        f->packed[(size_t)w * channels_out + o] = v;
      else
        f->packed[((size_t)(o / LANES) * f->words64 + w) * LANES + o % LANES] = v;
    }
  return 1;
}

/* ROWS rows x LANES filters, accumulators held in registers. */
static void blocks(const bgnn_bgemm_filters* f, const uint64_t* xs, int32_t* acc) {
  const int W = f->words64;
  for (int b = 0; b < f->tiles; ++b) {
    const uint64_t* fb = f->packed + (size_t)b * W * LANES;
    uint64_t a[BGNN_BGEMM_ROWS][LANES] = {{0}};
    for (int w = 0; w < W; ++w) {
      const uint64_t* fw = fb + (size_t)w * LANES;
      for (int r = 0; r < BGNN_BGEMM_ROWS; ++r) {
        const uint64_t x = xs[r * W + w];
        for (int l = 0; l < LANES; ++l) a[r][l] += (uint64_t)__builtin_popcountll(x ^ fw[l]);
      }
    }
    const int o0 = b * LANES;
    const int n = f->channels_out - o0 < LANES ? f->channels_out - o0 : LANES;
    if (n == LANES) { /* a constant trip count: one narrowing vector store per row */
      for (int r = 0; r < BGNN_BGEMM_ROWS; ++r)
        for (int l = 0; l < LANES; ++l) acc[r * f->channels_out + o0 + l] = (int32_t)a[r][l];
    } else {
      for (int r = 0; r < BGNN_BGEMM_ROWS; ++r)
        for (int l = 0; l < n; ++l) acc[r * f->channels_out + o0 + l] = (int32_t)a[r][l];
    }
  }
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

void bgnn_bgemm_block__scalar(const bgnn_bgemm_filters* f, const uint64_t* xs, int32_t* acc) {
  if (f->layout == LAYOUT_BLOCKS) {
    blocks(f, xs, acc);
    return;
  }
  for (int r = 0; r < BGNN_BGEMM_ROWS; ++r)
    row_all_filters(f, xs + (size_t)r * f->words64, acc + (size_t)r * f->channels_out);
}
