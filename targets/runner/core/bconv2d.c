#include "bconv2d.h"

#include <limits.h>
#include <stdlib.h>

#include "parallel.h"
#include "xor_popcount.h"

static int out_size(int in, int k, int stride, int dil, int same) {
  const int eff = (k - 1) * dil + 1;
  return same ? (in + stride - 1) / stride : (in - eff) / stride + 1;
}

static int pad_before(int in, int out, int k, int stride, int dil) {
  const int total = (out - 1) * stride + (k - 1) * dil + 1 - in;
  return total > 0 ? total / 2 : 0;
}

void bgnn_conv_output_size(bgnn_bconv2d_params* p, int same) {
  p->out_h = out_size(p->in_h, p->kernel_h, p->stride_h, p->dilation_h, same);
  p->out_w = out_size(p->in_w, p->kernel_w, p->stride_w, p->dilation_w, same);
  p->pad_top = same ? pad_before(p->in_h, p->out_h, p->kernel_h, p->stride_h, p->dilation_h) : 0;
  p->pad_left = same ? pad_before(p->in_w, p->out_w, p->kernel_w, p->stride_w, p->dilation_w) : 0;
}

/* 1x1, stride 1: a binary GEMM, each output pixel reads exactly its input pixel. */
static int is_pointwise(const bgnn_bconv2d_params* p) {
  return p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
         p->out_h == p->in_h && p->out_w == p->in_w;
}

/* Mismatch count of one output position and channel (see bconv2d.h). */
static int32_t accumulate(const bgnn_bconv2d_params* p, const uint32_t* in, const uint32_t* filt,
                          int n, int oy, int ox, int o) {
  const int words = bgnn_words(p->channels_in);
  int32_t acc = 0;
  for (int ky = 0; ky < p->kernel_h; ++ky) {
    const int iy = oy * p->stride_h - p->pad_top + ky * p->dilation_h;
    for (int kx = 0; kx < p->kernel_w; ++kx) {
      const int ix = ox * p->stride_w - p->pad_left + kx * p->dilation_w;
      const uint32_t* f = filt + (((size_t)o * p->kernel_h + ky) * p->kernel_w + kx) * words;
      if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) {
        if (p->pad_value == 1) {
          for (int w = 0; w < words; ++w) acc += __builtin_popcount(f[w]); /* input all +1 */
        } else {
          acc += p->channels_in / 2; /* a zero tap: contributes 0 to K - 2*acc */
        }
        continue;
      }
      const uint32_t* x = in + (((size_t)n * p->in_h + iy) * p->in_w + ix) * words;
      acc += bgnn_xor_popcount(x, f, words);
    }
  }
  return acc;
}

/* Receives the mismatch counts of output position `pos` (n, oy, ox flattened). Called
 * from several threads at once, for different positions. */
typedef void (*acc_sink)(void* ctx, size_t pos, const int32_t* acc);

/* The least binary work (64-bit XOR + popcounts) a range of rows gets, a few microseconds:
 * below twice that a convolution runs on the calling thread alone. */
#define BCONV_GRAIN_WORK 8192

typedef struct {
  const bgnn_bconv2d_params* p;
  const uint32_t *in, *filt;
  const bgnn_bgemm_filters* f; /* pointwise: the repacked filters */
  size_t positions;
  acc_sink sink;
  void* sink_ctx;
  unsigned char* scratch; /* per worker: worker_bytes */
  size_t worker_bytes;
} positions_job;

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Pointwise: GEMM blocks [b0, b1) of BGNN_BGEMM_ROWS positions. */
static void gemm_blocks(void* arg, int b0, int b1, int worker) {
  const positions_job* j = arg;
  const bgnn_bgemm_filters* f = j->f;
  const int words = bgnn_words(j->p->channels_in), cout = j->p->channels_out;
  uint64_t* xs = (uint64_t*)(j->scratch + (size_t)worker * j->worker_bytes);
  int32_t* acc = (int32_t*)((unsigned char*)xs + align64(sizeof(uint64_t) * BGNN_BGEMM_ROWS * (size_t)f->words64));
  for (int b = b0; b < b1; ++b) {
    const size_t pos = (size_t)b * BGNN_BGEMM_ROWS;
    const int rows = j->positions - pos < BGNN_BGEMM_ROWS ? (int)(j->positions - pos) : BGNN_BGEMM_ROWS;
    bgnn_bgemm_load_rows(f, j->in + pos * words, rows, words, xs);
    bgnn_bgemm_block(f, xs, acc);
    for (int r = 0; r < rows; ++r) j->sink(j->sink_ctx, pos + r, acc + (size_t)r * cout);
  }
}

/* Any other geometry: positions [pos0, pos1), tap by tap. */
static void general_positions(void* arg, int pos0, int pos1, int worker) {
  const positions_job* j = arg;
  const bgnn_bconv2d_params* p = j->p;
  int32_t* acc = (int32_t*)(j->scratch + (size_t)worker * j->worker_bytes);
  for (int pos = pos0; pos < pos1; ++pos) {
    const int ox = pos % p->out_w, oy = pos / p->out_w % p->out_h, n = pos / p->out_w / p->out_h;
    for (int o = 0; o < p->channels_out; ++o) acc[o] = accumulate(p, j->in, j->filt, n, oy, ox, o);
    j->sink(j->sink_ctx, (size_t)pos, acc);
  }
}

/* Mismatch counts of every output position, split over positions with bgnn_parallel_for
 * (per-worker scratch): a blocked binary GEMM for pointwise convolutions, tap by tap
 * otherwise. Every position is computed alone, so results do not depend on the thread
 * count. Returns 0 if scratch memory could not be allocated. */
