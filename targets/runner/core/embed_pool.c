#include "embed_pool.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"

#pragma STDC FP_CONTRACT OFF

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

typedef struct {
  uint32_t* rows; /* BGNN_BGEMM_ROWS concatenated rows */
  uint64_t* xs;
  int32_t* acc;
  float* max;
  int32_t *sum_pos, *sum_neg; /* sums of the a > 0 and of the a < 0 (|sum| <= points * C) */
} worker_scratch;

static worker_scratch view(const bgnn_embed_pool* p, int worker) {
  const size_t words = (size_t)bgnn_words(p->channels_in), n = (size_t)p->channels_out;
  unsigned char* b = p->scratch + (size_t)worker * p->worker_bytes;
  worker_scratch s;
  s.rows = (uint32_t*)b, b += align64(sizeof(uint32_t) * BGNN_BGEMM_ROWS * words);
  s.xs = (uint64_t*)b, b += align64(sizeof(uint64_t) * BGNN_BGEMM_ROWS * (size_t)p->filters.words64);
  s.acc = (int32_t*)b, b += align64(sizeof(int32_t) * BGNN_BGEMM_ROWS * n);
  s.max = (float*)b, b += align64(sizeof(float) * n);
  s.sum_pos = (int32_t*)b, b += align64(sizeof(int32_t) * n);
  s.sum_neg = (int32_t*)b;
  return s;
}

int bgnn_embed_pool_init(bgnn_embed_pool* p, int points, int inputs, const int* channels, int channels_out,
                         const uint32_t* filters, const float* params, int workers) {
  memset(p, 0, sizeof(*p));
  p->points = points, p->inputs = inputs, p->channels_out = channels_out, p->params = params;
  p->workers = workers < 1 ? 1 : workers;
  for (int l = 0; l < inputs; ++l) p->channels[l] = channels[l], p->channels_in += channels[l];
  if (!bgnn_bgemm_pack(&p->filters, filters, channels_out, bgnn_words(p->channels_in))) return 0;
  p->columns = malloc(sizeof(float) * 4 * (size_t)channels_out);
  if (!p->columns) return 0;
  for (int c = 0; c < channels_out; ++c)
    for (int t = 0; t < 4; ++t) p->columns[(size_t)t * channels_out + c] = params[4 * c + t];
  const size_t words = (size_t)bgnn_words(p->channels_in), n = (size_t)channels_out;
  p->worker_bytes = align64(sizeof(uint32_t) * BGNN_BGEMM_ROWS * words) +
                    align64(sizeof(uint64_t) * BGNN_BGEMM_ROWS * (size_t)p->filters.words64) +
                    align64(sizeof(int32_t) * BGNN_BGEMM_ROWS * n) + align64(sizeof(float) * n) +
                    2 * align64(sizeof(int32_t) * n);
  p->scratch = aligned_alloc(64, p->worker_bytes * (size_t)p->workers);
  return p->scratch != NULL;
}

size_t bgnn_embed_pool_bytes(void) { return sizeof(bgnn_embed_pool); }

void bgnn_embed_pool_free(bgnn_embed_pool* p) {
  bgnn_bgemm_free(&p->filters);
  free(p->columns);
  free(p->scratch);
  memset(p, 0, sizeof(*p));
}

/* Appends `channels` bits of `src` at bit `offset` of `dst` (zeroed beforehand). */
static void append_bits(uint32_t* dst, int offset, const uint32_t* src, int channels) {
  const int words = bgnn_words(channels), shift = offset % 32;
  uint32_t* d = dst + offset / 32;
  for (int w = 0; w < words; ++w) {
    uint32_t v = src[w];
    if (w == words - 1 && channels % 32) v &= (1u << (channels % 32)) - 1u; /* padding bits stay 0 */
    d[w] |= v << shift;
    if (shift && v >> (32 - shift)) d[w + 1] |= v >> (32 - shift);
  }
}

typedef struct {
  bgnn_embed_pool* p;
  const uint32_t* const* x;
} run_ctx;

