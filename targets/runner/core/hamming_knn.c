#include "hamming_knn.h"

#include <stdlib.h>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "bgemm.h"
#include "parallel.h"

#define KNN_BLOCK 16

size_t bgnn_hamming_knn_scratch(int n, int words) {
  return (size_t)(BGNN_BGEMM_ROWS + 1) * n + (size_t)n / KNN_BLOCK + 1 + (size_t)words * 32 + 1;
}

/* The counting selection of hamming_knn.h over rows idx[0..n) (all rows when idx is NULL,
 * else in ascending index order) whose distances are at most max_d. */
static void select_from(const int32_t* dist, const int32_t* idx, int n, int k, int max_d, int32_t* count,
                        int32_t* o) {
  for (int d = 0; d <= max_d; ++d) count[d] = 0;
  for (int i = 0; i < n; ++i) count[dist[idx ? idx[i] : i]]++;
  /* the distance where the k-th neighbour lies, and how many rows of it are taken */
  int cut = 0, below = 0;
  while (below + count[cut] < k) below += count[cut++];
  int take_at_cut = k - below;
  /* emit in ascending distance, index order within a distance: one pass, each row into
   * its distance's slot range (count[] becomes the next free slot) */
  for (int d = 0, start = 0; d < cut; ++d) {
    const int c = count[d];
    count[d] = start;
    start += c;
  }
  for (int i = 0; i < n; ++i) {
    const int j = idx ? idx[i] : i, d = dist[j];
    if (d < cut) {
      o[count[d]++] = j;
    } else if (d == cut && take_at_cut > 0) {
      o[k - take_at_cut--] = j;
    }
  }
}

/* The minimum of KNN_BLOCK (16) distances. */
static inline int32_t block_min(const int32_t* d) {
#if defined(__x86_64__) && defined(__AVX2__)
  __m256i m = _mm256_min_epi32(_mm256_loadu_si256((const __m256i*)d), _mm256_loadu_si256((const __m256i*)(d + 8)));
  __m128i h = _mm_min_epi32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
  h = _mm_min_epi32(h, _mm_shuffle_epi32(h, 0x4e));
  h = _mm_min_epi32(h, _mm_shuffle_epi32(h, 0xb1));
  return _mm_cvtsi128_si32(h);
#elif defined(__aarch64__)
  const int32x4_t a = vminq_s32(vld1q_s32(d), vld1q_s32(d + 4)), b = vminq_s32(vld1q_s32(d + 8), vld1q_s32(d + 12));
  return vminvq_s32(vminq_s32(a, b));
#else
  int32_t m = d[0];
  for (int l = 1; l < KNN_BLOCK; ++l) m = d[l] < m ? d[l] : m;
  return m;
#endif
}

/* Row i's k nearest from its n distances. For long rows, the k-th smallest of the minima
 * of blocks of KNN_BLOCK rows bounds the answer from above (those k minima are k rows
 * within the bound); only blocks whose minimum is within it are searched, and only rows
 * within it go through the counting selection, in index order, so ties stay exact. */
static void select_k(const int32_t* dist, int n, int k, int max_d, int32_t* count, int32_t* cand, int32_t* mins,
                     int32_t* o) {
  const int blocks = n / KNN_BLOCK;
  if (blocks < 2 * k) {
    select_from(dist, NULL, n, k, max_d, count, o);
    return;
  }
  for (int b = 0; b < blocks; ++b) mins[b] = block_min(dist + (size_t)b * KNN_BLOCK);
  for (int d = 0; d <= max_d; ++d) count[d] = 0;
  for (int b = 0; b < blocks; ++b) count[mins[b]]++;
  int bound = 0, below = 0;
  while (below + count[bound] < k) below += count[bound++];
  int c = 0;
  for (int b = 0; b < blocks; ++b) {
    if (mins[b] > bound) continue;
    for (int j = b * KNN_BLOCK; j < (b + 1) * KNN_BLOCK; ++j) { /* branch-free: most rows of a block fail */
      cand[c] = j;
      c += dist[j] <= bound;
    }
  }
  for (int j = blocks * KNN_BLOCK; j < n; ++j) {
    cand[c] = j;
    c += dist[j] <= bound;
  }
  select_from(dist, cand, c, k, bound, count, o);
}

