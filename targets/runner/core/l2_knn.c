#include "l2_knn.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

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

/* scratch of the all-pairs path: |x_j|^2 [n], x transposed [channels][n], then per
 * worker: distances [n], block minima and a copy of them [n / KNN_BLOCK + 1 each], the k
 * best distances and their indices [k] each */
static size_t per_worker(int n, int k) { return (size_t)n + 2 * ((size_t)n / KNN_BLOCK + 1) + 2 * (size_t)k; }
static size_t all_pairs_scratch(int n, int channels, int k, int workers) {
  return (size_t)n * (1 + (size_t)channels) + (size_t)workers * per_worker(n, k);
}
/* scratch of the grid path (3 channels): the points sorted by cell, x, y, z, |x|^2 and
 * their indices [n + GRID_PAD each], each point's cell [n], the cells' starts
 * [max cells + 1], then per worker (from an even offset, for 8-byte keys) the kept
 * candidates' keys [2 (n + GRID_PAD)], the best keys [2 (4 k + GRID_PAD)] (the k best,
 * with room for the ranks of up to 4 k kept ones), the candidates' distances and indices,
 * the same for those kept, and a cell's ring-1 points x, y, z, |x|^2 and indices
 * [n + GRID_PAD each] */
#define GRID_PAD 8
static size_t max_cells(int n) { return 2 * (size_t)n + 8; }
static size_t grid_common(int n) { return (5 * ((size_t)n + GRID_PAD) + (size_t)n + max_cells(n) + 2) & ~(size_t)1; }
static size_t grid_worker(int n, int k) { /* even: every worker's keys 8-byte aligned */
  return ((11 * ((size_t)n + GRID_PAD) + 1) & ~(size_t)1) + 2 * (4 * (size_t)k + GRID_PAD);
}
static size_t grid_scratch(int n, int k, int workers) { return grid_common(n) + (size_t)workers * grid_worker(n, k); }