static int accumulate_positions(const bgnn_bconv2d_params* p, const uint32_t* in, const uint32_t* filt,
                                bgnn_bgemm_filters* cache, acc_sink sink, void* ctx) {
  const int words = bgnn_words(p->channels_in);
  const size_t positions = (size_t)p->batch * p->out_h * p->out_w;
  const int workers = bgnn_parallel_threads();
  positions_job j = {p, in, filt, NULL, positions, sink, ctx, NULL, 0};
  if (positions > INT_MAX - BGNN_BGEMM_ROWS) return 0;
  if (is_pointwise(p)) {
    bgnn_bgemm_filters local = {0}, *f = cache ? cache : &local;
    if (f->packed && f->source != filt) bgnn_bgemm_free(f); /* another filter tensor: repack */
    if (!f->packed && !bgnn_bgemm_pack(f, filt, p->channels_out, words)) return 0;
    j.f = f;
    j.worker_bytes = align64(sizeof(uint64_t) * BGNN_BGEMM_ROWS * (size_t)f->words64) +
                     align64(sizeof(int32_t) * BGNN_BGEMM_ROWS * (size_t)p->channels_out);
    j.scratch = malloc(j.worker_bytes * (size_t)workers);
    if (j.scratch) {
      const int blocks = (int)((positions + BGNN_BGEMM_ROWS - 1) / BGNN_BGEMM_ROWS);
      const long work = (long)BGNN_BGEMM_ROWS * p->channels_out * f->words64;
      bgnn_parallel_for(blocks, work >= BCONV_GRAIN_WORK ? 1 : (int)(BCONV_GRAIN_WORK / work), gemm_blocks, &j);
    }
    const int ok = j.scratch != NULL;
    free(j.scratch), bgnn_bgemm_free(&local);
    return ok;
  }
  j.worker_bytes = align64(sizeof(int32_t) * (size_t)p->channels_out);
  j.scratch = malloc(j.worker_bytes * (size_t)workers);
  if (!j.scratch) return 0;
  const long work = (long)p->channels_out * p->kernel_h * p->kernel_w * words;
  bgnn_parallel_for((int)positions, work >= BCONV_GRAIN_WORK ? 1 : (int)(BCONV_GRAIN_WORK / work), general_positions, &j);
  free(j.scratch);
  return 1;
}

typedef struct {
  int channels_out;
  int32_t min2, max2; /* the clamp of 2*acc: [K - hi, K - lo] */
  const float *m, *b; /* per channel: m' = -mul, b' = bias + K*mul */
  float* out;
} float_ctx;

static void emit_float(void* ctx, size_t pos, const int32_t* acc) {
  const float_ctx* c = ctx;
  const int n = c->channels_out;
  const int32_t min2 = c->min2, max2 = c->max2;
  const float *restrict m = c->m, *restrict b = c->b;
  float* restrict y = c->out + pos * n;
  for (int o = 0; o < n; ++o) {
    int32_t two_acc = 2 * acc[o];
    two_acc = two_acc < min2 ? min2 : two_acc > max2 ? max2 : two_acc;
    y[o] = (float)two_acc * m[o] + b[o];
  }
}

int bgnn_bconv2d_float(const bgnn_bconv2d_params* p, const uint32_t* in, const uint32_t* filter,
                       const float* multiplier, const float* bias, float* out, bgnn_bgemm_filters* cache) {
  const int32_t k = p->kernel_h * p->kernel_w * p->channels_in;
  const int32_t lo = p->clamp_lo < -k ? -k : p->clamp_lo, hi = p->clamp_hi > k ? k : p->clamp_hi;
  float* m2 = malloc(sizeof(float) * (size_t)p->channels_out * 2);
  if (!m2) return 0;
  for (int o = 0; o < p->channels_out; ++o) {
    m2[o] = (float)(-(double)multiplier[o]);
    m2[p->channels_out + o] = (float)((double)bias[o] + (double)k * (double)multiplier[o]);
  }
  float_ctx c = {p->channels_out, k - hi, k - lo, m2, m2 + p->channels_out, out};
  const int ok = accumulate_positions(p, in, filter, cache, emit_float, &c);
  free(m2);
  return ok;
}

typedef struct {
  int channels_out, out_words;
  const int32_t* thresholds;
  uint32_t* out;
} bitpacked_ctx;

/* Branch-free: the comparisons of random-looking counts would mispredict half the time. */
static void emit_bitpacked(void* ctx, size_t pos, const int32_t* acc) {
  const bitpacked_ctx* c = ctx;
  const int32_t* restrict t = c->thresholds;
  uint32_t* restrict y = c->out + pos * c->out_words;
  for (int w = 0; w < c->out_words; ++w) {
    const int o0 = w * 32, n = c->channels_out - o0 < 32 ? c->channels_out - o0 : 32;
    uint32_t bits = 0;
    for (int b = 0; b < n; ++b) bits |= (uint32_t)(acc[o0 + b] > t[o0 + b]) << b;
    y[w] = bits;
  }
}

int bgnn_bconv2d_bitpacked(const bgnn_bconv2d_params* p, const uint32_t* in, const uint32_t* filter,
                           const int32_t* thresholds, uint32_t* out, bgnn_bgemm_filters* cache) {
  bitpacked_ctx c = {p->channels_out, bgnn_words(p->channels_out), thresholds, out};
  return accumulate_positions(p, in, filter, cache, emit_bitpacked, &c);
}
