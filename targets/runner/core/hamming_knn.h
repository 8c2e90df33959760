/* Hamming k-NN on bit-packed rows (BgnnHammingKnn, docs/ops/BgnnHammingKnn.md).
 *
 * For each row i: the k rows j with the smallest popcount(x_i XOR x_j), in ascending
 * distance, lower j first among equal distances. Distances are small integers
 * (0..C), so selection is a counting pass: count rows per distance, find the distance
 * d* at which k is reached, then emit rows with d < d* and the first rows with
 * d == d*, each group in index order. Linear in N per row, no sorting, exact ties.
 * The distances of each block of rows come from the binary GEMM (bgemm.h). Long rows
 * first take an upper bound (the k-th smallest of the minima of blocks of 16 rows), so
 * that only rows within it are counted and placed.
 */
#ifndef BGNN_CORE_HAMMING_KNN_H
#define BGNN_CORE_HAMMING_KNN_H
#include "types.h"

/* The int32 count `scratch` must hold. */
size_t bgnn_hamming_knn_scratch(int n, int words);

/* x: n rows of `words` 32-bit packed words (LCE layout); out: n x k indices. Returns 0
 * when memory for the repacked rows could not be allocated, else 1. */
int bgnn_hamming_knn(const uint32_t* x, int n, int words, int k, int32_t* out, int32_t* scratch);

#endif
