#include "l2_knn.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "parallel.h"

#pragma STDC FP_CONTRACT OFF

#define KNN_BLOCK 16 /* rows per block of the bound */

/* minima[b] = min of d[b * KNN_BLOCK .. (b + 1) * KNN_BLOCK) (NaN never wins). */
static void block_minima(const float* d, int blocks, float* minima) {
  for (int b = 0; b < blocks; ++b) {
    const float* r = d + (size_t)b * KNN_BLOCK;
#if defined(__AVX__)
    __m256 m = _mm256_min_ps(_mm256_loadu_ps(r), _mm256_loadu_ps(r + 8));
    __m128 h = _mm_min_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_min_ps(h, _mm_movehl_ps(h, h));
    h = _mm_min_ss(h, _mm_shuffle_ps(h, h, 1));
    minima[b] = _mm_cvtss_f32(h);
#elif defined(__aarch64__)
    const float32x4_t m = vminq_f32(vminq_f32(vld1q_f32(r), vld1q_f32(r + 4)), vminq_f32(vld1q_f32(r + 8), vld1q_f32(r + 12)));
    minima[b] = vminvq_f32(m);
#else
    float m = r[0];
    for (int t = 1; t < KNN_BLOCK; ++t) m = r[t] < m ? r[t] : m;
    minima[b] = m;
#endif
  }
}

/* The k-th smallest (1-based) of a[0..n), reordering a (Hoare's selection). */
static float kth_smallest(float* a, int n, int k) {
  int lo = 0, hi = n - 1;
  const int want = k - 1;
  while (lo < hi) {
    const float pivot = a[lo + (hi - lo) / 2];
    int i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) ++i;
      while (a[j] > pivot) --j;
      if (i <= j) {
        const float t = a[i];
        a[i++] = a[j];
        a[j--] = t;
      }
    }
    if (want <= j) hi = j;
    else if (want >= i) lo = i;
    else break;
  }
  return a[want];
}

/* scratch: |x_j|^2 [n], x transposed [channels][n], then per worker: distances [n], block
 * minima and a copy of them [n / KNN_BLOCK + 1 each], the k best distances and their
 * indices [k] each */
static size_t per_worker(int n, int k) { return (size_t)n + 2 * ((size_t)n / KNN_BLOCK + 1) + 2 * (size_t)k; }

size_t bgnn_l2_knn_scratch(int n, int channels, int k, int workers) {
  return (size_t)n * (1 + (size_t)channels) + (size_t)workers * per_worker(n, k);
}

typedef struct {
  const float* x;
  int n, channels, k;
  int32_t* out;
  float *sq, *xt, *work;
} ctx_t;

static void squares(void* arg, int begin, int end, int worker) {
  (void)worker;
  const ctx_t* c = arg;
  for (int j = begin; j < end; ++j) {
    const float* xj = c->x + (size_t)j * c->channels;
    float s = 0.0f;
    for (int t = 0; t < c->channels; ++t) {
      s += xj[t] * xj[t];
      c->xt[(size_t)t * c->n + j] = xj[t];
    }
    c->sq[j] = s;
  }
}

static void rows(void* arg, int begin, int end, int worker) {
  const ctx_t* c = arg;
  const int k = c->k, ch = c->channels, n = c->n;
  float* restrict dist = c->work + (size_t)worker * per_worker(n, k);
  float* restrict minima = dist + n;
  float* restrict select = minima + n / KNN_BLOCK + 1;
  float* best = select + n / KNN_BLOCK + 1;
  int32_t* who = (int32_t*)(best + k);
  for (int i = begin; i < end; ++i) {
    const float* xi = c->x + (size_t)i * ch;
    /* the dot products, channel by channel over all j: the same left-to-right sums */
    const float* restrict x0 = c->xt;
    for (int j = 0; j < n; ++j) dist[j] = 0.0f + xi[0] * x0[j];
    for (int t = 1; t < ch; ++t) {
      const float* restrict xt = c->xt + (size_t)t * n;
      const float xit = xi[t];
      for (int j = 0; j < n; ++j) dist[j] += xit * xt[j];
    }
    const float sqi = c->sq[i];
    const float* restrict sq = c->sq;
    for (int j = 0; j < n; ++j) dist[j] = (sqi - 2.0f * dist[j]) + sq[j];
    /* An upper bound on the k-th distance first: the k-th smallest of the minima of
     * blocks of KNN_BLOCK rows (those k minima are k rows within it). Then only blocks
     * whose minimum is within the bound (and beats the k-th found so far) are searched,
     * their rows inserted in index order into the sorted k best, where a later j never
     * displaces an equal distance: the tie rule. */
    const int blocks = n / KNN_BLOCK;
    float bound = INFINITY;
    if (blocks >= 2 * k) {
      block_minima(dist, blocks, minima);
      for (int b = 0; b < blocks; ++b) select[b] = minima[b];
      bound = kth_smallest(select, blocks, k);
    }
    int have = 0;
    for (int b = 0; b * KNN_BLOCK < n; ++b) {
      const int j0 = b * KNN_BLOCK, j1 = j0 + KNN_BLOCK < n ? j0 + KNN_BLOCK : n;
      if (b < blocks && (!(minima[b] <= bound) || (have == k && !(minima[b] < best[k - 1])))) continue;
      for (int j = j0; j < j1; ++j) {
        const float d = dist[j];
        if (!(d <= bound) || (have == k && !(d < best[k - 1]))) continue;
        int p = have < k ? have++ : k - 1;
        while (p > 0 && d < best[p - 1]) {
          best[p] = best[p - 1];
          who[p] = who[p - 1];
          --p;
        }
        best[p] = d;
        who[p] = j;
      }
    }
    for (int t = 0; t < k; ++t) c->out[(size_t)i * k + t] = who[t];
  }
}

void bgnn_l2_knn(const float* x, int n, int channels, int k, int32_t* out, float* scratch) {
  ctx_t c = {x, n, channels, k, out, scratch, scratch + n, scratch + (size_t)n * (1 + (size_t)channels)};
  bgnn_parallel_for(n, 64, squares, &c);
  bgnn_parallel_for(n, 8, rows, &c);
}
