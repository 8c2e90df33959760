#include "hamming_knn.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "bgemm.h"
#include "parallel.h"

/* added to the previous row's k-th distance for the next row's guess (select_k): 0 measured
 * best on random rows (N = 256-1024: 7-16% faster than 1, 2 slower still; N = 4096 even) */
#define KNN_MARGIN 0

size_t bgnn_hamming_knn_scratch(int n, int words) {
  return (size_t)(BGNN_BGEMM_ROWS + 2) * n + (size_t)words * 32 + 1;
}

/* The counting selection over all n rows: count rows per distance (0..max_d), find the
 * distance `cut` at which k is reached, emit rows with d < cut and the first rows with
 * d == cut, each group in index order. Returns cut, the k-th neighbour's distance. */
static int select_all(const int32_t* dist, int n, int k, int max_d, int32_t* count, int32_t* o) {
  for (int d = 0; d <= max_d; ++d) count[d] = 0;
  for (int j = 0; j < n; ++j) count[dist[j]]++;
  int cut = 0, below = 0;
  while (below + count[cut] < k) below += count[cut++];
  int take_at_cut = k - below;
  /* one pass, each row into its distance's slot range (count[] becomes the next free slot) */
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
  return cut;
}

/* cand = the indices j < n with dist[j] <= t, ascending; returns how many (cand holds n). */
static int rows_within(const int32_t* dist, int n, int t, int32_t* cand) {
  int c = 0, j = 0;
#if defined(__x86_64__) && defined(__AVX2__) && defined(__BMI__) && defined(__POPCNT__)
  /* 64 distances -> one 64-bit mask (bit i: row j + i is within t), without branches:
   * compare, pack to bytes (the packs interleave 128-bit halves; VPERMD puts the 32-bit
   * groups back in order), VPMOVMSKB. Then the first 4 set bits are written whether or
   * not they exist (TZCNT of 0 is 64; the count advances by the true popcount), so the
   * common word with 0-4 rows in it takes no data-dependent branch. */
  const __m256i lim = _mm256_set1_epi32(t + 1), order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (; j + 64 <= n; j += 64) {
    const __m256i* d = (const __m256i*)(dist + j);
    __m256i q[8];
    for (int i = 0; i < 8; ++i) q[i] = _mm256_cmpgt_epi32(lim, _mm256_loadu_si256(d + i));
    const __m256i lo = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    const __m256i hi = _mm256_packs_epi16(_mm256_packs_epi32(q[4], q[5]), _mm256_packs_epi32(q[6], q[7]));
    uint64_t m = (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_permutevar8x32_epi32(lo, order)) |
                 (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_permutevar8x32_epi32(hi, order)) << 32;
    const int count = (int)_mm_popcnt_u64(m);
    int32_t* o = cand + c;
    for (int i = 0; i < 4; ++i, m = _blsr_u64(m)) o[i] = j + (int)_tzcnt_u64(m);
    for (int i = 4; i < count; ++i, m = _blsr_u64(m)) o[i] = j + (int)_tzcnt_u64(m);
    c += count;
  }
#elif defined(__aarch64__)
  /* groups of 16 whose minimum is above t (most of them) cost one comparison */
  for (; j + 16 <= n; j += 16) {
    const int32x4_t m = vminq_s32(vminq_s32(vld1q_s32(dist + j), vld1q_s32(dist + j + 4)),
                                  vminq_s32(vld1q_s32(dist + j + 8), vld1q_s32(dist + j + 12)));
    if (vminvq_s32(m) > t) continue;
    for (int i = j; i < j + 16; ++i) {
      cand[c] = i;
      c += dist[i] <= t;
    }
  }
#endif
  for (; j < n; ++j) {
    cand[c] = j;
    c += dist[j] <= t;
  }
  return c;
}

/* The k nearest among c >= k candidates (ascending indices, every other row farther than
 * t): a stable counting sort of the candidates by distance (sorted holds c), whose first
 * k are the answer; no branch depends on the data. Returns the k-th one's distance. */
static int select_candidates(const int32_t* dist, const int32_t* cand, int c, int k, int t, int32_t* count,
                             int32_t* sorted, int32_t* o) {
  for (int d = 0; d <= t; ++d) count[d] = 0;
  for (int i = 0; i < c; ++i) count[dist[cand[i]]]++;
  for (int d = 0, start = 0; d <= t; ++d) {
    const int n_d = count[d];
    count[d] = start;
    start += n_d;
  }
  for (int i = 0; i < c; ++i) sorted[count[dist[cand[i]]]++] = cand[i];
  memcpy(o, sorted, sizeof(int32_t) * (size_t)k);
  return dist[o[k - 1]];
}

/* Row i's k nearest from its n distances; returns the k-th neighbour's distance. `guess`
 * is where that distance probably lies (the previous row's, plus a margin; -1: no guess).
 * Only the rows within the guess are sorted, in index order, so ties stay exact; fewer
 * than k of them means the guess was low, and it is raised until k are in. */
static int select_k(const int32_t* dist, int n, int k, int max_d, int guess, int32_t* count, int32_t* cand,
                    int32_t* sorted, int32_t* o) {
  if (guess < 0 || guess >= max_d) return select_all(dist, n, k, max_d, count, o);
  int t = guess, c;
  for (int step = 1; (c = rows_within(dist, n, t, cand)) < k; step *= 2) t = t + step < max_d ? t + step : max_d;
  return select_candidates(dist, cand, c, k, t, count, sorted, o);
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
  int32_t* cand = scratch + (size_t)BGNN_BGEMM_ROWS * n; /* n */
  int32_t* sorted = cand + n;                            /* n */
  int32_t* count = sorted + n;                           /* words * 32 + 1 */
  int guess = -1; /* none before the range's first row */
  for (int b = b0; b < b1; ++b) {
    const int i0 = b * BGNN_BGEMM_ROWS, rows = n - i0 < BGNN_BGEMM_ROWS ? n - i0 : BGNN_BGEMM_ROWS;
    bgnn_bgemm_load_rows(j->f, j->x + (size_t)i0 * words, rows, words, xs);
    bgnn_bgemm_block(j->f, xs, dist);
    for (int r = 0; r < rows; ++r)
      guess = KNN_MARGIN + select_k(dist + (size_t)r * n, n, k, words * 32, guess, count, cand, sorted,
                                    j->out + (size_t)(i0 + r) * k);
  }
}

/* Rows are split over bgnn_parallel_for in blocks of BGNN_BGEMM_ROWS; worker 0 uses the
 * caller's scratch, the others get theirs here, with each call (bgnn_hamming_knn_scratch
 * int32 per worker). Each row's answer depends only on the rows (a guess changes how many
 * rows are looked at, never which are chosen), so results do not depend on the thread
 * count. */
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
