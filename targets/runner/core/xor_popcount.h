/* The inner product of binary GEMM: popcount(a XOR b) over `words` 32-bit words.
 *
 * For +-1 vectors of K channels packed with zero padding bits, the dot product is
 * K - 2 * popcount(a XOR b): every set bit of the XOR is one (-1, +1) mismatch.
 * Variants are listed once in xor_popcount.inc (X-macro) and chosen at start-up.
 */
#ifndef BGNN_CORE_XOR_POPCOUNT_H
#define BGNN_CORE_XOR_POPCOUNT_H
#include "types.h"

typedef int32_t (*bgnn_xor_popcount_fn)(const uint32_t* a, const uint32_t* b, int words);

#define BGNN_XOR_POPCOUNT(isa, fn) int32_t fn(const uint32_t* a, const uint32_t* b, int words);
#include "xor_popcount.inc"
#undef BGNN_XOR_POPCOUNT

/* The variant dispatch picked (see dispatch.c). */
extern bgnn_xor_popcount_fn bgnn_xor_popcount;

#endif
