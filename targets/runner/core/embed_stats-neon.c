/* The NEON variant of BgnnEmbedPool's block kernel (embed_stats.h): the binary GEMM's
 * 4 rows x 8 filters tile of bgemm-neon.c (same packed filters, same EOR + CNT + ADDP
 * chunk step, bgemm-neon.h), whose 16-bit counts go into the statistics in registers
 * instead of being widened and stored.
 *
 * Per tile: 4 MOVs start the four 16-bit accumulators at the bias (so they end as the
 * keys k, no add), every chunk adds its counts with UADALP, then 2 loads of the tile's 6
 * stat vectors, 4 each of SMAX, SMIN, UMAX, UMIN (rows 0-1 and 2-3, the two results, the
 * stat), 4 ADD for the sum, 4 UABA for |k - 0x7FFF| (8 with |k - 0x8000| when C is odd)
 * and 2 stores: 28 instructions (32) for 32 point-channels, where bgemm-neon.c stores 4
 * ST2 of int32 that a float epilogue would read back. The rows are copied once per block
 * into chunk-interleaved order ([chunk][row][128 bits], an odd last word's upper half 0),
 * so one LD1 loads a chunk of all four rows: per chunk 3 loads + 96 + 2 loop = 101
 * instructions for 4096 MACs; with the tile's set-up and loop, 5 + 101 x chunks + 28 + 2.
 * Stats of the zero-padded filters of a partial last tile land in the padding lanes of
 * `stats`, which no output reads.
 *
 * Blocks of fewer than 4 rows and rows of one 64-bit word (C <= 64, the one-word layout)
 * go through the portable variant (embed_stats.c) over the NEON binary GEMM.
 *
 * Counted under qemu (kernel_tests bench-embed: one bgnn_embed_pool_run, i.e. row
 * concatenation, this kernel, the sums' flushes and the final max and mean), binary MACs
 * per aarch64 instruction: 1024 points x inputs 64 + 64 + 128 + 256 x 1024 channels (the
 * paper size) 36.2, i.e. 14.2 instructions per point and channel (the tiles alone: 439
 * per tile of 4 x 8, 13.7); 333 points, the same widths 34.9; 1024 points x 64 + 64 + 128
 * x 512 channels 32.1; 256 points x 32 + 32 + 64 + 128 x 256 channels (the demo size)
 * 28.8, where the fixed costs per block and per channel weigh more. test_kernels.py pins
 * >= 30 at the paper widths.
 */
#if defined(__aarch64__)
#include <assert.h>

#include "bgemm-neon.h"
#include "embed_stats.h"

/* The stats of one tile (S, post-incremented) from the keys in v4, v6, v8, v10; ABS adds
 * the |k - r| terms into v21 (v13 = 0x7FFF, v14 = 0x8000). */
#define FOLD_STATS(ABS)                                     \
  "ld1 {v16.8h, v17.8h, v18.8h, v19.8h}, [%[S]]\n\t"        \
  "ldp q20, q21, [%[S], #64]\n\t"                           \
  "smax v24.8h, v4.8h, v6.8h\n\t"                           \
  "smax v25.8h, v8.8h, v10.8h\n\t"                          \
  "smin v26.8h, v4.8h, v6.8h\n\t"                           \
  "smin v27.8h, v8.8h, v10.8h\n\t"                          \
  "umax v28.8h, v4.8h, v6.8h\n\t"                           \
  "umax v29.8h, v8.8h, v10.8h\n\t"                          \
  "umin v30.8h, v4.8h, v6.8h\n\t"                           \
  "umin v31.8h, v8.8h, v10.8h\n\t"                          \
  "smax v24.8h, v24.8h, v25.8h\n\t"                         \
  "smin v26.8h, v26.8h, v27.8h\n\t"                         \
  "umax v28.8h, v28.8h, v29.8h\n\t"                         \
  "umin v30.8h, v30.8h, v31.8h\n\t"                         \
  "smax v16.8h, v16.8h, v24.8h\n\t"                         \
  "smin v17.8h, v17.8h, v26.8h\n\t"                         \
  "umax v18.8h, v18.8h, v28.8h\n\t"                         \
  "umin v19.8h, v19.8h, v30.8h\n\t"                         \
  "add v24.8h, v4.8h, v6.8h\n\t"                            \
  "add v25.8h, v8.8h, v10.8h\n\t"                           \
  "add v20.8h, v20.8h, v24.8h\n\t"                          \
  "add v20.8h, v20.8h, v25.8h\n\t" ABS                      \
  "st1 {v16.8h, v17.8h, v18.8h, v19.8h}, [%[S]], #64\n\t"   \
  "stp q20, q21, [%[S]], #32\n\t"

