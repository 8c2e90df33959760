/* The fused embedding of a binary DGCNN (BgnnEmbedPool, docs/ops/BgnnEmbedPool.md): the
 * bit-packed node features of every EdgeConv layer, concatenated on the fly, through one
 * binary 1x1 convolution and its per-channel output function, pooled over points.
 *
 * For point i and channel c, a = C - 2 popcount(W_c ^ concat_l(x_l[i])) is the ±1 dot
 * product (C = total input channels), and
 *     v_ic = g_c * prelu(a * s_c; alpha_c) + h_c        (float32, as written)
 * (learned scale s, PReLU slope alpha, then a BatchNorm folded to g, h). The output is
 * [max_i v_ic for c < E, mean_i v_ic for c < E].
 *
 * The max, from a few integers per channel. Every step of v is monotone (non-strictly)
 * in its input, rounding included: int -> float, x * s, x * alpha, x * g, x + h, and
 * prelu on t >= 0 (where it is t) and on t <= 0 (where it is t * alpha, or t itself at
 * t = -0), also in the order that puts -0 below +0. So, as long as no step is infinite or
 * NaN, v is monotone on side A (a >= 0) and on side B (a < 0), so its max over a side's
 * points is at the smallest or the largest a there, and the max over all points is the
 * max of v at those four (fewer when a side is empty). The block
 * kernel (embed_stats.h) tracks those four as 16-bit keys while it counts, in the same
 * registers; the float function runs on 4 values per channel at the end. A tie of -0 and
 * +0 gives +0 (as fmaxf does on AArch64, FMAXNM). Where some step can be infinite or NaN
 * for |a| <= C (checked at init from the parameters: a = ±C bound each step), or for
 * C > BGNN_EMBED_MAX_CHANNELS, the op takes the direct path instead: v for every point and
 * its running max in the same order (-0 below +0, a NaN skipped).
 *
 * The mean, exactly from two integer sums per channel: v is affine in a on each side of
 * a = 0, so mean_i v = (g (s P + alpha s N)) / points + h (signs sorted by s) with P, N
 * the sums of the a > 0 and of the a < 0, in double: it does not depend on the order of
 * points or the number of threads. P + N and P - N come from the sums of q and of |a|,
 * kept 16 bits wide in the kernel and moved into int32 every 65,535 / C rows.
 *
 * Instruction counts under qemu-aarch64: embed_stats-neon.c.
 */
#ifndef BGNN_CORE_EMBED_POOL_H
#define BGNN_CORE_EMBED_POOL_H
#include "bgemm.h"
#include "embed_stats.h"
#include "types.h"

#define BGNN_EMBED_MAX_INPUTS 8

typedef struct {
  int points, inputs, channels_out, channels_in; /* channels_in: the sum of channels[] */
  int channels[BGNN_EMBED_MAX_INPUTS];
  const float* params; /* [channels_out][4]: s, alpha, g, h */
  float* columns;      /* the same as four arrays of channels_out: s, alpha, g, h */
  bgnn_bgemm_filters filters;
  int direct;     /* 1: the max from every v_ic (see above); set by init, tests may set it */
  int flush_rows; /* rows after which the 16-bit sums are moved out */
  int workers;
  size_t worker_bytes;
  unsigned char* scratch;
} bgnn_embed_pool;

/* filters: int32 words [channels_out][words(sum of channels)]; points >= 1, 1 <= inputs
 * <= BGNN_EMBED_MAX_INPUTS, channels_out >= 1; points * sum(channels) must be below 2^31
 * (the op checks). 0 when out of memory. */
int bgnn_embed_pool_init(bgnn_embed_pool* p, int points, int inputs, const int* channels, int channels_out,
                         const uint32_t* filters, const float* params, int workers);
void bgnn_embed_pool_free(bgnn_embed_pool* p);
size_t bgnn_embed_pool_bytes(void); /* sizeof(bgnn_embed_pool), for bindings */
/* x[l]: packed [points][words(channels[l])]; out: float [2 * channels_out]. */
void bgnn_embed_pool_run(bgnn_embed_pool* p, const uint32_t* const* x, float* out);

#endif
