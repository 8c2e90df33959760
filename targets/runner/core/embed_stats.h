/* BgnnEmbedPool's per-block kernel (embed_pool.h): the binary GEMM of a block of up to
 * BGNN_EMBED_ROWS points against every filter, folded into a few 16-bit statistics per
 * channel instead of stored counts. The max and mean over points are computed from them
 * at the end (embed_pool.h says why that is exact).
 *
 * For point i and channel c, q = popcount(x_i XOR w_c) (0..C, C input channels) and
 * a = C - 2q. The kernel works on the key
 *     k = q + BGNN_EMBED_BIAS(C)  (uint16),  BGNN_EMBED_BIAS(C) = 0x7FFF - floor(C/2),
 * which is >= 0 as an int16 exactly on side A, the points with a >= 0 (q <= floor(C/2)),
 * and negative on side B, a < 0. Per tile of BGNN_EMBED_LANES channels, stats holds
 * BGNN_EMBED_STATS vectors of BGNN_EMBED_LANES uint16 (lane = channel), at
 * stats + (tile * BGNN_EMBED_STATS + s) * BGNN_EMBED_LANES:
 *   s = 0  max of k as int16:   the largest q of side A (a >= 0 nearest 0), if any
 *   s = 1  min of k as int16:   the smallest q of side B (a < 0 nearest 0), if any
 *   s = 2  max of k as uint16:  the largest q (the smallest a)
 *   s = 3  min of k as uint16:  the smallest q (the largest a)
 *   s = 4  sum of k, mod 2^16
 *   s = 5  sum of |k - 0x7FFF| (C even: |a| / 2), or of |k - 0x7FFF| + |k - 0x8000|
 *          (C odd: |a|), mod 2^16
 * bgnn_embed_stats_reset sets 0-3 to the identities of their max and min and 4-5 to 0.
 * Every key of a block's rows goes into all six; rows past `rows` do not.
 *
 * Contracts (assert where NDEBUG is not defined): 1 <= rows <= BGNN_EMBED_ROWS; C =
 * channels_in <= BGNN_EMBED_MAX_CHANNELS and f packed for C channels (bgemm.h); x holds
 * `rows` rows of bgnn_words(C) uint32 (padding bits 0), row r at x + r * words32; xs
 * holds BGNN_EMBED_XS_WORDS(C) uint64 and acc BGNN_BGEMM_ROWS * channels_out int32
 * (scratch); stats holds bgnn_embed_stats_size(channels_out) uint16. The sums 4-5 wrap
 * after 65,535 / C rows: the caller reads and clears them before (embed_pool.c). Pure
 * functions of their arguments, like bgnn_bgemm_block.
 *
 * Variants (kernels.inc, the table of dispatch.h): scalar (embed_stats.c) runs
 * bgnn_bgemm_block on BGNN_BGEMM_ROWS rows at a time and folds its int32 counts in C;
 * avx2 and avx512 are that same C over their own binary GEMM; neon (embed_stats-neon.c)
 * folds the 16-bit counts in registers in the GEMM's own loop.
 */
#ifndef BGNN_CORE_EMBED_STATS_H
#define BGNN_CORE_EMBED_STATS_H
#include "bgemm.h"
#include "types.h"

#define BGNN_EMBED_ROWS 8 /* points per block */
#define BGNN_EMBED_LANES 8
#define BGNN_EMBED_STATS 6
#define BGNN_EMBED_MAX_CHANNELS 8191 /* a block's counts (<= C each) fit the 16-bit sums */
#define BGNN_EMBED_BIAS(channels) ((uint16_t)(0x7FFF - (channels) / 2))
/* uint64 words of xs: BGNN_EMBED_ROWS rows of whole 128-bit chunks */
#define BGNN_EMBED_XS_WORDS(channels) ((size_t)BGNN_EMBED_ROWS * 2 * (size_t)((bgnn_words64(channels) + 1) / 2))

static inline size_t bgnn_embed_stats_size(int channels_out) {
  return (size_t)(channels_out + BGNN_EMBED_LANES - 1) / BGNN_EMBED_LANES * BGNN_EMBED_STATS * BGNN_EMBED_LANES;
}
void bgnn_embed_stats_reset(uint16_t* stats, int channels_out);

#define BGNN_VARIANT(isa, suffix)                                                                     \
  void bgnn_embed_stats__##suffix(const bgnn_bgemm_filters* f, int channels_in, const uint32_t* x, int rows, \
                                  uint64_t* xs, int32_t* acc, uint16_t* stats);
#include "kernels.inc"
#undef BGNN_VARIANT

#endif
