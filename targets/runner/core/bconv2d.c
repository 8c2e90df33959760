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

/* Mismatch counts of every output channel at one output position. */
static void accumulate_all(const bgnn_bconv2d_params* p, const uint32_t* in, const uint32_t* filt, int n, int oy,
                           int ox, int32_t* acc);

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

void bgnn_bconv2d_float(const bgnn_bconv2d_params* p, const uint32_t* in, const uint32_t* filter,
                        const float* multiplier, const float* bias, float* out) {
  const int32_t k = p->kernel_h * p->kernel_w * p->channels_in;
  int32_t lo = p->clamp_lo < -k ? -k : p->clamp_lo, hi = p->clamp_hi > k ? k : p->clamp_hi;
  float* m2 = malloc(sizeof(float) * (size_t)p->channels_out * 2);
  for (int o = 0; o < p->channels_out; ++o) {
    m2[2 * o] = (float)(-(double)multiplier[o]);
    m2[2 * o + 1] = (float)((double)bias[o] + (double)k * (double)multiplier[o]);
  }
  int32_t* acc = malloc(sizeof(int32_t) * (size_t)p->channels_out);
  for (int n = 0; n < p->batch; ++n)
    for (int oy = 0; oy < p->out_h; ++oy)
      for (int ox = 0; ox < p->out_w; ++ox) {
        float* y = out + (((size_t)n * p->out_h + oy) * p->out_w + ox) * p->channels_out;
        accumulate_all(p, in, filter, n, oy, ox, acc);
        for (int o = 0; o < p->channels_out; ++o) {
          int32_t two_acc = 2 * acc[o];
          if (two_acc < k - hi) two_acc = k - hi;
          if (two_acc > k - lo) two_acc = k - lo;
          y[o] = (float)two_acc * m2[2 * o] + m2[2 * o + 1];
        }
      }
  free(acc);
  free(m2);
}

void bgnn_bconv2d_bitpacked(const bgnn_bconv2d_params* p, const uint32_t* in, const uint32_t* filter,
                            const int32_t* thresholds, uint32_t* out) {
  const int out_words = bgnn_words(p->channels_out);
  int32_t* acc = malloc(sizeof(int32_t) * (size_t)p->channels_out);
  for (int n = 0; n < p->batch; ++n)
    for (int oy = 0; oy < p->out_h; ++oy)
      for (int ox = 0; ox < p->out_w; ++ox) {
        uint32_t* y = out + (((size_t)n * p->out_h + oy) * p->out_w + ox) * out_words;
        for (int w = 0; w < out_words; ++w) y[w] = 0;
        accumulate_all(p, in, filter, n, oy, ox, acc);
        for (int o = 0; o < p->channels_out; ++o)
          if (acc[o] > thresholds[o]) y[o / 32] |= 1u << (o % 32);
      }
  free(acc);
}

static void accumulate_all(const bgnn_bconv2d_params* p, const uint32_t* in, const uint32_t* filt, int n, int oy,
                           int ox, int32_t* acc) {
  const int words = bgnn_words(p->channels_in);
  if (is_pointwise(p)) {
    const uint32_t* x = in + (((size_t)n * p->in_h + oy) * p->in_w + ox) * words;
    if (words < BGNN_SHORT_ROW_WORDS) {
      for (int o = 0; o < p->channels_out; ++o) acc[o] = bgnn_xor_popcount_short(x, filt + (size_t)o * words, words);
    } else {
      for (int o = 0; o < p->channels_out; ++o) acc[o] = bgnn_xor_popcount(x, filt + (size_t)o * words, words);
    }
    return;
  }
  for (int o = 0; o < p->channels_out; ++o) acc[o] = accumulate(p, in, filt, n, oy, ox, o);
}
