/* The scalar variant of the edge extremes (edge_extremes.h), portable C: the reference the
 * other variants are tested against. The filters are XORed with x_i once per node into
 * scratch, word-major ([word64][filter]), so that each neighbour row streams through all
 * of them (as bgemm-reference.c's short rows do), keeping per-filter counts and extremes;
 * the rules then run in C (bgnn_edge_extremes_bits). */
#include <assert.h>

#include "edge_extremes.h"

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Word w of filter o in bgemm-reference.c's layouts: 1 word-major, 2 blocks of 8 lanes. */
static uint64_t filter_word(const bgnn_bgemm_filters* f, int o, int w) {
  if (f->layout == 1) return f->packed[(size_t)w * f->channels_out + o];
  return f->packed[((size_t)(o / 8) * f->words64 + w) * 8 + o % 8];
}

void bgnn_edge_extremes__scalar(const bgnn_bgemm_filters* e, const uint32_t* x, int words32, const uint32_t* xi,
                                const int32_t* nb, int k, const int32_t* r, const int16_t* cuts, uint32_t* out,
                                void* scratch) {
  assert(e->layout == 1 || e->layout == 2);
  const int n = e->channels_out, W = e->words64;
  unsigned char* p = scratch; /* as bgnn_edge_extremes_scratch counts it */
  int32_t* restrict mx = (int32_t*)p;
  p += align64(sizeof(int32_t) * (size_t)n);
  int32_t* restrict mn = (int32_t*)p;
  p += align64(sizeof(int32_t) * (size_t)n);
  uint64_t* restrict t = (uint64_t*)p; /* [W][n] filters ^ x_i, then [n] counts */
  uint32_t* restrict q = (uint32_t*)(t + (size_t)W * n);
  for (int w = 0; w < W; ++w) {
    const uint64_t xw = bgnn_bgemm_word(xi, w, words32);
    for (int o = 0; o < n; ++o) t[(size_t)w * n + o] = filter_word(e, o, w) ^ xw;
  }
  for (int j = 0; j < k; ++j) {
    const uint32_t* xj = x + (size_t)nb[j] * words32;
    for (int o = 0; o < n; ++o) q[o] = 0;
    for (int w = 0; w < W; ++w) {
      const uint64_t xw = bgnn_bgemm_word(xj, w, words32);
      const uint64_t* restrict tw = t + (size_t)w * n;
      for (int o = 0; o < n; ++o) q[o] += (uint32_t)__builtin_popcountll(tw[o] ^ xw);
    }
    for (int o = 0; o < n; ++o) {
      const int32_t a = (int32_t)q[o];
      mx[o] = j == 0 || a > mx[o] ? a : mx[o];
      mn[o] = j == 0 || a < mn[o] ? a : mn[o];
    }
  }
  bgnn_edge_extremes_bits(mx, mn, n, r, cuts, out);
}
