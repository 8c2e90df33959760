#include "bconv2d.h"

#include <stdlib.h>

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

/* Receives the mismatch counts of output position `pos` (n, oy, ox flattened). */
typedef void (*acc_sink)(void* ctx, size_t pos, const int32_t* acc);

/* Mismatch counts of every output position, in order: a blocked binary GEMM for pointwise
 * convolutions, tap by tap otherwise. Returns 0 if scratch memory could not be allocated. */
static int accumulate_positions(const bgnn_bconv2d_params* p, const uint32_t* in, const uint32_t* filt,
                                bgnn_bgemm_filters* cache, acc_sink sink, void* ctx) {
  const int words = bgnn_words(p->channels_in);
  const size_t positions = (size_t)p->batch * p->out_h * p->out_w;
  if (is_pointwise(p)) {
    bgnn_bgemm_filters local = {0}, *f = cache ? cache : &local;
    if (f->packed && f->source != filt) bgnn_bgemm_free(f); /* another filter tensor: repack */
    if (!f->packed && !bgnn_bgemm_pack(f, filt, p->channels_out, words)) return 0;
    uint64_t* xs = malloc(sizeof(uint64_t) * BGNN_BGEMM_ROWS * (size_t)f->words64);
    int32_t* acc = malloc(sizeof(int32_t) * BGNN_BGEMM_ROWS * (size_t)p->channels_out);
    if (xs && acc) {
      for (size_t pos = 0; pos < positions; pos += BGNN_BGEMM_ROWS) {
        const int rows = positions - pos < BGNN_BGEMM_ROWS ? (int)(positions - pos) : BGNN_BGEMM_ROWS;
        bgnn_bgemm_load_rows(f, in + pos * words, rows, words, xs);
        bgnn_bgemm_block(f, xs, acc);
        for (int r = 0; r < rows; ++r) sink(ctx, pos + r, acc + (size_t)r * p->channels_out);
      }
    }
    const int ok = xs && acc;
    free(xs), free(acc), bgnn_bgemm_free(&local);
    return ok;
  }
  int32_t* acc = malloc(sizeof(int32_t) * (size_t)p->channels_out);
  if (!acc) return 0;
  size_t pos = 0;
  for (int n = 0; n < p->batch; ++n)
    for (int oy = 0; oy < p->out_h; ++oy)
      for (int ox = 0; ox < p->out_w; ++ox, ++pos) {
        for (int o = 0; o < p->channels_out; ++o) acc[o] = accumulate(p, in, filt, n, oy, ox, o);
        sink(ctx, pos, acc);
      }
  free(acc);
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

static void emit_bitpacked(void* ctx, size_t pos, const int32_t* acc) {
  const bitpacked_ctx* c = ctx;
  uint32_t* y = c->out + pos * c->out_words;
  for (int w = 0; w < c->out_words; ++w) y[w] = 0;
  for (int o = 0; o < c->channels_out; ++o)
    if (acc[o] > c->thresholds[o]) y[o / 32] |= 1u << (o % 32);
}

int bgnn_bconv2d_bitpacked(const bgnn_bconv2d_params* p, const uint32_t* in, const uint32_t* filter,
                           const int32_t* thresholds, uint32_t* out, bgnn_bgemm_filters* cache) {
  bitpacked_ctx c = {p->channels_out, bgnn_words(p->channels_out), thresholds, out};
  return accumulate_positions(p, in, filter, cache, emit_bitpacked, &c);
}
