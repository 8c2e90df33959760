#include "embed_pool.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "parallel.h"

#pragma STDC FP_CONTRACT OFF

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }
static size_t padded(int channels_out) { return bgnn_embed_stats_size(channels_out) / BGNN_EMBED_STATS; }

typedef struct {
  uint32_t* rows; /* BGNN_EMBED_ROWS concatenated rows */
  uint64_t* xs;
  int32_t* acc;
  uint16_t* stats; /* embed_stats.h */
  float* max;      /* the direct path's running max */
  /* per channel (padded to whole tiles): the sums of q and of the ABS statistic
   * (statistics), or the sums of the a > 0 and of the a < 0 (direct); |sum| <= points * C */
  int32_t *sum0, *sum1;
} worker_scratch;

static worker_scratch view(const bgnn_embed_pool* p, int worker) {
  const size_t words = (size_t)bgnn_words(p->channels_in), n = (size_t)p->channels_out;
  unsigned char* b = p->scratch + (size_t)worker * p->worker_bytes;
  worker_scratch s;
  s.rows = (uint32_t*)b, b += align64(sizeof(uint32_t) * BGNN_EMBED_ROWS * words);
  s.xs = (uint64_t*)b, b += align64(sizeof(uint64_t) * BGNN_EMBED_XS_WORDS(p->channels_in));
  s.acc = (int32_t*)b, b += align64(sizeof(int32_t) * BGNN_BGEMM_ROWS * n);
  s.stats = (uint16_t*)b, b += align64(sizeof(uint16_t) * bgnn_embed_stats_size(p->channels_out));
  s.max = (float*)b, b += align64(sizeof(float) * n);
  s.sum0 = (int32_t*)b, b += align64(sizeof(int32_t) * padded(p->channels_out));
  s.sum1 = (int32_t*)b;
  return s;
}

static size_t worker_bytes(int channels_in, int channels_out) {
  const size_t words = (size_t)bgnn_words(channels_in), n = (size_t)channels_out;
  return align64(sizeof(uint32_t) * BGNN_EMBED_ROWS * words) + align64(sizeof(uint64_t) * BGNN_EMBED_XS_WORDS(channels_in)) +
         align64(sizeof(int32_t) * BGNN_BGEMM_ROWS * n) + align64(sizeof(uint16_t) * bgnn_embed_stats_size(channels_out)) +
         align64(sizeof(float) * n) + 2 * align64(sizeof(int32_t) * padded(channels_out));
}

/* v(a) exactly as the op defines it (float32, FP_CONTRACT off). */
static float value(int a, float s, float alpha, float g, float h) {
  float t = (float)a * s;
  t = t >= 0.0f ? t : t * alpha;
  return t * g + h;
}

/* Whether every step of v is finite for all |a| <= C: then v is monotone on each side of
 * a = 0 (embed_pool.h) and never NaN, and the extremes of a decide the max. Each step's
 * magnitude grows with |a|, so a = C and a = -C tell. */
static int extremes_decide(const float* prm, int channels_in) {
  const float s = prm[0], alpha = prm[1], g = prm[2], h = prm[3];
  if (!isfinite(s) || !isfinite(alpha) || !isfinite(g) || !isfinite(h)) return 0;
  for (int sign = -1; sign <= 1; sign += 2) {
    float t = (float)(sign * channels_in) * s;
    if (!isfinite(t)) return 0;
    t = t >= 0.0f ? t : t * alpha;
    const float w = t * g;
    if (!isfinite(t) || !isfinite(w) || !isfinite(w + h)) return 0;
  }
  return 1;
}