static void points_range(void* arg, int begin, int end, int worker) {
  run_ctx* ctx = arg;
  const bgnn_embed_pool* p = ctx->p;
  const int words = bgnn_words(p->channels_in), n = p->channels_out, cin = p->channels_in;
  worker_scratch s = view(p, worker);
  for (int block = begin; block < end; ++block) {
    const int i0 = block * BGNN_BGEMM_ROWS;
    const int rows = p->points - i0 < BGNN_BGEMM_ROWS ? p->points - i0 : BGNN_BGEMM_ROWS;
    memset(s.rows, 0, sizeof(uint32_t) * BGNN_BGEMM_ROWS * (size_t)words);
    for (int r = 0; r < rows; ++r)
      for (int l = 0, offset = 0; l < p->inputs; offset += p->channels[l++])
        append_bits(s.rows + (size_t)r * words, offset, ctx->x[l] + (size_t)(i0 + r) * bgnn_words(p->channels[l]),
                    p->channels[l]);
    bgnn_bgemm_load_rows(&p->filters, s.rows, rows, words, s.xs);
    bgnn_bgemm_block(&p->filters, s.xs, s.acc);
    for (int r = 0; r < rows; ++r) {
      const int32_t* restrict q = s.acc + (size_t)r * n;
      const float *restrict sc = p->columns, *restrict al = sc + n, *restrict g = al + n, *restrict h = g + n;
      float* restrict mx = s.max;
      int32_t* restrict pos = s.sum_pos;
      int32_t* restrict neg = s.sum_neg;
#if defined(__clang__)
#pragma clang loop vectorize(enable) interleave(enable) /* the aarch64 cost model declines it */
#endif
      for (int c = 0; c < n; ++c) {
        const int32_t a = cin - 2 * q[c];
        float t = (float)a * sc[c];
        t = t >= 0.0f ? t : t * al[c];
        const float v = t * g[c] + h[c];
        mx[c] = fmaxf(mx[c], v); /* not a ternary: that compiles to slow masked stores */
        pos[c] += a > 0 ? a : 0;
        neg[c] += a < 0 ? a : 0;
      }
    }
  }
}

void bgnn_embed_pool_run(bgnn_embed_pool* p, const uint32_t* const* x, float* out) {
  run_ctx ctx = {p, x};
  const int workers = p->workers;
  for (int w = 0; w < workers; ++w) { /* a worker that gets no points leaves -inf and 0 */
    worker_scratch s = view(p, w);
    for (int c = 0; c < p->channels_out; ++c) s.max[c] = -INFINITY;
    memset(s.sum_pos, 0, sizeof(int32_t) * (size_t)p->channels_out);
    memset(s.sum_neg, 0, sizeof(int32_t) * (size_t)p->channels_out);
  }
  bgnn_parallel_for((p->points + BGNN_BGEMM_ROWS - 1) / BGNN_BGEMM_ROWS, 4, points_range, &ctx);
  const int n = p->channels_out;
  for (int c = 0; c < n; ++c) {
    float mx = -INFINITY;
    int64_t pos = 0, neg = 0;
    for (int w = 0; w < workers; ++w) {
      worker_scratch s = view(p, w);
      mx = s.max[c] > mx ? s.max[c] : mx;
      pos += s.sum_pos[c], neg += s.sum_neg[c];
    }
    const double sc = p->params[4 * c], alpha = p->params[4 * c + 1];
    const double g = p->params[4 * c + 2], h = p->params[4 * c + 3];
    /* t = s*a >= 0 holds for a >= 0 when s > 0 and for a <= 0 when s < 0 */
    const double t_pos = sc >= 0 ? sc * (double)pos : sc * (double)neg;
    const double t_neg = sc >= 0 ? sc * (double)neg : sc * (double)pos;
    const double mean = (g * (t_pos + alpha * t_neg)) / p->points + h;
    out[c] = mx;
    out[n + c] = (float)mean;
  }
}
