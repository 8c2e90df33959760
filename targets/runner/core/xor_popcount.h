/* The inner product of binary GEMM: popcount(a XOR b) over `words` 32-bit words.
 *
 * For +-1 vectors of K channels packed with zero padding bits, the dot product is
 * K - 2 * popcount(a XOR b): every set bit of the XOR is one (-1, +1) mismatch.
 * Used where one pair of rows meets at a time (the taps of a non-pointwise binary
 * convolution); blocks of rows against many filters go through bgemm.h. One variant per
 * line of kernels.inc, chosen at start-up with the others (dispatch.h).
 */
#ifndef BGNN_CORE_XOR_POPCOUNT_H
#define BGNN_CORE_XOR_POPCOUNT_H
#include "types.h"

typedef int32_t (*bgnn_xor_popcount_fn)(const uint32_t* a, const uint32_t* b, int words);

#define BGNN_VARIANT(isa, suffix) int32_t bgnn_xor_popcount__##suffix(const uint32_t* a, const uint32_t* b, int words);
#include "kernels.inc"
#undef BGNN_VARIANT

/* The variant dispatch picked (see dispatch.c). */
extern bgnn_xor_popcount_fn bgnn_xor_popcount;

#endif
