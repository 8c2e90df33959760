/* The NEON variant of BgnnEmbedPool's block kernel (embed_stats.h): the binary GEMM on
 * the packed filters of bgemm-neon.c (chunk layout, 8 filters per tile) with its EOR +
 * CNT + ADDP chunk step (bgemm-neon.h), 8 rows x 8 filters per tile, whose 16-bit counts
 * go into the statistics in registers instead of being widened and stored.
 *
 * Registers: the 8 rows' chunk in v0-v7, the 8 keys in v8-v15, a chunk of 8 filters in
 * v16-v23, the ADDP tree in v24-v31. Per tile: 8 DUPs start the keys at the bias (so they
 * end as k = q + bias, no add); per 128-bit chunk 2 loads of the rows (copied once per
 * block into chunk-interleaved order, [chunk][row][128 bits], an odd last word's upper
 * half 0), 2 of the filters, 8 x (8 EOR + 8 CNT + 7 ADDP + 1 UADALP) and 2 for the loop:
 * 198 instructions for 8192 MACs; then 2 loads of the tile's 6 stat vectors, 8 each of
 * SMAX, SMIN, UMAX, UMIN and ADD (a tree over the 8 rows, then the stat), 1 MOVI and 8
 * UABA for |k - 0x7FFF| (2 and 16 with |k - 0x8000| when C is odd) and 2 stores: 53
 * (62) for 64 point-channels, where bgemm-neon.c's 4 x 8 tile stores 8 ST2 of int32 that
 * a float epilogue would read back. In all 9 + 198 x chunks + 53 + 2 per tile: 856 at
 * C = 512, 13.4 per point and channel. Stats of the zero-padded filters of a partial last
 * tile land in the padding lanes of `stats`, which no output reads.
 *
 * Blocks of fewer than 8 rows (the last one) and rows of one 64-bit word (C <= 64, the
 * one-word layout) go through the portable variant (embed_stats.c) over the NEON binary
 * GEMM.
 *
 * Counted under qemu (kernel_tests bench-embed: one bgnn_embed_pool_run, i.e. row
 * concatenation, this kernel, the sums' flushes and the final max and mean), binary MACs
 * per aarch64 instruction: 1024 points x inputs 64 + 64 + 128 + 256 x 1024 channels (the
 * paper size) 37.1, 13.8 instructions per point and channel; 333 points, the same widths
 * 35.7; 1024 points x 64 + 64 + 128 x 512 channels 33.1; 256 points x 32 + 32 + 64 + 128
 * x 256 channels (the demo size) 29.6, where the fixed costs per block and per channel
 * weigh more. test_kernels.py pins >= 30 at the paper widths.
 */
#if defined(__aarch64__)
#include <assert.h>

#include "bgemm-neon.h"
#include "embed_stats.h"

_Static_assert(TILE_N == BGNN_EMBED_LANES, "a tile of packed filters is a tile of statistics");

/* Rows v0-v7 (one chunk each, loaded from p) against one chunk of 8 filters at F, added
 * into the 16-bit keys v8-v15. */
#define ROW_8X8(X, ACC) EOR_CNT_TREE(X, "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31") "uadalp " ACC ".8h, v24.16b\n\t"
#define CHUNK_8X8                                                           \
  "ld1 {v0.16b, v1.16b, v2.16b, v3.16b}, [%[p]], #64\n\t"                   \
  "ld1 {v4.16b, v5.16b, v6.16b, v7.16b}, [%[p]], #64\n\t" LOAD_FILTERS       \
  ROW_8X8("v0", "v8") ROW_8X8("v1", "v9") ROW_8X8("v2", "v10") ROW_8X8("v3", "v11") \
  ROW_8X8("v4", "v12") ROW_8X8("v5", "v13") ROW_8X8("v6", "v14") ROW_8X8("v7", "v15")

/* STAT = OP(STAT, OP over the keys v8-v15), a tree through T0-T3: 8 instructions. */
#define REDUCE_8(OP, T0, T1, T2, T3, STAT)                          \
  OP " " T0 ".8h, v8.8h, v9.8h\n\t"                                 \
  OP " " T1 ".8h, v10.8h, v11.8h\n\t"                               \
  OP " " T2 ".8h, v12.8h, v13.8h\n\t"                               \
  OP " " T3 ".8h, v14.8h, v15.8h\n\t"                               \
  OP " " T0 ".8h, " T0 ".8h, " T1 ".8h\n\t"                         \
  OP " " T2 ".8h, " T2 ".8h, " T3 ".8h\n\t"                         \
  OP " " T0 ".8h, " T0 ".8h, " T2 ".8h\n\t"                         \
  OP " " STAT ".8h, " STAT ".8h, " T0 ".8h\n\t"

#define ABS_8(R)                                                                            \
  "uaba v21.8h, v8.8h, " R ".8h\n\tuaba v21.8h, v9.8h, " R ".8h\n\t"                        \
  "uaba v21.8h, v10.8h, " R ".8h\n\tuaba v21.8h, v11.8h, " R ".8h\n\t"                      \
  "uaba v21.8h, v12.8h, " R ".8h\n\tuaba v21.8h, v13.8h, " R ".8h\n\t"                      \
  "uaba v21.8h, v14.8h, " R ".8h\n\tuaba v21.8h, v15.8h, " R ".8h\n\t"

