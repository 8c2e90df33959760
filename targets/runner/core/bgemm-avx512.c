/* The AVX-512 VPOPCNTDQ variant of the binary GEMM (bgemm.h), compiled with
 * target("avx512f,avx512vpopcntdq") so that it builds into any x86_64 runner; dispatch
 * runs it only where cpuid and xgetbv say AVX-512F, VPOPCNTDQ and the ZMM state work.
 * UNTESTED ON HARDWARE: the machines this was written on have no AVX-512; the tests
 * check that it compiles (to VPOPCNTQ) and that dispatch does not pick it there.
 *
 * Tile: 4 rows x 8 filters, filters word-major per tile ([tile][word64][8], natural order),
 * so one 512-bit load is one word of eight filters. Per word and row: broadcast the row's
 * word, VPXORQ, VPOPCNTQ, VPADDQ into 64-bit counts (no overflow, no segments); VPMOVQD
 * narrows them to eight int32 with a masked store, which also covers a partial last tile.
 */
#if defined(__x86_64__)
#include <assert.h>
#include <immintrin.h>
#include <stdlib.h>

#include "bgemm.h"

#define TILE 8
#define TARGET __attribute__((target("avx512f,avx512vpopcntdq")))
enum { LAYOUT_AVX512 = 4 };

int bgnn_bgemm_pack__avx512(bgnn_bgemm_filters* f, const uint32_t* filter, int channels_out, int words32) {
  const int W = (words32 + 1) / 2;
  f->channels_out = channels_out;
  f->words64 = W;
  f->layout = LAYOUT_AVX512;
  f->tiles = (channels_out + TILE - 1) / TILE;
  f->packed = calloc((size_t)f->tiles * W * TILE, sizeof(uint64_t));
  if (!f->packed) return 0;
  for (int o = 0; o < channels_out; ++o)
    for (int w = 0; w < W; ++w)
      f->packed[((size_t)(o / TILE) * W + w) * TILE + o % TILE] = bgnn_bgemm_word(filter + (size_t)o * words32, w, words32);
  return 1;
}

TARGET void bgnn_bgemm_block__avx512(const bgnn_bgemm_filters* f, const uint64_t* xs, int32_t* acc) {
  assert(f->layout == LAYOUT_AVX512);
  const int n = f->channels_out, W = f->words64;
  for (int t = 0; t < f->tiles; ++t) {
    const uint64_t* F = f->packed + (size_t)t * W * TILE;
    __m512i a[BGNN_BGEMM_ROWS];
    for (int r = 0; r < BGNN_BGEMM_ROWS; ++r) a[r] = _mm512_setzero_si512();
    for (int w = 0; w < W; ++w) {
      const __m512i fw = _mm512_loadu_si512(F + (size_t)w * TILE);
      for (int r = 0; r < BGNN_BGEMM_ROWS; ++r) {
        const __m512i x = _mm512_set1_epi64((long long)xs[(size_t)r * W + w]);
        a[r] = _mm512_add_epi64(a[r], _mm512_popcnt_epi64(_mm512_xor_si512(x, fw)));
      }
    }
    const int cols = n - t * TILE < TILE ? n - t * TILE : TILE;
    const __mmask8 keep = (__mmask8)((1u << cols) - 1u);
    for (int r = 0; r < BGNN_BGEMM_ROWS; ++r) _mm512_mask_cvtepi64_storeu_epi32(acc + (size_t)r * n + t * TILE, keep, a[r]);
  }
}
#endif
