/* Binary max-pool on bit-packed NHWC (LceBMaxPool2d): a -1 bit survives only if every
 * in-window value is -1, so the output word is the AND of the in-bounds input words
 * (out-of-bounds taps are skipped, not padded). */
#ifndef BGNN_CORE_BMAXPOOL_H
#define BGNN_CORE_BMAXPOOL_H
#include "types.h"

typedef struct {
  int batch, in_h, in_w, words, out_h, out_w;
  int filter_h, filter_w, stride_h, stride_w, pad_top, pad_left;
} bgnn_bmaxpool_params;

void bgnn_bmaxpool(const bgnn_bmaxpool_params* p, const uint32_t* in, uint32_t* out);

#endif