size_t bgnn_l2_knn_scratch(int n, int channels, int k, int workers) {
  const size_t a = all_pairs_scratch(n, channels, k, workers), g = grid_scratch(n, k, workers);
  return a > g ? a : g;
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
    const int blocks = n / KNN_BLOCK, bounded = blocks >= 2 * k; /* else no minima: every block searched */
    float bound = INFINITY;
    if (bounded) {
      block_minima(dist, blocks, minima);
      for (int b = 0; b < blocks; ++b) select[b] = minima[b];
      bound = kth_smallest(select, blocks, k);
    }
    int have = 0;
    for (int b = 0; b * KNN_BLOCK < n; ++b) {
      const int j0 = b * KNN_BLOCK, j1 = j0 + KNN_BLOCK < n ? j0 + KNN_BLOCK : n;
      if (bounded && b < blocks && (!(minima[b] <= bound) || (have == k && !(minima[b] < best[k - 1])))) continue;
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

/* ---- 3 channels: a grid of cells ------------------------------------------------------------
 *
 * The points are sorted into a grid of cells (about k / 3 points each when spread
 * evenly); row i visits the cells around its own in rings of growing Chebyshev radius,
 * computing d_ij exactly as above for every point of a visited cell and keeping the k
 * smallest (d, j) pairs (d first, then the lower j: the tie rule). It stops after a ring
 * when every point not yet visited lies farther than delta from x_i (delta: the gap to
 * the faces of the visited block, in double, less a margin for the rounding of the cell
 * computation) and delta^2 - err exceeds the k-th distance found, where err bounds
 * |d_ij - |x_i - x_j|^2| for the float32 formula: each of the three sums of 3 products is
 * within 3u (u = 2^-24) of its value relative to sum |terms| <= |x_i|^2 + |x_j|^2, and two
 * more roundings add 4u of the same, so (2 * 3 + 4) u (|x_i|^2 + |x_j|^2) (err uses 16u
 * and the largest |x_j|^2, plus an absolute term for underflow). Such a point's d_ij is
 * then larger than the k-th, so it could not enter: the result is the all-pairs one.
 * Used when every coordinate is finite and at most 1e15 in magnitude (no overflow), else
 * the all-pairs path runs. The work is split over cells: the 27 cells of ring 1 are
 * gathered once for all the rows of a cell, and the few rows they do not settle search
 * again ring by ring. The k smallest of a row's candidates come from select_k. */

typedef struct {
  const float* x;
  int n, k;
  int32_t* out;
  const float *gx, *gy, *gz, *gsq; /* sorted by cell, padded */
  const int32_t *order, *cell, *start;
  int g[3];
  double lo[3], inv[3], side[3], margin[3], sq_max;
  float* work;
} grid_t;

/* (d, j) as one integer that orders as the tie rule does: d's bits made monotone (d is
 * never -0: |x_j|^2 is never -0, so neither is a sum with it) above j. */
static inline uint64_t key_of(float d, int32_t j) {
  uint32_t b;
  memcpy(&b, &d, 4);
  b = b & 0x80000000u ? ~b : b | 0x80000000u;
  return (uint64_t)b << 32 | (uint32_t)j;
}
static inline float distance_of(uint64_t key) {
  uint32_t b = (uint32_t)(key >> 32);
  b = b & 0x80000000u ? b & 0x7fffffffu : ~b;
  float d;
  memcpy(&d, &b, 4);
  return d;
}

/* Appends points [a, b) of the arrays px, py, pz, psq (|p|^2), pj (indices) to the
 * candidates of a row: their d and j. Whole groups of GRID_PAD are computed (the points
 * past b, or the padding, are written past the new end and overwritten or ignored). */
static inline int add_points(const float* px, const float* py, const float* pz, const float* psq, const int32_t* pj,
                             int a, int b, float qx, float qy, float qz, float qsq, float* cd, int32_t* cj, int m) {
#if defined(__AVX__)
  const __m256 vx = _mm256_set1_ps(qx), vy = _mm256_set1_ps(qy), vz = _mm256_set1_ps(qz), vs = _mm256_set1_ps(qsq);
  for (int t = a; t < b; t += GRID_PAD) {
    const __m256 dot = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(vx, _mm256_loadu_ps(px + t)),
                                                   _mm256_mul_ps(vy, _mm256_loadu_ps(py + t))),
                                     _mm256_mul_ps(vz, _mm256_loadu_ps(pz + t)));
    const __m256 d = _mm256_add_ps(_mm256_sub_ps(vs, _mm256_add_ps(dot, dot)), _mm256_loadu_ps(psq + t));
    _mm256_storeu_ps(cd + m + (t - a), d); /* 2 dot as dot + dot: the same value */
    _mm256_storeu_si256((__m256i*)(cj + m + (t - a)), _mm256_loadu_si256((const __m256i*)(pj + t)));
  }
#else
  for (int t0 = a; t0 < b; t0 += GRID_PAD) {
    float* restrict d = cd + m + (t0 - a);
    int32_t* restrict j = cj + m + (t0 - a);
    for (int l = 0; l < GRID_PAD; ++l) {
      const int t = t0 + l;
      d[l] = (qsq - 2.0f * ((qx * px[t] + qy * py[t]) + qz * pz[t])) + psq[t];
      j[l] = pj[t];
    }
  }
#endif
  return m + b - a;
}

static inline int count_within(const float* cd, int m, float bound) {
  int c = 0;
  for (int t = 0; t < m; ++t) c += cd[t] <= bound;
  return c;
}

#if defined(__AVX2__)
/* kPick[mask]: the lanes of an 8-bit mask in order (to pack the lanes a compare kept) */
static int32_t kPick[256][8];
static void init_pick(void) {
  for (int m = 0; m < 256; ++m) {
    int c = 0;
    for (int l = 0; l < 8; ++l)
      if (m >> l & 1) kPick[m][c++] = l;
  }
}
#endif

/* The candidates with d <= bound, packed in order: their keys; returns their count. */
static int keys_within(const float* cd, const int32_t* cj, int m, float bound, float* pd, int32_t* pj,
                       uint64_t* keys) {
  int c = 0;
#if defined(__AVX2__)
  const __m256 b = _mm256_set1_ps(bound);
  for (int t = 0; t < m; t += 8) { /* past m: not kept (the mask stops at m) */
    const __m256 d = _mm256_loadu_ps(cd + t);
    unsigned mask = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(d, b, _CMP_LE_OQ));
    if (m - t < 8) mask &= (1u << (m - t)) - 1;
    const __m256i pick = _mm256_loadu_si256((const __m256i*)kPick[mask]);
    _mm256_storeu_ps(pd + c, _mm256_permutevar8x32_ps(d, pick));
    _mm256_storeu_si256((__m256i*)(pj + c),
                        _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i*)(cj + t)), pick));
    c += __builtin_popcount(mask);
  }
#else
  for (int t = 0; t < m; ++t) {
    pd[c] = cd[t], pj[c] = cj[t];
    c += cd[t] <= bound;
  }