int bgnn_embed_pool_init(bgnn_embed_pool* p, int points, int inputs, const int* channels, int channels_out,
                         const uint32_t* filters, const float* params, int workers) {
  assert(points >= 1 && inputs >= 1 && inputs <= BGNN_EMBED_MAX_INPUTS && channels_out >= 1);
  memset(p, 0, sizeof(*p));
  p->points = points, p->inputs = inputs, p->channels_out = channels_out, p->params = params;
  p->workers = workers < 1 ? 1 : workers;
  for (int l = 0; l < inputs; ++l) p->channels[l] = channels[l], p->channels_in += channels[l];
  if (!bgnn_bgemm_pack(&p->filters, filters, channels_out, bgnn_words(p->channels_in))) return 0;
  p->columns = malloc(sizeof(float) * 4 * (size_t)channels_out);
  if (!p->columns) return 0;
  for (int c = 0; c < channels_out; ++c)
    for (int t = 0; t < 4; ++t) p->columns[(size_t)t * channels_out + c] = params[4 * c + t];
  p->direct = p->channels_in > BGNN_EMBED_MAX_CHANNELS;
  for (int c = 0; c < channels_out && !p->direct; ++c) p->direct = !extremes_decide(params + 4 * c, p->channels_in);
  p->flush_rows = 65535 / p->channels_in;
  p->worker_bytes = worker_bytes(p->channels_in, channels_out);
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

/* Point i's rows of every input, concatenated into dst (bgnn_words(C) words). */
static void concat_row(const bgnn_embed_pool* p, const uint32_t* const* x, int i, uint32_t* restrict dst) {
  const int last = p->channels[p->inputs - 1];
  int whole = 1; /* every input but the last a whole number of words: plain word copies */
  for (int l = 0; l + 1 < p->inputs; ++l) whole &= p->channels[l] % 32 == 0;
  if (whole) {
    uint32_t* d = dst;
    for (int l = 0; l < p->inputs; ++l) {
      const int words = bgnn_words(p->channels[l]);
      const uint32_t* restrict src = x[l] + (size_t)i * words;
      for (int w = 0; w < words; ++w) d[w] = src[w];
      d += words;
    }
    if (last % 32) d[-1] &= (1u << (last % 32)) - 1u; /* padding bits stay 0 */
    return;
  }
  memset(dst, 0, sizeof(uint32_t) * (size_t)bgnn_words(p->channels_in));
  for (int l = 0, offset = 0; l < p->inputs; offset += p->channels[l++])
    append_bits(dst, offset, x[l] + (size_t)i * bgnn_words(p->channels[l]), p->channels[l]);
}

typedef struct {
  bgnn_embed_pool* p;
  const uint32_t* const* x;
} run_ctx;

/* fmaxf where -0 < +0 (AArch64's FMAXNM), whatever the ISA: a NaN v leaves m. */
static inline float max_number(float m, float v) { return v > m || (v == m && signbit(m)) ? v : m; }

/* The direct path: every v_ic from the int32 counts, its running max, the two sums. */
static void fold_direct(const bgnn_embed_pool* p, const worker_scratch* s, int rows) {
  const int n = p->channels_out, cin = p->channels_in;
  for (int r = 0; r < rows; ++r) {
    const int32_t* restrict q = s->acc + (size_t)r * n;
    const float *restrict sc = p->columns, *restrict al = sc + n, *restrict g = al + n, *restrict h = g + n;
    float* restrict mx = s->max;
    int32_t* restrict pos = s->sum0;
    int32_t* restrict neg = s->sum1;
#if defined(__clang__)
#pragma clang loop vectorize(enable) interleave(enable) /* the aarch64 cost model declines it */
#endif
    for (int c = 0; c < n; ++c) {
      const int32_t a = cin - 2 * q[c];
      float t = (float)a * sc[c];
      t = t >= 0.0f ? t : t * al[c];
      const float v = t * g[c] + h[c];
      mx[c] = max_number(mx[c], v);
      pos[c] += a > 0 ? a : 0;
      neg[c] += a < 0 ? a : 0;
    }
  }
}

/* Moves the 16-bit sums of `rows` rows out of the statistics into sum0, sum1. */
static void flush_sums(const bgnn_embed_pool* p, const worker_scratch* s, int rows) {
  const uint16_t offset = (uint16_t)(rows * BGNN_EMBED_BIAS(p->channels_in)); /* sum of k = sum of q + rows * bias */
  const size_t tiles = padded(p->channels_out) / BGNN_EMBED_LANES;
  for (size_t t = 0; t < tiles; ++t) {
    uint16_t* restrict sum = s->stats + (t * BGNN_EMBED_STATS + 4) * BGNN_EMBED_LANES;
    uint16_t* restrict abs = sum + BGNN_EMBED_LANES;
    int32_t* restrict sum0 = s->sum0 + t * BGNN_EMBED_LANES;
    int32_t* restrict sum1 = s->sum1 + t * BGNN_EMBED_LANES;
    for (int l = 0; l < BGNN_EMBED_LANES; ++l) {
      sum0[l] += (uint16_t)(sum[l] - offset), sum1[l] += abs[l];
      sum[l] = abs[l] = 0;
    }
  }
}

static void points_range(void* arg, int begin, int end, int worker) {
  run_ctx* ctx = arg;
  const bgnn_embed_pool* p = ctx->p;
  const int words = bgnn_words(p->channels_in), cin = p->channels_in;
  const bgnn_kernels* k = p->filters.kernels;
  worker_scratch s = view(p, worker);
  int unflushed = 0;
  for (int block = begin; block < end; ++block) {
    const int i0 = block * BGNN_EMBED_ROWS;
    const int rows = p->points - i0 < BGNN_EMBED_ROWS ? p->points - i0 : BGNN_EMBED_ROWS;
    for (int r = 0; r < rows; ++r) concat_row(p, ctx->x, i0 + r, s.rows + (size_t)r * words);
    if (p->direct) {
      for (int r0 = 0; r0 < rows; r0 += BGNN_BGEMM_ROWS) {
        const int sub = rows - r0 < BGNN_BGEMM_ROWS ? rows - r0 : BGNN_BGEMM_ROWS;
        bgnn_bgemm_load_rows(&p->filters, s.rows + (size_t)r0 * words, sub, words, s.xs);
        bgnn_bgemm_block(&p->filters, s.xs, s.acc);
        fold_direct(p, &s, sub);
      }
      continue;
    }
    if (unflushed + rows > p->flush_rows) flush_sums(p, &s, unflushed), unflushed = 0;
    k->embed_stats(&p->filters, cin, s.rows, rows, s.xs, s.acc, s.stats);
    unflushed += rows;
  }
  if (!p->direct) flush_sums(p, &s, unflushed);
}

/* Worker 0's statistics, sums and maxima become those of all workers. */
static void merge_workers(const bgnn_embed_pool* p) {
  const worker_scratch s0 = view(p, 0);
  const size_t tiles = padded(p->channels_out) / BGNN_EMBED_LANES;
  for (int w = 1; w < p->workers; ++w) {
    const worker_scratch s = view(p, w);
    for (size_t t = 0; t < tiles; ++t) {
      uint16_t* restrict a = s0.stats + t * BGNN_EMBED_STATS * BGNN_EMBED_LANES;
      const uint16_t* restrict b = s.stats + t * BGNN_EMBED_STATS * BGNN_EMBED_LANES;
      for (int l = 0; l < BGNN_EMBED_LANES; ++l) {
        const int L = BGNN_EMBED_LANES;
        a[l] = (int16_t)b[l] > (int16_t)a[l] ? b[l] : a[l];
        a[L + l] = (int16_t)b[L + l] < (int16_t)a[L + l] ? b[L + l] : a[L + l];
        a[2 * L + l] = b[2 * L + l] > a[2 * L + l] ? b[2 * L + l] : a[2 * L + l];
        a[3 * L + l] = b[3 * L + l] < a[3 * L + l] ? b[3 * L + l] : a[3 * L + l];
      }
    }
    for (size_t c = 0; c < tiles * BGNN_EMBED_LANES; ++c) s0.sum0[c] += s.sum0[c], s0.sum1[c] += s.sum1[c];
    for (int c = 0; c < p->channels_out; ++c) s0.max[c] = max_number(s0.max[c], s.max[c]);
  }
}

/* Output c's max from the statistics: v at the four extreme q. */
static float max_from_stats(const bgnn_embed_pool* p, const uint16_t* stats, int c) {
  const uint16_t* st = stats + (size_t)(c / BGNN_EMBED_LANES) * BGNN_EMBED_STATS * BGNN_EMBED_LANES + c % BGNN_EMBED_LANES;
  const uint16_t bias = BGNN_EMBED_BIAS(p->channels_in);
  const float* prm = p->params + 4 * c;
  float mx = -INFINITY;
  for (int j = 0; j < 4; ++j) {
    const int q = (uint16_t)(st[j * BGNN_EMBED_LANES] - bias);
    mx = max_number(mx, value(p->channels_in - 2 * q, prm[0], prm[1], prm[2], prm[3]));
  }
  return mx;
}

void bgnn_embed_pool_run(bgnn_embed_pool* p, const uint32_t* const* x, float* out) {
  run_ctx ctx = {p, x};
  const int n = p->channels_out;
  for (int w = 0; w < p->workers; ++w) { /* a worker that gets no points leaves identities and 0 */
    worker_scratch s = view(p, w);
    for (int c = 0; c < n; ++c) s.max[c] = -INFINITY;
    bgnn_embed_stats_reset(s.stats, n);
    memset(s.sum0, 0, sizeof(int32_t) * padded(n));
    memset(s.sum1, 0, sizeof(int32_t) * padded(n));
  }
  bgnn_parallel_for((p->points + BGNN_EMBED_ROWS - 1) / BGNN_EMBED_ROWS, 2, points_range, &ctx);
  merge_workers(p);
  const worker_scratch s = view(p, 0);
  const int64_t cin = p->channels_in;
  for (int c = 0; c < n; ++c) {
    int64_t pos = s.sum0[c], neg = s.sum1[c];
    if (!p->direct) { /* sum0 = sum of q, sum1 = sum of |a| / 2 (C even) or |a| (C odd) */
      const int64_t sum_a = p->points * cin - 2 * pos, sum_abs = cin % 2 ? neg : 2 * neg;
      pos = (sum_a + sum_abs) / 2, neg = (sum_a - sum_abs) / 2;
    }
    const double sc = p->params[4 * c], alpha = p->params[4 * c + 1];
    const double g = p->params[4 * c + 2], h = p->params[4 * c + 3];
    /* t = s*a >= 0 holds for a >= 0 when s > 0 and for a <= 0 when s < 0 */
    const double t_pos = sc >= 0 ? sc * (double)pos : sc * (double)neg;
    const double t_neg = sc >= 0 ? sc * (double)neg : sc * (double)pos;
    const double mean = (g * (t_pos + alpha * t_neg)) / p->points + h;
    out[c] = p->direct ? s.max[c] : max_from_stats(p, s.stats, c);
    out[n + c] = (float)mean;
  }
}