/* The stats of one tile (S, post-incremented) from the keys of 8 rows in v8-v15; ABS
 * adds the |k - r| terms into v21 (v0 = 0x7FFF, v1 = 0x8000, set here). */
#define FOLD_STATS_8(ABS)                                   \
  "ld1 {v16.8h, v17.8h, v18.8h, v19.8h}, [%[S]]\n\t"        \
  "ldp q20, q21, [%[S], #64]\n\t"                           \
  REDUCE_8("smax", "v24", "v25", "v26", "v27", "v16")       \
  REDUCE_8("smin", "v28", "v29", "v30", "v31", "v17")       \
  REDUCE_8("umax", "v2", "v3", "v4", "v5", "v18")           \
  REDUCE_8("umin", "v24", "v25", "v26", "v27", "v19")       \
  REDUCE_8("add", "v28", "v29", "v30", "v31", "v20") ABS    \
  "st1 {v16.8h, v17.8h, v18.8h, v19.8h}, [%[S]], #64\n\t"   \
  "stp q20, q21, [%[S]], #32\n\t"

#define TILES_FUNCTION(name, ABS)                                                                          \
  static void name(const uint64_t* F, long tiles, const uint64_t* xs, const uint64_t* end, uint16_t* S,       \
                   unsigned bias) {                                                                         \
    const uint64_t* p;                                                                                      \
    __asm__ volatile(                                                                                       \
        "1:\n\t"                                                                                            \
        "dup v8.8h, %w[bias]\n\t"                                                                           \
        "dup v9.8h, %w[bias]\n\t"                                                                           \
        "dup v10.8h, %w[bias]\n\t"                                                                          \
        "dup v11.8h, %w[bias]\n\t"                                                                          \
        "dup v12.8h, %w[bias]\n\t"                                                                          \
        "dup v13.8h, %w[bias]\n\t"                                                                          \
        "dup v14.8h, %w[bias]\n\t"                                                                          \
        "dup v15.8h, %w[bias]\n\t"                                                                          \
        "mov %[p], %[xs]\n"                                                                                 \
        "2:\n\t" CHUNK_8X8                                                                                  \
        "cmp %[p], %[end]\n\t"                                                                              \
        "b.ne 2b\n\t" FOLD_STATS_8(ABS)                                                                     \
        "subs %[tiles], %[tiles], #1\n\t"                                                                   \
        "b.ne 1b\n\t"                                                                                       \
        : [F] "+r"(F), [tiles] "+r"(tiles), [S] "+r"(S), [p] "=&r"(p)                                       \
        : [xs] "r"(xs), [end] "r"(end), [bias] "r"(bias)                                                    \
        : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15", \
          "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29",     \
          "v30", "v31", "cc", "memory");                                                                    \
  }

TILES_FUNCTION(tiles_even, "mvni v0.8h, #0x80, lsl #8\n\t" ABS_8("v0"))
TILES_FUNCTION(tiles_odd, "mvni v0.8h, #0x80, lsl #8\n\tmovi v1.8h, #0x80, lsl #8\n\t" ABS_8("v0") ABS_8("v1"))

/* `rows` rows of x into chunk-interleaved order: xs[(chunk * rows + r) * 2 + half]; returns
 * the end of xs. */
static const uint64_t* interleave(const uint32_t* x, int rows, int words32, int W, uint64_t* xs) {
  const int chunks = (W + 1) / 2, whole = words32 / 4; /* chunks of four 32-bit words */
  for (int r = 0; r < rows; ++r) {
    const uint32_t* row = x + (size_t)r * words32;
    for (int c = 0; c < whole; ++c) memcpy(xs + ((size_t)c * rows + r) * 2, row + 4 * c, 16);
    for (int c = whole; c < chunks; ++c) {
      uint64_t* d = xs + ((size_t)c * rows + r) * 2;
      d[0] = bgnn_bgemm_word(row, 2 * c, words32);
      d[1] = 2 * c + 1 < W ? bgnn_bgemm_word(row, 2 * c + 1, words32) : 0;
    }
  }
  return xs + (size_t)chunks * rows * 2;
}

void bgnn_embed_stats__neon(const bgnn_bgemm_filters* f, int channels_in, const uint32_t* x, int rows, uint64_t* xs,
                            int32_t* acc, uint16_t* stats) {
  assert(rows >= 1 && rows <= BGNN_EMBED_ROWS && channels_in >= 1 && channels_in <= BGNN_EMBED_MAX_CHANNELS);
  if (rows == BGNN_EMBED_ROWS && f->layout == LAYOUT_CHUNKS) {
    const int words32 = bgnn_words(channels_in);
    const unsigned bias = BGNN_EMBED_BIAS(channels_in);
    const uint64_t* end = interleave(x, BGNN_EMBED_ROWS, words32, f->words64, xs);
    (channels_in % 2 ? tiles_odd : tiles_even)(f->packed, f->tiles, xs, end, stats, bias);
    return;
  }
  bgnn_embed_stats__scalar(f, channels_in, x, rows, xs, acc, stats);
}
#endif
