#include "hamming_knn.h"

#include "xor_popcount.h"

void bgnn_hamming_knn(const uint32_t* x, int n, int words, int k, int32_t* out, int32_t* scratch) {
  int32_t* dist = scratch;
  int32_t* count = scratch + n;
  const int max_d = words * 32;
  for (int i = 0; i < n; ++i) {
    const uint32_t* xi = x + (size_t)i * words;
    for (int d = 0; d <= max_d; ++d) count[d] = 0;
    if (words < BGNN_SHORT_ROW_WORDS) {
      for (int j = 0; j < n; ++j) dist[j] = bgnn_xor_popcount_short(xi, x + (size_t)j * words, words);
    } else {
      for (int j = 0; j < n; ++j) dist[j] = bgnn_xor_popcount(xi, x + (size_t)j * words, words);
    }
    for (int j = 0; j < n; ++j) count[dist[j]]++;
    /* the distance where the k-th neighbour lies, and how many rows of it are taken */
    int cut = 0, below = 0;
    while (below + count[cut] < k) below += count[cut++];
    int take_at_cut = k - below;
    /* emit in ascending distance, index order within a distance: one pass over j,
     * each row into its distance's slot range (count[] becomes the next free slot) */
    int32_t* o = out + (size_t)i * k;
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
}