#endif
  for (int t = 0; t < c; ++t) keys[t] = key_of(pd[t], pj[t]);
  return c;
}

/* The k smallest (d, j) keys of the m >= k candidates, ascending, into best. A bound with
 * at least k candidates within it (so every candidate beyond has k others strictly nearer)
 * is lowered while it keeps k, each probe a count; the few within are ranked by counting
 * the keys below each (with AVX2 first by distance alone, which is the rank when every
 * rank comes out once, i.e. no two distances are equal), or, when many remain, inserted
 * one by one. */
static void select_k(const float* cd, const int32_t* cj, int m, int k, float* pd, int32_t* pj, uint64_t* keys,
                     uint64_t* best) {
  float lo = cd[0], hi = cd[0];
  for (int t = 1; t < m; ++t) lo = fminf(lo, cd[t]), hi = fmaxf(hi, cd[t]); /* no NaN here */
  float bound = hi, below = lo; /* count(bound) >= k; count(below) < k unless below = bound */
  int within = m;
  for (int probe = 0; probe < 5 && within > k + k / 4; ++probe) {
    /* the count grows about as distance^1.5: aim at 1.1 k, about (1.1 k / within)^(2/3)
     * of the way up from the lowest, inside the bracket */
    const float x = 1.1f * k / within, f = x * (1.5f - 0.5f * x); /* near x^(2/3) for x < 1 */
    float t = lo + (bound - lo) * (f > 0.05f ? f : 0.05f);
    if (!(t > below)) t = below + (bound - below) * 0.5f;
    if (!(t < bound)) break;
    const int c = count_within(cd, m, t);
    if (c >= k) bound = t, within = c;
    else below = t;
  }
  const int c = keys_within(cd, cj, m, bound, pd, pj, keys);
#if defined(__AVX2__)
  if (c <= 64 && c <= 4 * k) { /* without ties, the rank of d among the kept: the count of d_u < d */
    for (int t = c; t < c + 8; ++t) pd[t] = INFINITY, pj[t] = 0; /* never below a finite d */
    uint64_t seen = 0;
    for (int t = 0; t < c; ++t) {
      const __m256 d = _mm256_set1_ps(pd[t]);
      int rank = 0;
      for (int u = 0; u < c; u += 8)
        rank += __builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(pd + u), d, _CMP_LT_OQ)));
      best[rank] = keys[t];
      seen |= 1ull << rank;
    }
    if (seen == (c == 64 ? ~0ull : (1ull << c) - 1)) return; /* every rank once: no ties */
  }
  if (c <= 4 * k) { /* the rank of (d, j) among the kept: d_u < d, or d_u == d and j_u < j */
    for (int t = c; t < c + 8; ++t) pd[t] = INFINITY, pj[t] = 0;
    for (int t = 0; t < c; ++t) {
      const __m256 d = _mm256_set1_ps(pd[t]);
      const __m256i j = _mm256_set1_epi32(pj[t]);
      int rank = 0;
      for (int u = 0; u < c; u += 8) {
        const __m256 du = _mm256_loadu_ps(pd + u);
        const __m256 lower = _mm256_castsi256_ps(_mm256_cmpgt_epi32(j, _mm256_loadu_si256((const __m256i*)(pj + u))));
        const __m256 below = _mm256_or_ps(_mm256_cmp_ps(du, d, _CMP_LT_OQ),
                                          _mm256_and_ps(_mm256_cmp_ps(du, d, _CMP_EQ_OQ), lower));
        rank += __builtin_popcount((unsigned)_mm256_movemask_ps(below));
      }
      best[rank] = keys[t]; /* best has room for c: no branch on the rank */
    }
    return;
  }
#endif
  if (c <= 4 * k) {
    for (int t = 0; t < c; ++t) {
      int rank = 0;
      for (int u = 0; u < c; ++u) rank += keys[u] < keys[t];
      if (rank < k) best[rank] = keys[t];
    }
    return;
  }
  /* many at one distance (duplicate points): insertion into the sorted k best instead */
  int have = 0;
  for (int t = 0; t < c; ++t) {
    const uint64_t key = keys[t];
    if (have == k && key >= best[k - 1]) continue;
    int p = have < k ? have++ : k - 1;
    for (; p > 0 && key < best[p - 1]; --p) best[p] = best[p - 1];
    best[p] = key;
  }
}

