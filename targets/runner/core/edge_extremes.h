/* The edge half of the fused binary EdgeConv (edgeconv.h) for one node, reduced over its
 * neighbours as it is computed, and the rules that the extremes decide. For node i, its
 * k neighbours j = nb[0..k) and every filter c of the edge half e:
 *     qmax_c = max_j popcount(e_c ^ x_j ^ x_i),  qmin_c = min_j popcount(e_c ^ x_j ^ x_i)
 * and, with r_c the node's centre count (popcount(centre_c ^ x_i), from the caller),
 *     bit c of out = ((r_c - qmax_c >= a_c) & (r_c - qmin_c <= b_c)) ^ (flip_c & 1)
 * which is how ANY_OUTSIDE and ALL_INSIDE read on counts (edgeconv.c derives the cuts a,
 * b, flip from the bounds). The padding bits of the last word are 0. No edge row and no count
 * per edge reaches memory in the kernel written for it (neon).
 *
 *     bgnn_bgemm_filters e = {0};
 *     bgnn_bgemm_pack(&e, edge_half, channels_out, words32);   // the bgemm packing
 *     for (each node i)
 *       bgnn_edge_extremes(&e, x, words32, x + i * words32, idx + i * k, k, r_i, cuts,
 *                          out + i * words(channels_out), scratch);
 *
 * The filters are bgemm.h's, packed by the active variant; the variant that packed them
 * runs (its layout is the one the kernel reads). Variants (kernels.inc):
 * - scalar (edge_extremes-reference.c): portable C, the reference.
 * - neon (edge_extremes-neon.c): rows of up to two 64-bit words (K <= 128). A pair of
 *   filter tiles is XORed with x_i once, in registers ((e ^ x_i) ^ x_j = e ^ xor(x_j, x_i));
 *   each neighbour row is loaded straight from x through its index; EOR, CNT and the ADDP
 *   tree of bgemm-neon.c give one byte per filter that UMAX / UMIN fold into running
 *   extremes in registers; the rules and the bit packing follow in registers too. Longer
 *   rows take the bgemm path.
 * - avx2, avx512: the bgemm path (edge_extremes.c): the k rows x_j ^ x_i are written to
 *   scratch, counted in blocks by the variant's bgnn_bgemm_block, reduced in C.
 *
 * Contracts: k >= 1; 1 <= words32 and channels_in <= BGNN_EDGE_EXTREMES_MAX_K (counts and
 * cuts fit int16); every nb[j] in [0, rows of x); xi is any row of words32 words; rows and
 * filters packed with zero padding bits (types.h). r holds channels_out int32 and may be
 * read up to bgnn_edge_extremes_width(channels_out) (values past channels_out ignored);
 * cuts is int16 [3][width]: a, b, flip (0 or -1), with a = INT16_MAX, b = INT16_MIN,
 * flip = 0 past channels_out (bgnn_edge_extremes_pad_cuts); out holds words(channels_out)
 * words; scratch holds bgnn_edge_extremes_scratch(k, words32, channels_out) bytes, 64-byte
 * aligned. Pure functions of their arguments: threads may share e and cuts.
 */
#ifndef BGNN_CORE_EDGE_EXTREMES_H
#define BGNN_CORE_EDGE_EXTREMES_H
#include "bgemm.h"
#include "types.h"

#define BGNN_EDGE_EXTREMES_PAD 32     /* kernels work on groups of up to 32 filters */
#define BGNN_EDGE_EXTREMES_MAX_K 32766 /* input channels: |count - r| <= K, cuts in [-K-1, K+1] */

void bgnn_edge_extremes(const bgnn_bgemm_filters* e, const uint32_t* x, int words32, const uint32_t* xi,
                        const int32_t* nb, int k, const int32_t* r, const int16_t* cuts, uint32_t* out,
                        void* scratch);

/* Entries per column of cuts (and readable entries of r): channels_out rounded up to 32. */
static inline int bgnn_edge_extremes_width(int channels_out) {
  return (channels_out + BGNN_EDGE_EXTREMES_PAD - 1) / BGNN_EDGE_EXTREMES_PAD * BGNN_EDGE_EXTREMES_PAD;
}
/* Fills the padding entries (channels_out..width) of the three columns of cuts. */
void bgnn_edge_extremes_pad_cuts(int16_t* cuts, int channels_out);
/* Scratch bytes of any variant. */
size_t bgnn_edge_extremes_scratch(int k, int words32, int channels_out);

/* Shared by the variants (edge_extremes.c): the rules on extremes already in qmax / qmin
 * (channels_out entries), and the bgemm path for any variant's filters. */
void bgnn_edge_extremes_bits(const int32_t* qmax, const int32_t* qmin, int channels_out, const int32_t* r,
                             const int16_t* cuts, uint32_t* out);
void bgnn_edge_extremes_via_bgemm(const bgnn_bgemm_filters* e, const uint32_t* x, int words32, const uint32_t* xi,
                                  const int32_t* nb, int k, const int32_t* r, const int16_t* cuts, uint32_t* out,
                                  void* scratch);

#define BGNN_VARIANT(isa, suffix)                                                                             \
  void bgnn_edge_extremes__##suffix(const bgnn_bgemm_filters* e, const uint32_t* x, int words32,              \
                                    const uint32_t* xi, const int32_t* nb, int k, const int32_t* r,           \
                                    const int16_t* cuts, uint32_t* out, void* scratch);
#include "kernels.inc"
#undef BGNN_VARIANT

#endif