typedef struct {
  const uint32_t* x;
  int n, words, k;
  int32_t* out;
  const bgnn_bgemm_filters* f;
  int32_t* scratch0;    /* worker 0: the caller's scratch */
  int32_t* scratch1;    /* workers 1..: ints each */
  unsigned char* xs;    /* every worker's bgemm input block: xs_bytes each */
  size_t xs_bytes, ints;
} knn_job;

/* Rows [b0 * ROWS, b1 * ROWS) (the last block may be short), with worker's own scratch. */
static void knn_blocks(void* arg, int b0, int b1, int worker) {
  const knn_job* j = arg;
  const int n = j->n, words = j->words, k = j->k;
  uint64_t* xs = (uint64_t*)(j->xs + (size_t)worker * j->xs_bytes);
  int32_t* scratch = worker == 0 ? j->scratch0 : j->scratch1 + (size_t)(worker - 1) * j->ints;
  int32_t* dist = scratch; /* BGNN_BGEMM_ROWS x n */
  int32_t* cand = scratch + (size_t)BGNN_BGEMM_ROWS * n;
  int32_t* mins = cand + n; /* n / KNN_BLOCK + 1 */
  int32_t* count = mins + n / KNN_BLOCK + 1;
  for (int b = b0; b < b1; ++b) {
    const int i0 = b * BGNN_BGEMM_ROWS, rows = n - i0 < BGNN_BGEMM_ROWS ? n - i0 : BGNN_BGEMM_ROWS;
    bgnn_bgemm_load_rows(j->f, j->x + (size_t)i0 * words, rows, words, xs);
    bgnn_bgemm_block(j->f, xs, dist);
    for (int r = 0; r < rows; ++r)
      select_k(dist + (size_t)r * n, n, k, words * 32, count, cand, mins, j->out + (size_t)(i0 + r) * k);
  }
}

/* Rows are split over bgnn_parallel_for in blocks of BGNN_BGEMM_ROWS; worker 0 uses the
 * caller's scratch, the others get theirs here, with each call (a few KB per worker). Each
 * row's answer depends only on the rows, so results do not depend on the thread count. */
int bgnn_hamming_knn(const uint32_t* x, int n, int words, int k, int32_t* out, int32_t* scratch) {
  /* all pairwise distances come from the binary GEMM, the rows doubling as its filters */
  bgnn_bgemm_filters f = {0};
  if (!bgnn_bgemm_pack(&f, x, n, words)) return 0;
  const int workers = bgnn_parallel_threads();
  const size_t xs_bytes = (sizeof(uint64_t) * BGNN_BGEMM_ROWS * (size_t)f.words64 + 63) & ~(size_t)63;
  const size_t ints = bgnn_hamming_knn_scratch(n, words);
  unsigned char* extra = malloc(xs_bytes * (size_t)workers + sizeof(int32_t) * ints * (size_t)(workers - 1));
  if (!extra) {
    bgnn_bgemm_free(&f);
    return 0;
  }
  knn_job j = {x, n, words, k, out, &f, scratch, (int32_t*)(extra + xs_bytes * (size_t)workers), extra, xs_bytes, ints};
  /* one block of rows costs about ROWS x n x (words64 + 1) operations; a range should
   * have a few microseconds of them */
  const long block_work = (long)BGNN_BGEMM_ROWS * n * (f.words64 + 1);
  const int blocks = (n + BGNN_BGEMM_ROWS - 1) / BGNN_BGEMM_ROWS;
  bgnn_parallel_for(blocks, block_work >= 8192 ? 1 : (int)(8192 / block_work), knn_blocks, &j);
  free(extra);
  bgnn_bgemm_free(&f);
  return 1;
}
