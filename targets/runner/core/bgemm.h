/* Binary GEMM: mismatch counts popcount(x_r XOR f_o) for a block of rows against every
 * filter, the inner loop of a pointwise (1x1) binary convolution and of Hamming k-NN.
 *
 * For +-1 vectors of K channels packed with zero padding bits (types.h), the dot
 * product is K - 2 * popcount(x XOR f): every set bit of the XOR is one mismatch.
 *
 *     bgnn_bgemm_filters f = {0};
 *     bgnn_bgemm_pack(&f, filter, channels_out, words32);     // once per filter tensor
 *     uint64_t xs[BGNN_BGEMM_ROWS * f.words64];
 *     int32_t acc[BGNN_BGEMM_ROWS * channels_out];
 *     for (each block of up to BGNN_BGEMM_ROWS rows) {
 *       bgnn_bgemm_load_rows(&f, x, rows, words32, xs);
 *       bgnn_bgemm_block(&f, xs, acc);                       // acc[r * channels_out + o]
 *     }
 *     bgnn_bgemm_free(&f);
 *
 * Variants (one line each in kernels.inc, chosen once by dispatch.c; BGNN_ISA forces one):
 * - scalar (bgemm-reference.c): portable C, compiled for the build's target (a native
 *   host build lets the compiler vectorise it with the host's instructions).
 * - neon (bgemm-neon.c): EOR + CNT into bytes, ADDP trees, UADDLP/UADALP into 16-bit
 *   counts, ST4/ST2 with zero registers widening to int32 as they store; tiles of 4 rows
 *   x 16 filters for rows of one 64-bit word, 4 x 8 otherwise; inner loops in assembly.
 * - avx2 (bgemm-avx2.c): VPSHUFB nibble-table popcounts on filters and rows split into
 *   nibbles beforehand, byte accumulators, VPSADBW every <= 31 words; 4 rows x 8 filters.
 * - avx512 (bgemm-avx512.c): VPOPCNTQ on 8 filters' words at once; 4 rows x 8 filters.
 *   Untested on hardware (none at hand): only compiled and never dispatched here.
 * Each variant packs filters in its own layout, and the filters remember the variant that
 * packed them: bgnn_bgemm_block always runs the kernel that matches the layout (and so
 * does bgnn_edge_extremes, edge_extremes.h, which reads the same packed filters).
 *
 * Contracts (checked with assert where NDEBUG is not defined): channels_out >= 1,
 * words32 >= 1; rows and filters in the packed layout of types.h (padding bits 0); xs
 * holds BGNN_BGEMM_ROWS rows of f->words64 64-bit words, row r at xs + r * words64, as
 * load_rows writes them; acc holds BGNN_BGEMM_ROWS * channels_out int32. Kernels read and
 * write only inside these buffers and the packed filters. Pure functions of their
 * arguments: any number of threads may call block on the same f at once.
 */
#ifndef BGNN_CORE_BGEMM_H
#define BGNN_CORE_BGEMM_H
#include <string.h>

#include "types.h"

#define BGNN_BGEMM_ROWS 4

struct bgnn_kernels;

typedef struct {
  int channels_out; /* filters */
  int words64;      /* 64-bit words per row: ceil(words32 / 2) */
  int tiles;        /* filter tiles in `packed` (the variant's tile width, zero-padded) */
  int layout;       /* variant-specific layout tag */
  uint64_t* packed; /* the filters in the packing variant's layout */
  const uint32_t* source;             /* the filter tensor it was packed from (filters are constants) */
  const struct bgnn_kernels* kernels; /* the variant that packed it (dispatch.h) */
} bgnn_bgemm_filters;

/* Repack filter rows of `words32` 32-bit words (LCE layout) for the variant dispatch chose;
 * returns 0 on allocation failure. */
int bgnn_bgemm_pack(bgnn_bgemm_filters* f, const uint32_t* filter, int channels_out, int words32);
void bgnn_bgemm_free(bgnn_bgemm_filters* f);

/* xs = BGNN_BGEMM_ROWS rows of words64 64-bit words: `rows` rows of `words32` 32-bit words
 * from x (rows apart by words32), the rest zero. */
void bgnn_bgemm_load_rows(const bgnn_bgemm_filters* f, const uint32_t* x, int rows, int words32, uint64_t* xs);

/* acc[r * channels_out + o] = popcount(xs row r XOR filter o) for all BGNN_BGEMM_ROWS rows. */
void bgnn_bgemm_block(const bgnn_bgemm_filters* f, const uint64_t* xs, int32_t* acc);

/* sizeof and offsetof(packed, source, kernels) of bgnn_bgemm_filters, for mirrors (ctypes). */
void bgnn_bgemm_filters_layout(size_t out[4]);

/* Word w (64-bit) of a row of `words32` 32-bit words; the missing half of an odd tail is 0. */
static inline uint64_t bgnn_bgemm_word(const uint32_t* row, int w, int words32) {
  uint64_t v = 0;
  if (2 * w + 1 < words32)
    memcpy(&v, row + 2 * w, 8);
  else
    memcpy(&v, row + 2 * w, 4);
  return v;
}

/* Every variant's pack and block, declared from the one list of variants. */
#define BGNN_VARIANT(isa, suffix)                                                                          \
  int bgnn_bgemm_pack__##suffix(bgnn_bgemm_filters* f, const uint32_t* filter, int channels_out, int words32); \
  void bgnn_bgemm_block__##suffix(const bgnn_bgemm_filters* f, const uint64_t* xs, int32_t* acc);
#include "kernels.inc"
#undef BGNN_VARIANT

#endif