#define ABS_TO(R)                   \
  "uaba v21.8h, v4.8h, " R ".8h\n\t"  \
  "uaba v21.8h, v6.8h, " R ".8h\n\t"  \
  "uaba v21.8h, v8.8h, " R ".8h\n\t"  \
  "uaba v21.8h, v10.8h, " R ".8h\n\t"

/* `tiles` (>= 1) tiles of packed filters at F over the chunk-interleaved rows xs..end
 * (>= 1 chunk), into the stats at S. */
#define TILES_FUNCTION(name, ABS)                                                                          \
  static void name(const uint64_t* F, long tiles, const uint64_t* xs, const uint64_t* end, uint16_t* S,      \
                   unsigned bias) {                                                                        \
    const uint64_t* p;                                                                                     \
    __asm__ volatile(                                                                                      \
        "dup v12.8h, %w[bias]\n\t"                                                                         \
        "mvni v13.8h, #0x80, lsl #8\n\t"                                                                   \
        "movi v14.8h, #0x80, lsl #8\n"                                                                     \
        "1:\n\t"                                                                                           \
        "mov v4.16b, v12.16b\n\t"                                                                          \
        "mov v6.16b, v12.16b\n\t"                                                                          \
        "mov v8.16b, v12.16b\n\t"                                                                          \
        "mov v10.16b, v12.16b\n\t"                                                                         \
        "mov %[p], %[xs]\n"                                                                                \
        "2:\n\t"                                                                                           \
        "ld1 {v0.16b, v1.16b, v2.16b, v3.16b}, [%[p]], #64\n\t" CHUNK_4X8("uadalp")                         \
        "cmp %[p], %[end]\n\t"                                                                             \
        "b.ne 2b\n\t" FOLD_STATS(ABS)                                                                      \
        "subs %[tiles], %[tiles], #1\n\t"                                                                  \
        "b.ne 1b\n\t"                                                                                      \
        : [F] "+r"(F), [tiles] "+r"(tiles), [S] "+r"(S), [p] "=&r"(p)                                      \
        : [xs] "r"(xs), [end] "r"(end), [bias] "r"(bias)                                                   \
        : "v0", "v1", "v2", "v3", "v4", "v6", "v8", "v10", "v12", "v13", "v14", "v16", "v17", "v18", "v19", \
          "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31", "cc", "memory"); \
  }

TILES_FUNCTION(tiles_even, ABS_TO("v13"))
TILES_FUNCTION(tiles_odd, ABS_TO("v13") ABS_TO("v14"))

void bgnn_embed_stats__neon(const bgnn_bgemm_filters* f, int channels_in, const uint32_t* x, int rows, uint64_t* xs,
                            int32_t* acc, uint16_t* stats) {
  assert(rows >= 1 && rows <= BGNN_BGEMM_ROWS && channels_in >= 1 && channels_in <= BGNN_EMBED_MAX_CHANNELS);
  if (rows < BGNN_BGEMM_ROWS || f->layout != LAYOUT_CHUNKS) {
    bgnn_embed_stats__scalar(f, channels_in, x, rows, xs, acc, stats);
    return;
  }
  const int words32 = bgnn_words(channels_in), W = f->words64, chunks = (W + 1) / 2;
  for (int r = 0; r < BGNN_BGEMM_ROWS; ++r) {
    const uint32_t* row = x + (size_t)r * words32;
    const int whole = words32 / 4; /* chunks of four 32-bit words of this row */
    for (int c = 0; c < whole; ++c) memcpy(xs + ((size_t)c * BGNN_BGEMM_ROWS + r) * 2, row + 4 * c, 16);
    for (int c = whole; c < chunks; ++c) {
      uint64_t* d = xs + ((size_t)c * BGNN_BGEMM_ROWS + r) * 2;
      d[0] = bgnn_bgemm_word(row, 2 * c, words32);
      d[1] = 2 * c + 1 < W ? bgnn_bgemm_word(row, 2 * c + 1, words32) : 0;
    }
  }
  const uint64_t* end = xs + (size_t)chunks * BGNN_BGEMM_ROWS * 2;
  if (channels_in % 2)
    tiles_odd(f->packed, f->tiles, xs, end, stats, BGNN_EMBED_BIAS(channels_in));
  else
    tiles_even(f->packed, f->tiles, xs, end, stats, BGNN_EMBED_BIAS(channels_in));
}
#endif