/* A worker's buffers (see grid_scratch). */
typedef struct {
  float *cd, *pd, *bx, *by, *bz, *bsq;
  int32_t *cj, *pj, *bj;
  uint64_t *keys, *best;
} buffers_t;

static buffers_t buffers_of(const grid_t* g, int worker) {
  const size_t rows = (size_t)g->n + GRID_PAD;
  float* w = g->work + (size_t)worker * grid_worker(g->n, g->k);
  buffers_t b;
  b.keys = (uint64_t*)w;
  b.best = b.keys + rows;
  w += 2 * rows + 2 * (4 * (size_t)g->k + GRID_PAD);
  b.cd = w, b.cj = (int32_t*)(w + rows), b.pd = w + 2 * rows, b.pj = (int32_t*)(w + 3 * rows);
  b.bx = w + 4 * rows, b.by = w + 5 * rows, b.bz = w + 6 * rows, b.bsq = w + 7 * rows, b.bj = (int32_t*)(w + 8 * rows);
  return b;
}

/* Row i from its cell outwards, ring by ring (the general search). */
static void search_row(const grid_t* g, int i, const buffers_t* bf) {
  const int k = g->k;
  float *cd = bf->cd, *pd = bf->pd;
  int32_t *cj = bf->cj, *pj = bf->pj;
  uint64_t *keys = bf->keys, *best = bf->best;
  {
    const float qx = g->x[3 * (size_t)i], qy = g->x[3 * (size_t)i + 1], qz = g->x[3 * (size_t)i + 2];
    const float qsq = (qx * qx + qy * qy) + qz * qz; /* 0 + x0 x0 + ...: the same value */
    const double q[3] = {qx, qy, qz};
    const double err = 16.0 / 16777216.0 * ((double)qsq + g->sq_max) + 1e-30;
    const int cell = g->cell[i];
    const int c[3] = {cell % g->g[0], cell / g->g[0] % g->g[1], cell / g->g[0] / g->g[1]};
    int m = 0;
    for (int r = 1;; ++r) {
      int lo[3], hi[3];
      for (int a = 0; a < 3; ++a) {
        lo[a] = c[a] - r < 0 ? 0 : c[a] - r;
        hi[a] = c[a] + r >= g->g[a] ? g->g[a] - 1 : c[a] + r;
      }
      if (r == 1) { /* the cell and its neighbours: 9 runs of up to 3 cells */
        for (int zz = lo[2]; zz <= hi[2]; ++zz)
          for (int yy = lo[1]; yy <= hi[1]; ++yy) {
            const int row = (zz * g->g[1] + yy) * g->g[0];
            m = add_points(g->gx, g->gy, g->gz, g->gsq, g->order, g->start[row + lo[0]], g->start[row + hi[0] + 1], qx,
                           qy, qz, qsq, cd, cj, m);
          }
      } else { /* the cells at Chebyshev distance r */
        for (int zz = lo[2]; zz <= hi[2]; ++zz)
          for (int yy = lo[1]; yy <= hi[1]; ++yy) {
            const int shell = zz == c[2] - r || zz == c[2] + r || yy == c[1] - r || yy == c[1] + r;
            const int row = (zz * g->g[1] + yy) * g->g[0];
            for (int part = 0; part < (shell ? 1 : 2); ++part) { /* all of the row, or its two ends */
              int x0 = lo[0], x1 = hi[0];
              if (!shell) {
                x0 = x1 = part ? c[0] + r : c[0] - r;
                if (x0 < 0 || x0 >= g->g[0]) continue;
              }
              m = add_points(g->gx, g->gy, g->gz, g->gsq, g->order, g->start[row + x0], g->start[row + x1 + 1], qx, qy,
                             qz, qsq, cd, cj, m);
            }
          }
      }
      /* the gap to the points outside the visited block */
      double delta = INFINITY;
      for (int a = 0; a < 3; ++a) {
        if (lo[a] > 0) delta = fmin(delta, q[a] - (g->lo[a] + lo[a] * g->side[a]) - g->margin[a]);
        if (hi[a] < g->g[a] - 1) delta = fmin(delta, (g->lo[a] + (hi[a] + 1) * g->side[a]) - q[a] - g->margin[a]);
      }
      if (m < k || !(delta > 0)) continue; /* delta is infinite once every cell is visited */
      select_k(cd, cj, m, k, pd, pj, keys, best);
      if (delta == INFINITY || delta * delta - err > (double)distance_of(best[k - 1])) break;
    }
    for (int t = 0; t < k; ++t) g->out[(size_t)i * k + t] = (int32_t)(uint32_t)best[t];
  }
}

