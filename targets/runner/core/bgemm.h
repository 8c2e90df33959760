/* Binary GEMM: mismatch counts popcount(x_r XOR f_o) for a block of rows against every
 * filter, the inner loop of a pointwise (1x1) binary convolution and of Hamming k-NN.
 *
 * Filters are repacked once into 64-bit words in one of two layouts, both so that one
 * input word meets filter words that sit side by side, which compilers turn into vector
 * XOR + popcount + add (VPOPCNTQ on AVX-512, CNT + pairwise adds on NEON):
 * - short rows (<= BGNN_BGEMM_ROWWISE_WORDS words): word-major over all filters
 *   ([word64][channel]); each row streams through every filter, adding into its counts.
 *   Measured here 2-4x faster than the tiles below for 64-256 channels, where a tile's
 *   few words cannot pay for its set-up and stores.
 * - longer rows: blocks of BGNN_BGEMM_LANES filters ([block][word64][lane]), counts of
 *   BGNN_BGEMM_ROWS rows x LANES filters held in registers across all words.
 * Plain C: each build picks its best instructions; no runtime types.
 */
#ifndef BGNN_CORE_BGEMM_H
#define BGNN_CORE_BGEMM_H
#include "types.h"

#define BGNN_BGEMM_LANES 8
#define BGNN_BGEMM_ROWS 4
#define BGNN_BGEMM_ROWWISE_WORDS 4

typedef struct {
  int channels_out, words64, blocks;
  uint64_t* packed;       /* rowwise: [words64][channels_out]; else [blocks][words64][LANES], 0-padded */
  const uint32_t* source; /* the filter tensor it was packed from (filters are constants) */
  int rowwise;            /* 1: [word64][channel] layout, 0: blocks of LANES */
} bgnn_bgemm_filters;

/* Repack filter rows of `words32` 32-bit words (LCE layout); returns 0 on allocation failure. */
int bgnn_bgemm_pack(bgnn_bgemm_filters* f, const uint32_t* filter, int channels_out, int words32);
void bgnn_bgemm_free(bgnn_bgemm_filters* f);

/* xs = BGNN_BGEMM_ROWS rows of words64 64-bit words: `rows` rows of `words32` 32-bit words
 * from x (rows apart by words32), the rest zero. */
void bgnn_bgemm_load_rows(const bgnn_bgemm_filters* f, const uint32_t* x, int rows, int words32, uint64_t* xs);

/* acc[r * channels_out + o] = popcount(xs row r XOR filter o) for all BGNN_BGEMM_ROWS rows. */
void bgnn_bgemm_block(const bgnn_bgemm_filters* f, const uint64_t* xs, int32_t* acc);

#endif
