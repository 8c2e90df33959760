/* The binary GEMM's entry points: pack with the variant dispatch chose, run the variant
 * that packed. Row loading is the same for every variant (bgemm.h). */
#include "bgemm.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>

#include "dispatch.h"

int bgnn_bgemm_pack(bgnn_bgemm_filters* f, const uint32_t* filter, int channels_out, int words32) {
  assert(channels_out >= 1 && words32 >= 1);
  const bgnn_kernels* k = bgnn_kernels_active();
  f->kernels = k;
  f->source = filter;
  return k->bgemm_pack(f, filter, channels_out, words32);
}

void bgnn_bgemm_free(bgnn_bgemm_filters* f) {
  free(f->packed);
  f->packed = NULL;
}

void bgnn_bgemm_load_rows(const bgnn_bgemm_filters* f, const uint32_t* x, int rows, int words32, uint64_t* xs) {
  assert(rows >= 0 && rows <= BGNN_BGEMM_ROWS && (words32 + 1) / 2 == f->words64);
  const int W = f->words64;
  if (words32 % 2 == 0) { /* rows are whole 64-bit words: one copy */
    memcpy(xs, x, sizeof(uint64_t) * (size_t)rows * W);
  } else {
    for (int r = 0; r < rows; ++r)
      for (int w = 0; w < W; ++w) xs[r * W + w] = bgnn_bgemm_word(x + (size_t)r * words32, w, words32);
  }
  if (rows < BGNN_BGEMM_ROWS) memset(xs + (size_t)rows * W, 0, sizeof(uint64_t) * (size_t)(BGNN_BGEMM_ROWS - rows) * W);
}

void bgnn_bgemm_block(const bgnn_bgemm_filters* f, const uint64_t* xs, int32_t* acc) {
  assert(f->packed && f->kernels);
  f->kernels->bgemm_block(f, xs, acc);
}

void bgnn_bgemm_filters_layout(size_t out[4]) {
  out[0] = sizeof(bgnn_bgemm_filters);
  out[1] = offsetof(bgnn_bgemm_filters, packed);
  out[2] = offsetof(bgnn_bgemm_filters, source);
  out[3] = offsetof(bgnn_bgemm_filters, kernels);
}
