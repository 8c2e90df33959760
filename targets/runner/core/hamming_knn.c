#include "hamming_knn.h"

#include <stdlib.h>

#include "bgemm.h"

size_t bgnn_hamming_knn_scratch(int n, int words) {
  return (size_t)BGNN_BGEMM_ROWS * n + (size_t)words * 32 + 1;
}

/* Row i's k nearest from its n distances: the counting selection of hamming_knn.h. */
static void select_k(const int32_t* dist, int n, int k, int max_d, int32_t* count, int32_t* o) {
  for (int d = 0; d <= max_d; ++d) count[d] = 0;
  for (int j = 0; j < n; ++j) count[dist[j]]++;
  /* the distance where the k-th neighbour lies, and how many rows of it are taken */
  int cut = 0, below = 0;
  while (below + count[cut] < k) below += count[cut++];
  int take_at_cut = k - below;
  /* emit in ascending distance, index order within a distance: one pass over j,
   * each row into its distance's slot range (count[] becomes the next free slot) */
  for (int d = 0, start = 0; d < cut; ++d) {
    const int c = count[d];
    count[d] = start;
    start += c;
  }
  for (int j = 0; j < n; ++j) {
    const int d = dist[j];
    if (d < cut) {
      o[count[d]++] = j;
    } else if (d == cut && take_at_cut > 0) {
      o[k - take_at_cut--] = j;
    }
  }
}

int bgnn_hamming_knn(const uint32_t* x, int n, int words, int k, int32_t* out, int32_t* scratch) {
  /* all pairwise distances come from the binary GEMM, the rows doubling as its filters */
  bgnn_bgemm_filters f = {0};
  if (!bgnn_bgemm_pack(&f, x, n, words)) return 0;
  uint64_t* xs = malloc(sizeof(uint64_t) * BGNN_BGEMM_ROWS * (size_t)f.words64);
  if (!xs) {
    bgnn_bgemm_free(&f);
    return 0;
  }
  int32_t* dist = scratch; /* BGNN_BGEMM_ROWS x n */
  int32_t* count = scratch + (size_t)BGNN_BGEMM_ROWS * n;
  for (int i0 = 0; i0 < n; i0 += BGNN_BGEMM_ROWS) {
    const int rows = n - i0 < BGNN_BGEMM_ROWS ? n - i0 : BGNN_BGEMM_ROWS;
    bgnn_bgemm_load_rows(&f, x + (size_t)i0 * words, rows, words, xs);
    bgnn_bgemm_block(&f, xs, dist);
    for (int r = 0; r < rows; ++r) select_k(dist + (size_t)r * n, n, k, words * 32, count, out + (size_t)(i0 + r) * k);
  }
  free(xs);
  bgnn_bgemm_free(&f);
  return 1;
}
