/* The edge extremes' entry point (the variant that packed the filters runs), the rules on
 * extremes in C, and the bgemm path that the x86 variants and NEON's long rows use
 * (edge_extremes.h). */
#include "edge_extremes.h"

#include <assert.h>
#include <stdlib.h>

#include "dispatch.h"

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

size_t bgnn_edge_extremes_scratch(int k, int words32, int channels_out) {
  const size_t w64 = (size_t)(words32 + 1) / 2, n = (size_t)channels_out;
  const size_t extremes = 2 * align64(sizeof(int32_t) * n);
  const size_t bgemm = align64(sizeof(uint32_t) * (size_t)k * words32) +
                       align64(sizeof(uint64_t) * BGNN_BGEMM_ROWS * w64) + align64(sizeof(int32_t) * BGNN_BGEMM_ROWS * n);
  const size_t scalar = align64(sizeof(uint64_t) * w64 * n + sizeof(uint32_t) * n); /* edge_extremes-reference.c */
  return extremes + (bgemm > scalar ? bgemm : scalar);
}

void bgnn_edge_extremes_pad_cuts(int16_t* cuts, int channels_out) {
  const int width = bgnn_edge_extremes_width(channels_out);
  for (int c = channels_out; c < width; ++c) {
    cuts[c] = INT16_MAX; /* never r - qmax >= a: bit 0 */
    cuts[width + c] = INT16_MIN;
    cuts[2 * width + c] = 0;
  }
}

void bgnn_edge_extremes(const bgnn_bgemm_filters* e, const uint32_t* x, int words32, const uint32_t* xi,
                        const int32_t* nb, int k, const int32_t* r, const int16_t* cuts, uint32_t* out,
                        void* scratch) {
  assert(e->packed && e->kernels && k >= 1 && words32 >= 1 && 32 * (words32 - 1) < BGNN_EDGE_EXTREMES_MAX_K);
  e->kernels->edge_extremes(e, x, words32, xi, nb, k, r, cuts, out, scratch);
}

void bgnn_edge_extremes_bits(const int32_t* restrict qmax, const int32_t* restrict qmin, int n,
                             const int32_t* restrict r, const int16_t* restrict cuts, uint32_t* restrict out) {
  const int width = bgnn_edge_extremes_width(n);
  const int16_t *restrict a = cuts, *restrict b = cuts + width, *restrict flip = cuts + 2 * (size_t)width;
  for (int w = 0; w * 32 < n; ++w) {
    const int c0 = w * 32, m = n - c0 < 32 ? n - c0 : 32;
    uint32_t bits = 0;
    for (int t = 0; t < m; ++t) {
      const int c = c0 + t;
      const int32_t bit = ((r[c] - qmax[c] >= a[c]) & (r[c] - qmin[c] <= b[c])) ^ (flip[c] & 1);
      bits |= (uint32_t)bit << t;
    }
    out[w] = bits;
  }
}

/* The rows x_j ^ x_i into scratch, counted BGNN_BGEMM_ROWS at a time against every filter
 * by the packing variant's bgemm block, each block folded into the running max and min. */
void bgnn_edge_extremes_via_bgemm(const bgnn_bgemm_filters* e, const uint32_t* x, int words32, const uint32_t* xi,
                                  const int32_t* nb, int k, const int32_t* r, const int16_t* cuts, uint32_t* out,
                                  void* scratch) {
  const int n = e->channels_out;
  unsigned char* p = scratch;
  int32_t* restrict mx = (int32_t*)p; /* int32: narrower extremes cost x86 ~25% here */
  p += align64(sizeof(int32_t) * (size_t)n);
  int32_t* restrict mn = (int32_t*)p;
  p += align64(sizeof(int32_t) * (size_t)n);
  uint32_t* rows = (uint32_t*)p;
  p += align64(sizeof(uint32_t) * (size_t)k * words32);
  uint64_t* xs = (uint64_t*)p;
  p += align64(sizeof(uint64_t) * BGNN_BGEMM_ROWS * (size_t)e->words64);
  int32_t* acc = (int32_t*)p;
  for (int j = 0; j < k; ++j) {
    const uint32_t* xj = x + (size_t)nb[j] * words32;
    uint32_t* d = rows + (size_t)j * words32;
    for (int w = 0; w < words32; ++w) d[w] = xj[w] ^ xi[w];
  }
  for (int j0 = 0; j0 < k; j0 += BGNN_BGEMM_ROWS) {
    const int edges = k - j0 < BGNN_BGEMM_ROWS ? k - j0 : BGNN_BGEMM_ROWS;
    bgnn_bgemm_load_rows(e, rows + (size_t)j0 * words32, edges, words32, xs);
    e->kernels->bgemm_block(e, xs, acc);
    for (int t = 0; t < edges; ++t) {
      const int32_t* restrict q = acc + (size_t)t * n;
      if (j0 + t == 0) {
        for (int c = 0; c < n; ++c) mx[c] = mn[c] = q[c];
      } else {
        for (int c = 0; c < n; ++c) {
          const int32_t a = q[c], h = mx[c], l = mn[c];
          mx[c] = a > h ? a : h;
          mn[c] = a < l ? a : l;
        }
      }
    }
  }
  bgnn_edge_extremes_bits(mx, mn, n, r, cuts, out);
}

#if defined(__x86_64__)
/* x86: the bgemm path with the variant's own bgemm kernels (no direct kernel written yet). */
void bgnn_edge_extremes__avx2(const bgnn_bgemm_filters* e, const uint32_t* x, int words32, const uint32_t* xi,
                              const int32_t* nb, int k, const int32_t* r, const int16_t* cuts, uint32_t* out,
                              void* scratch) {
  bgnn_edge_extremes_via_bgemm(e, x, words32, xi, nb, k, r, cuts, out, scratch);
}

void bgnn_edge_extremes__avx512(const bgnn_bgemm_filters* e, const uint32_t* x, int words32, const uint32_t* xi,
                                const int32_t* nb, int k, const int32_t* r, const int16_t* cuts, uint32_t* out,
                                void* scratch) {
  bgnn_edge_extremes_via_bgemm(e, x, words32, xi, nb, k, r, cuts, out, scratch);
}
#endif
