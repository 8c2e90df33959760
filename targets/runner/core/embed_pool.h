/* The fused embedding of a binary DGCNN (BgnnEmbedPool, docs/ops/BgnnEmbedPool.md): the
 * bit-packed node features of every EdgeConv layer, concatenated on the fly, through one
 * binary 1x1 convolution and its per-channel output function, pooled over points.
 *
 * For point i and channel c, a = C - 2 popcount(W_c ^ concat_l(x_l[i])) is the ±1 dot
 * product (C = total input channels), and
 *     v_ic = g_c * prelu(a * s_c; alpha_c) + h_c        (float32, as written)
 * (learned scale s, PReLU slope alpha, then a BatchNorm folded to g, h). The output is
 * [max_i v_ic for c < E, mean_i v_ic for c < E]. The max is taken over the v_ic
 * themselves; the mean is computed exactly from two integer sums per channel (of the a
 * with s*a >= 0 and of the rest), because v is affine on each side of a = 0: so the
 * result does not depend on the order of points or the number of threads. */
#ifndef BGNN_CORE_EMBED_POOL_H
#define BGNN_CORE_EMBED_POOL_H
#include "bgemm.h"
#include "types.h"

#define BGNN_EMBED_MAX_INPUTS 8

typedef struct {
  int points, inputs, channels_out, channels_in; /* channels_in: the sum of channels[] */
  int channels[BGNN_EMBED_MAX_INPUTS];
  const float* params; /* [channels_out][4]: s, alpha, g, h */
  float* columns;      /* the same as four arrays of channels_out: s, alpha, g, h */
  bgnn_bgemm_filters filters;
  int workers;
  size_t worker_bytes;
  unsigned char* scratch;
} bgnn_embed_pool;

/* filters: int32 words [channels_out][words(sum of channels)]; points * sum(channels) must
 * be below 2^31 (the op checks). 0 when out of memory. */
int bgnn_embed_pool_init(bgnn_embed_pool* p, int points, int inputs, const int* channels, int channels_out,
                         const uint32_t* filters, const float* params, int workers);
void bgnn_embed_pool_free(bgnn_embed_pool* p);
size_t bgnn_embed_pool_bytes(void); /* sizeof(bgnn_embed_pool), for bindings */
/* x[l]: packed [points][words(channels[l])]; out: float [2 * channels_out]. */
void bgnn_embed_pool_run(bgnn_embed_pool* p, const uint32_t* const* x, float* out);

#endif