/* The rows of cells [begin, end): the cell and its neighbours (ring 1) gathered once for
 * all of its points; a row that ring 1 does not settle is searched again by search_row. */
static void grid_cells(void* arg, int begin, int end, int worker) {
  const grid_t* g = arg;
  const int k = g->k;
  const buffers_t bf = buffers_of(g, worker);
  for (int cell = begin; cell < end; ++cell) {
    const int a0 = g->start[cell], a1 = g->start[cell + 1];
    if (a0 == a1) continue;
    const int c[3] = {cell % g->g[0], cell / g->g[0] % g->g[1], cell / g->g[0] / g->g[1]};
    int lo[3], hi[3], m = 0;
    for (int a = 0; a < 3; ++a) {
      lo[a] = c[a] - 1 < 0 ? 0 : c[a] - 1;
      hi[a] = c[a] + 1 >= g->g[a] ? g->g[a] - 1 : c[a] + 1;
    }
    for (int zz = lo[2]; zz <= hi[2]; ++zz)
      for (int yy = lo[1]; yy <= hi[1]; ++yy) {
        const int row = (zz * g->g[1] + yy) * g->g[0], a = g->start[row + lo[0]], b = g->start[row + hi[0] + 1];
        memcpy(bf.bx + m, g->gx + a, sizeof(float) * (size_t)(b - a));
        memcpy(bf.by + m, g->gy + a, sizeof(float) * (size_t)(b - a));
        memcpy(bf.bz + m, g->gz + a, sizeof(float) * (size_t)(b - a));
        memcpy(bf.bsq + m, g->gsq + a, sizeof(float) * (size_t)(b - a));
        memcpy(bf.bj + m, g->order + a, sizeof(int32_t) * (size_t)(b - a));
        m += b - a;
      }
    for (int t = a0; t < a1; ++t) {
      const int i = g->order[t];
      const float qx = g->gx[t], qy = g->gy[t], qz = g->gz[t], qsq = g->gsq[t];
      const double q[3] = {qx, qy, qz};
      const double err = 16.0 / 16777216.0 * ((double)qsq + g->sq_max) + 1e-30;
      double delta = INFINITY; /* as in search_row */
      for (int a = 0; a < 3; ++a) {
        if (lo[a] > 0) delta = fmin(delta, q[a] - (g->lo[a] + lo[a] * g->side[a]) - g->margin[a]);
        if (hi[a] < g->g[a] - 1) delta = fmin(delta, (g->lo[a] + (hi[a] + 1) * g->side[a]) - q[a] - g->margin[a]);
      }
      if (m >= k && delta > 0) {
        add_points(bf.bx, bf.by, bf.bz, bf.bsq, bf.bj, 0, m, qx, qy, qz, qsq, bf.cd, bf.cj, 0);
        select_k(bf.cd, bf.cj, m, k, bf.pd, bf.pj, bf.keys, bf.best);
        if (delta == INFINITY || delta * delta - err > (double)distance_of(bf.best[k - 1])) {
          for (int u = 0; u < k; ++u) g->out[(size_t)i * k + u] = (int32_t)(uint32_t)bf.best[u];
          continue;
        }
      }
      search_row(g, i, &bf);
    }
  }
}

