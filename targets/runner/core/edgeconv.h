/* The fused EdgeConv of a binary DGCNN (BgnnEdgeConv, docs/ops/BgnnEdgeConv.md): node
 * features and neighbour indices in, the next layer's bit-packed node features out,
 * with no per-edge tensor in between.
 *
 * For node i, neighbour j (idx[i][j]) and output channel c, the 1x1 convolution of the
 * edge feature concat(e_ij, x_i) is split as W[e; x_i] = W_e e_ij + W_c x_i:
 * - real inputs (the first layer, e_ij = x_j - x_i):
 *     y_ij = u_j + v_i,  u_j = W_e x_j,  v_i = (W_c - W_e) x_i   (float; u once per point)
 * - ±1 inputs (e_ij = xor(x_j, x_i) as ±1, i.e. -x_j * x_i), on packed words:
 *     y_ij = 2 (q_ij - r_i),  q_ij = popcount(W_e ^ x_j ^ x_i),  r_i = popcount(W_c ^ x_i)
 *   an exact integer in [-2C, 2C] (C input channels).
 * Everything after the convolution up to the next sign (scales, PReLU, BatchNorm, the
 * max over neighbours) is one per-channel rule on the y_ij of a node, derived by the
 * converter: with lo, hi the channel's bounds,
 *   ANY_OUTSIDE: some j has y <= lo or y >= hi     (decided by max_j y and min_j y)
 *   ALL_INSIDE:  every j has lo <= y <= hi         (decided by max_j y and min_j y)
 *   ANY_INSIDE:  some j has lo <= y <= hi          (per edge)
 *   ALL_OUTSIDE: every j has y <= lo or y >= hi    (per edge)
 * and the output is +1 (bit 0) when the rule holds, -1 (bit 1) otherwise. Since adding
 * v_i (or subtracting r_i) is monotone, max_j y = max_j u_j + v_i exactly in float too.
 *
 * Binary form, the executed MACs N Cout C (k + 1): the centre counts r_i through the
 * binary GEMM, per block of BGNN_BGEMM_ROWS nodes. When every rule is ANY_OUTSIDE or
 * ALL_INSIDE (what trained models give), the edge half runs per node in
 * bgnn_edge_extremes (edge_extremes.h): max_j and min_j of q_ij as they are counted,
 * the rules on them as integer cuts (set_cuts in edgeconv.c) and the packed output bits;
 * the NEON kernel keeps all of it in registers, about 2.0 instructions per edge and output
 * channel for C = 64 and 3.7 for C = 128 (34 and 36 MACs per counted aarch64 instruction
 * of the whole op at N = 1024, k = 20; test_kernels.py pins >= 30). Otherwise (a rule
 * that needs every edge) the general path counts every edge: the rows x_j ^ x_i through
 * the binary GEMM, then max, min and the per-edge rules in C.
 * Work is split over nodes with bgnn_parallel_for. */
#ifndef BGNN_CORE_EDGECONV_H
#define BGNN_CORE_EDGECONV_H
#include "bgemm.h"
#include "edge_extremes.h"
#include "types.h"

typedef enum {
  BGNN_RULE_ANY_OUTSIDE = 0,
  BGNN_RULE_ALL_INSIDE = 1,
  BGNN_RULE_ANY_INSIDE = 2,
  BGNN_RULE_ALL_OUTSIDE = 3,
} bgnn_rule_mode;

typedef struct {
  int points, k, channels_in, channels_out;
  int binary;          /* 1: packed ±1 inputs, 0: float inputs */
  const int32_t* mode; /* [channels_out] bgnn_rule_mode */
  int* per_edge;       /* channels whose rule needs every edge, and their count */
  int n_per_edge;
  int32_t* lanes;      /* the rules as columns of Cout: lo, hi (their bits), one mask per mode */
  int16_t* cuts;       /* binary form: ANY_OUTSIDE / ALL_INSIDE on counts, for bgnn_edge_extremes */
  /* binary: repacked filter halves */
  bgnn_bgemm_filters edge, centre;
  /* float (edgeconv_float.c): channels padded to `cols` (a multiple of 8); the distinct
   * rows of W_e (`patterns`, 0 if more than 8) and each channel's; W_e (by pattern or by
   * channel) and W_c - W_e, transposed; the rules as rows of cols (lo, hi, a mask per
   * mode); the fast plan's steps, then the exact plan's, and their counts; the fast
   * plan's bound on |x|; u for every point */
  int cols, patterns;
  int32_t* pattern;
  float *w_edge, *w_centre, *rules;
  int32_t* steps;
  int n_steps[2];
  float x_bound;
  /* scratch: per worker (binary form); u: see the float form above */
  int workers;
  size_t worker_bytes;
  unsigned char* scratch;
  float* u;
} bgnn_edgeconv;

/* Validates nothing (the op glue does); packs the weights and allocates scratch for
 * `workers` threads. weights: float [Cout][2C] (float form) or int32 words
 * [Cout][2][words(C)] (binary form: edge half, then centre half). 0 when out of memory. */
int bgnn_edgeconv_init(bgnn_edgeconv* e, int points, int k, int channels_in, int channels_out, int binary,
                       const void* weights, const int32_t* mode, const void* bounds, int workers);
void bgnn_edgeconv_free(bgnn_edgeconv* e);
/* sizeof(bgnn_edgeconv), for bindings that allocate it (the tests' ctypes). */
size_t bgnn_edgeconv_bytes(void);

/* x: float [points][C] or packed [points][words(C)]; idx: [points][k] in [0, points);
 * out: packed [points][words(Cout)]. */
void bgnn_edgeconv_run(bgnn_edgeconv* e, const void* x, const int32_t* idx, uint32_t* out);

#endif
