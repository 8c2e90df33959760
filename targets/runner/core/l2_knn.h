/* k nearest rows in squared Euclidean distance (BgnnL2Knn, docs/ops/BgnnL2Knn.md), the
 * first EdgeConv layer's graph over the input points.
 *
 * d_ij = (|x_i|^2 - 2 x_i.x_j) + |x_j|^2 in float32, each sum taken left to right over
 * channels (the reference's association, no fused multiply-add); row i's k smallest in
 * ascending distance, the lower index first among equal distances (bgnn-deploy's tie
 * rule), row i itself included. For 3 channels (finite coordinates up to 1e15) a grid of
 * cells limits each row to the points near it, with a float32 error bound deciding when
 * no farther point can enter (l2_knn.c); otherwise every pair. Split over rows with
 * bgnn_parallel_for.
 *
 * Preconditions (asserted): n >= 1, channels >= 1, 1 <= k <= n; scratch holds
 * bgnn_l2_knn_scratch(n, channels, k, threads) floats for the pool's thread count (any
 * contents). */
#ifndef BGNN_CORE_L2_KNN_H
#define BGNN_CORE_L2_KNN_H
#include "types.h"

/* Scratch floats the call needs for `workers` threads. */
size_t bgnn_l2_knn_scratch(int n, int channels, int k, int workers);
void bgnn_l2_knn(const float* x, int n, int channels, int k, int32_t* out, float* scratch);

#endif
