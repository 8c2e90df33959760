/* Binary 2-D convolution on bit-packed NHWC tensors (LceBconv2d's math, LCE_OPS.md §5).
 *
 * For output (n, oy, ox, o), over in-bounds taps (ky, kx):
 *   acc = sum popcount(in[n, iy, ix, :] XOR filter[o, ky, kx, :])
 *   iy = oy*stride_h - pad_top + ky*dil_h,  ix = ox*stride_w - pad_left + kx*dil_w.
 * With K = KH*KW*Cin the +-1 dot product is K - 2*acc. Out-of-bounds taps (SAME
 * padding) read an all-+1 input word when pad_value is 1, and contribute 0 to the dot
 * product when pad_value is 0 (zero padding), which we count as Cin/2 mismatches as
 * LCE's reference kernel does (so Cin must be even).
 *
 * Float output (LCE's exact arithmetic): precompute m' = -mul, b' = bias + K*mul in
 * double, clamp 2*acc to [K - hi, K - lo] (the activation range of the dot product,
 * intersected with [-K, K]), then y = (float)(2*acc) * m' + b' in float.
 * Bit-packed output: bit o = (acc > threshold[o]), unused high bits 0.
 */
#ifndef BGNN_CORE_BCONV2D_H
#define BGNN_CORE_BCONV2D_H
#include "bgemm.h"
#include "types.h"

typedef struct {
  int batch, in_h, in_w, channels_in;      /* input: [batch, in_h, in_w, words(channels_in)] */
  int out_h, out_w, channels_out;          /* output spatial size and Cout */
  int kernel_h, kernel_w;                  /* filter: [Cout, KH, KW, words(channels_in)] */
  int stride_h, stride_w, dilation_h, dilation_w;
  int pad_top, pad_left;                   /* from TFLite's padding rule */
  int pad_value;                           /* 0: zero padding, 1: pad with +1 */
  int32_t clamp_lo, clamp_hi;              /* activation range of the dot product */
} bgnn_bconv2d_params;

/* Fills out_h/out_w and pad_top/pad_left for SAME (same=1) or VALID padding. */
void bgnn_conv_output_size(bgnn_bconv2d_params* p, int same);

/* Pointwise convolutions run as a blocked binary GEMM (bgemm.h) on repacked filters:
 * `cache` (zero-initialised, owned by the caller, freed with bgnn_bgemm_free) keeps the
 * repacked filters between calls; NULL repacks on every call. Both return 0 when
 * scratch memory could not be allocated, else 1. */
int bgnn_bconv2d_float(const bgnn_bconv2d_params* p, const uint32_t* in, const uint32_t* filter,
                       const float* multiplier, const float* bias, float* out, bgnn_bgemm_filters* cache);
int bgnn_bconv2d_bitpacked(const bgnn_bconv2d_params* p, const uint32_t* in, const uint32_t* filter,
                           const int32_t* thresholds, uint32_t* out, bgnn_bgemm_filters* cache);

#endif
