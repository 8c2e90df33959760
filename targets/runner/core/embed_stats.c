/* The portable variant of BgnnEmbedPool's block kernel (embed_stats.h): the binary GEMM's
 * int32 counts (bgnn_bgemm_block, the variant that packed f), folded into the statistics
 * in C. The x86 variants are this same code (their binary GEMM is what differs); the neon
 * variant falls back to it for the blocks its fused loop does not take. */
#include "embed_stats.h"

#include <assert.h>

void bgnn_embed_stats_reset(uint16_t* stats, int channels_out) {
  const size_t tiles = bgnn_embed_stats_size(channels_out) / (BGNN_EMBED_STATS * BGNN_EMBED_LANES);
  const uint16_t init[BGNN_EMBED_STATS] = {0x8000, 0x7FFF, 0, 0xFFFF, 0, 0}; /* identities */
  for (size_t t = 0; t < tiles; ++t)
    for (int s = 0; s < BGNN_EMBED_STATS; ++s)
      for (int l = 0; l < BGNN_EMBED_LANES; ++l) stats[(t * BGNN_EMBED_STATS + s) * BGNN_EMBED_LANES + l] = init[s];
}

/* Rows 0..rows-1 of counts q (rows apart by `stride`), lanes 0..lanes-1, into one tile's
 * statistics s. Lanes outermost and the six held in locals across the rows, so that with
 * constant rows and lanes the compiler keeps them in vector registers. */
static inline void fold(uint16_t* restrict s, const int32_t* restrict q, size_t stride, int rows, int lanes,
                        uint16_t bias, int odd) {
  const int L = BGNN_EMBED_LANES;
  for (int l = 0; l < lanes; ++l) {
    int16_t smax = (int16_t)s[l], smin = (int16_t)s[L + l];
    uint16_t umax = s[2 * L + l], umin = s[3 * L + l], sum = s[4 * L + l], abs = s[5 * L + l];
    for (int r = 0; r < rows; ++r) {
      const uint16_t k = (uint16_t)(q[(size_t)r * stride + l] + bias);
      const int16_t ks = (int16_t)k;
      smax = ks > smax ? ks : smax;
      smin = ks < smin ? ks : smin;
      umax = k > umax ? k : umax;
      umin = k < umin ? k : umin;
      sum = (uint16_t)(sum + k);
      const uint16_t lo = k < 0x7FFF ? k : 0x7FFF, hi = k > 0x7FFF ? k : 0x7FFF; /* |k - 0x7FFF| = hi - lo */
      abs = (uint16_t)(abs + (hi - lo));
      if (odd) {
        const uint16_t lo1 = k < 0x8000 ? k : 0x8000, hi1 = k > 0x8000 ? k : 0x8000;
        abs = (uint16_t)(abs + (hi1 - lo1));
      }
    }
    s[l] = (uint16_t)smax, s[L + l] = (uint16_t)smin, s[2 * L + l] = umax, s[3 * L + l] = umin;
    s[4 * L + l] = sum, s[5 * L + l] = abs;
  }
}

/* The counts of `rows` (<= BGNN_BGEMM_ROWS) rows in acc into the statistics. */
static void fold_block(int n, int channels_in, const int32_t* acc, int rows, uint16_t* stats) {
  const int odd = channels_in % 2;
  const uint16_t bias = BGNN_EMBED_BIAS(channels_in);
  for (int c0 = 0; c0 < n; c0 += BGNN_EMBED_LANES) {
    uint16_t* s = stats + (size_t)c0 * BGNN_EMBED_STATS;
    const int32_t* q = acc + c0;
    const int lanes = n - c0 < BGNN_EMBED_LANES ? n - c0 : BGNN_EMBED_LANES;
    if (lanes == BGNN_EMBED_LANES && rows == BGNN_BGEMM_ROWS) { /* constant trip counts: vector code */
      if (odd)
        fold(s, q, (size_t)n, BGNN_BGEMM_ROWS, BGNN_EMBED_LANES, bias, 1);
      else
        fold(s, q, (size_t)n, BGNN_BGEMM_ROWS, BGNN_EMBED_LANES, bias, 0);
    } else {
      fold(s, q, (size_t)n, rows, lanes, bias, odd);
    }
  }
}

void bgnn_embed_stats__scalar(const bgnn_bgemm_filters* f, int channels_in, const uint32_t* x, int rows, uint64_t* xs,
                              int32_t* acc, uint16_t* stats) {
  assert(rows >= 1 && rows <= BGNN_EMBED_ROWS && channels_in >= 1 && channels_in <= BGNN_EMBED_MAX_CHANNELS);
  const int words32 = bgnn_words(channels_in);
  for (int r0 = 0; r0 < rows; r0 += BGNN_BGEMM_ROWS) {
    const int sub = rows - r0 < BGNN_BGEMM_ROWS ? rows - r0 : BGNN_BGEMM_ROWS;
    bgnn_bgemm_load_rows(f, x + (size_t)r0 * words32, sub, words32, xs);
    bgnn_bgemm_block(f, xs, acc);
    fold_block(f->channels_out, channels_in, acc, sub, stats);
  }
}

#if defined(__x86_64__)
void bgnn_embed_stats__avx2(const bgnn_bgemm_filters* f, int channels_in, const uint32_t* x, int rows, uint64_t* xs,
                            int32_t* acc, uint16_t* stats) {
  bgnn_embed_stats__scalar(f, channels_in, x, rows, xs, acc, stats);
}

void bgnn_embed_stats__avx512(const bgnn_bgemm_filters* f, int channels_in, const uint32_t* x, int rows,
                              uint64_t* xs, int32_t* acc, uint16_t* stats) {
  bgnn_embed_stats__scalar(f, channels_in, x, rows, xs, acc, stats);
}
#endif