/* Sorts the points into cells; 0 when the grid path does not apply. */
static int grid_build(grid_t* g, const float* x, int n, int k, float* scratch) {
  double mn[3] = {INFINITY, INFINITY, INFINITY}, mx[3] = {-INFINITY, -INFINITY, -INFINITY};
  int finite = 1;
  for (int i = 0; i < n; ++i)
    for (int a = 0; a < 3; ++a) {
      const double v = x[3 * (size_t)i + a];
      finite &= fabs(v) <= 1e15; /* NaN fails too */
      mn[a] = fmin(mn[a], v);
      mx[a] = fmax(mx[a], v);
    }
  if (!finite) return 0;
  /* the side of a cell for about max(k / 3, 2) points each, over the axes that have extent */
  double volume = 1;
  int dims = 0;
  for (int a = 0; a < 3; ++a)
    if (mx[a] > mn[a]) volume *= mx[a] - mn[a], ++dims;
  const double per_cell = k / 3.0 > 2 ? k / 3.0 : 2;
  const double side = dims ? pow(volume * per_cell / n, 1.0 / dims) : 1;
  size_t cells = 1;
  for (int a = 0; a < 3; ++a) {
    const double cut = mx[a] > mn[a] ? floor((mx[a] - mn[a]) / side) : 0;
    g->g[a] = cut < 1 ? 1 : cut > 1024 ? 1024 : (int)cut;
  }
  for (;;) { /* at most max_cells(n) */
    cells = (size_t)g->g[0] * g->g[1] * g->g[2];
    if (cells <= max_cells(n)) break;
    int a = g->g[0] >= g->g[1] && g->g[0] >= g->g[2] ? 0 : g->g[1] >= g->g[2] ? 1 : 2;
    g->g[a] = (g->g[a] + 1) / 2;
  }
  for (int a = 0; a < 3; ++a) {
    g->lo[a] = mn[a];
    g->inv[a] = mx[a] > mn[a] ? g->g[a] / (mx[a] - mn[a]) : 0;
    g->side[a] = mx[a] > mn[a] ? (mx[a] - mn[a]) / g->g[a] : 0;
    g->margin[a] = 1e-9 * (fabs(mn[a]) + fabs(mx[a]) + g->side[a]);
  }
  float *gx = scratch, *gy = gx + n + GRID_PAD, *gz = gy + n + GRID_PAD, *gsq = gz + n + GRID_PAD;
  int32_t* order = (int32_t*)(gsq + n + GRID_PAD);
  int32_t* cell = order + n + GRID_PAD;
  int32_t* start = cell + n;
  for (size_t c = 0; c <= cells; ++c) start[c] = 0;
  for (int i = 0; i < n; ++i) {
    int id = 0;
    for (int a = 2; a >= 0; --a) {
      const double f = floor((x[3 * (size_t)i + a] - g->lo[a]) * g->inv[a]);
      const int ca = f < 0 ? 0 : f >= g->g[a] ? g->g[a] - 1 : (int)f;
      id = id * g->g[a] + ca;
    }
    cell[i] = id;
    ++start[id + 1];
  }
  for (size_t c = 0; c < cells; ++c) start[c + 1] += start[c];
  double sq_max = 0;
  for (int i = 0; i < n; ++i) { /* stable: each cell's points in index order */
    const int t = start[cell[i]]++;
    const float px = x[3 * (size_t)i], py = x[3 * (size_t)i + 1], pz = x[3 * (size_t)i + 2];
    gx[t] = px, gy[t] = py, gz[t] = pz;
    gsq[t] = (px * px + py * py) + pz * pz;
    sq_max = fmax(sq_max, gsq[t]);
    order[t] = i;
  }
  /* Rounding that swamps the cells (points far from 0 for their spread): no ring could
   * stop the search early, every pair is cheaper. */
  double side_min = INFINITY;
  for (int a = 0; a < 3; ++a)
    if (g->side[a] > 0) side_min = fmin(side_min, g->side[a]);
  if (dims && 32.0 / 16777216.0 * sq_max + 1e-30 >= 0.25 * side_min * side_min) return 0;
  for (size_t c = cells; c > 0; --c) start[c] = start[c - 1]; /* back to the starts */
  start[0] = 0;
  for (int t = n; t < n + GRID_PAD; ++t) gx[t] = gy[t] = gz[t] = gsq[t] = 0, order[t] = 0;
  *g = (grid_t){x, n, k, NULL, gx, gy, gz, gsq, order, cell, start, {g->g[0], g->g[1], g->g[2]},
                {g->lo[0], g->lo[1], g->lo[2]}, {g->inv[0], g->inv[1], g->inv[2]},
                {g->side[0], g->side[1], g->side[2]}, {g->margin[0], g->margin[1], g->margin[2]}, sq_max,
                scratch + grid_common(n)};
  return 1;
}

void bgnn_l2_knn(const float* x, int n, int channels, int k, int32_t* out, float* scratch) {
  assert(n >= 1 && channels >= 1 && k >= 1 && k <= n);
  grid_t g;
#if defined(__AVX2__)
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, init_pick);
#endif
  if (channels == 3 && n >= 64 && grid_build(&g, x, n, k, scratch)) {
    g.out = out;
    bgnn_parallel_for((int)((size_t)g.g[0] * g.g[1] * g.g[2]), 4, grid_cells, &g);
    return;
  }
  ctx_t c = {x, n, channels, k, out, scratch, scratch + n, scratch + (size_t)n * (1 + (size_t)channels)};
  bgnn_parallel_for(n, 64, squares, &c);
  bgnn_parallel_for(n, 8, rows, &c);
}
