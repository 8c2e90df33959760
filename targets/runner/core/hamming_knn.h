/* Hamming k-NN on bit-packed rows (BgnnHammingKnn, docs/ops/BgnnHammingKnn.md).
 *
 * For each row i: the k rows j with the smallest popcount(x_i XOR x_j), in ascending
 * distance, lower j first among equal distances. The distances of each block of rows
 * come from the binary GEMM (bgemm.h). Distances are small integers (0..C), so selection
 * counts: the k-th neighbour's distance of the row before is a guess t;
 * the rows within t are collected in index order (a vector pass over the row's
 * distances), raising t until there are at least k of them, and a stable counting sort
 * of those few by distance gives the answer. No comparison sort, exact ties; a row
 * whose guess is off costs another pass (the first row of a range counts all n).
 * The GEMM runs the variant dispatch chose; the selection's vector pass is chosen when
 * compiling, like bitpack.c's: AVX2 + BMI + POPCNT where the build targets them (a native
 * host build), NEON on AArch64, portable C otherwise.
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
