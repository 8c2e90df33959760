#include "edgeconv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "edgeconv_float.h"
#include "parallel.h"

/* u_j + v_i must round exactly as written (no fused multiply-add), so that the bounds the
 * converter found by evaluating the reference's float32 arithmetic apply as they are. */
#pragma STDC FP_CONTRACT OFF

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Per-worker scratch layout (binary form). */
typedef struct {
  uint32_t* rows;  /* k edge rows x ^ x_i, words(C) each */
  uint64_t* xs;    /* bgemm input block */
  int32_t* acc;    /* BGNN_BGEMM_ROWS x Cout counts */
  int32_t* racc;   /* centre counts of a block of nodes (racc_entries) */
  int32_t *qmax, *qmin;
  int32_t* flags; /* per channel: rule result (binary form), or 0/1 hits of per-edge rules */
  unsigned char* hit;
  void* kernel; /* bgnn_edge_extremes' scratch */
} worker_scratch;

/* Centre counts of a block of nodes, and past the last row the padding up to which
 * bgnn_edge_extremes may read a node's counts. */
static size_t racc_entries(const bgnn_edgeconv* e) {
  return (size_t)BGNN_BGEMM_ROWS * e->channels_out + (size_t)bgnn_edge_extremes_width(e->channels_out);
}

static size_t binary_worker_bytes(const bgnn_edgeconv* e) {
  const size_t words = (size_t)bgnn_words(e->channels_in), n = (size_t)e->channels_out;
  const size_t w64 = (size_t)(e->edge.words64 > e->centre.words64 ? e->edge.words64 : e->centre.words64);
  return align64(sizeof(uint32_t) * (size_t)e->k * words) + align64(sizeof(uint64_t) * BGNN_BGEMM_ROWS * w64) +
         align64(sizeof(int32_t) * BGNN_BGEMM_ROWS * n) + align64(sizeof(int32_t) * racc_entries(e)) +
         3 * align64(sizeof(int32_t) * n) + align64(n) +
         align64(bgnn_edge_extremes_scratch(e->k, (int)words, e->channels_out));
}

static worker_scratch worker_view(const bgnn_edgeconv* e, int worker) {
  const size_t words = (size_t)bgnn_words(e->channels_in), n = (size_t)e->channels_out;
  const size_t w64 = (size_t)(e->edge.words64 > e->centre.words64 ? e->edge.words64 : e->centre.words64);
  unsigned char* p = e->scratch + (size_t)worker * e->worker_bytes;
  worker_scratch s;
  s.rows = (uint32_t*)p, p += align64(sizeof(uint32_t) * (size_t)e->k * words);
  s.xs = (uint64_t*)p, p += align64(sizeof(uint64_t) * BGNN_BGEMM_ROWS * w64);
  s.acc = (int32_t*)p, p += align64(sizeof(int32_t) * BGNN_BGEMM_ROWS * n);
  s.racc = (int32_t*)p, p += align64(sizeof(int32_t) * racc_entries(e));
  s.qmax = (int32_t*)p, p += align64(sizeof(int32_t) * n);
  s.qmin = (int32_t*)p, p += align64(sizeof(int32_t) * n);
  s.flags = (int32_t*)p, p += align64(sizeof(int32_t) * n);
  s.hit = p, p += align64(n);
  s.kernel = p;
  return s;
}

/* floor(a / 2) and ceil(a / 2) */
static int64_t half_down(int64_t a) { return (a - (a & 1)) / 2; }
static int64_t half_up(int64_t a) { return -half_down(-a); }

/* The binary form's rules ANY_OUTSIDE and ALL_INSIDE on counts (edge_extremes.h). With
 * d = q - r (y = 2d) and the extremes dmax = qmax - r, dmin = qmin - r over a node's edges:
 *   ANY_OUTSIDE fails (bit 1) iff ymax < hi and ymin > lo
 *     iff dmax <= ceil(hi/2) - 1 and dmin >= floor(lo/2) + 1;
 *   ALL_INSIDE holds (bit 0) iff ymax <= hi and ymin >= lo
 *     iff dmax <= floor(hi/2) and dmin >= ceil(lo/2).
 * So bit = ((r - qmax >= a) & (r - qmin <= b)) ^ flip with a = -(the bound on dmax),
 * b = -(the bound on dmin), both clamped to [-C-1, C+1] (d lies in [-C, C]), flip -1 for
 * ALL_INSIDE. Channels whose rule needs every edge are left at 0: such layers take the
 * general path. Columns of bgnn_edge_extremes_width(Cout), padded. */
static int set_cuts(bgnn_edgeconv* e, const void* bounds) {
  const int n = e->channels_out, width = bgnn_edge_extremes_width(n);
  const int64_t span = e->channels_in + 1;
  e->cuts = calloc(3 * (size_t)width, sizeof(int16_t));
  if (!e->cuts) return 0;
  if (e->channels_in > BGNN_EDGE_EXTREMES_MAX_K) return 1; /* not used */
  for (int c = 0; c < n; ++c) {
    const int64_t lo = ((const int32_t*)bounds)[2 * c], hi = ((const int32_t*)bounds)[2 * c + 1];
    const int all_inside = e->mode[c] == BGNN_RULE_ALL_INSIDE;
    int64_t a = -(all_inside ? half_down(hi) : half_up(hi) - 1), b = -(all_inside ? half_up(lo) : half_down(lo) + 1);
    a = a < -span ? -span : a > span ? span : a;
    b = b < -span ? -span : b > span ? span : b;
    e->cuts[c] = (int16_t)a;
    e->cuts[width + c] = (int16_t)b;
    e->cuts[2 * width + c] = (int16_t)-all_inside;
  }
  bgnn_edge_extremes_pad_cuts(e->cuts, n);
  return 1;
}

int bgnn_edgeconv_init(bgnn_edgeconv* e, int points, int k, int channels_in, int channels_out, int binary,
                       const void* weights, const int32_t* mode, const void* bounds, int workers) {
  memset(e, 0, sizeof(*e));
  *e = (bgnn_edgeconv){.points = points, .k = k, .channels_in = channels_in, .channels_out = channels_out,
                       .binary = binary, .mode = mode, .workers = workers < 1 ? 1 : workers};
  e->per_edge = malloc(sizeof(int) * (size_t)channels_out);
  if (!e->per_edge) return 0;
  for (int c = 0; c < channels_out; ++c)
    if (mode[c] == BGNN_RULE_ANY_INSIDE || mode[c] == BGNN_RULE_ALL_OUTSIDE) e->per_edge[e->n_per_edge++] = c;
  /* the rules as columns (lo, hi, then one mask per mode), so that the per-node epilogue
   * is straight-line vector code; lo and hi hold the bounds' bits (int32 or float) */
  e->lanes = malloc(sizeof(int32_t) * 6 * (size_t)channels_out);
  if (!e->lanes) return 0;
  for (int c = 0; c < channels_out; ++c) {
    const size_t n = (size_t)channels_out;
    memcpy(e->lanes + c, (const int32_t*)bounds + 2 * c, 4);
    memcpy(e->lanes + n + c, (const int32_t*)bounds + 2 * c + 1, 4);
    for (int m = 0; m < 4; ++m) e->lanes[(2 + m) * n + c] = mode[c] == m ? -1 : 0;
  }
  if (binary && !set_cuts(e, bounds)) return 0;
  if (binary) {
    const int words = bgnn_words(channels_in);
    /* weights: [Cout][2][words]: split the halves into two filter tensors */
    uint32_t* halves = malloc(sizeof(uint32_t) * 2 * (size_t)channels_out * words);
    if (!halves) return 0;
    const uint32_t* w = weights;
    for (int c = 0; c < channels_out; ++c) {
      memcpy(halves + (size_t)c * words, w + (size_t)c * 2 * words, sizeof(uint32_t) * words);
      memcpy(halves + ((size_t)channels_out + c) * words, w + ((size_t)c * 2 + 1) * words, sizeof(uint32_t) * words);
    }
    const int ok = bgnn_bgemm_pack(&e->edge, halves, channels_out, words) &&
                   bgnn_bgemm_pack(&e->centre, halves + (size_t)channels_out * words, channels_out, words);
    free(halves);
    e->edge.source = e->centre.source = NULL; /* packed from a temporary */
    if (!ok) return 0;
    e->worker_bytes = align64(binary_worker_bytes(e));
  } else {
    return bgnn_edgeconv_float_init(e, weights, bounds); /* edgeconv_float.c */
  }
  e->scratch = aligned_alloc(64, e->worker_bytes * (size_t)e->workers);
  return e->scratch != NULL;
}

size_t bgnn_edgeconv_bytes(void) { return sizeof(bgnn_edgeconv); }

void bgnn_edgeconv_free(bgnn_edgeconv* e) {
  bgnn_bgemm_free(&e->edge);
  bgnn_bgemm_free(&e->centre);
  free(e->per_edge);
  free(e->lanes);
  free(e->cuts);
  bgnn_edgeconv_float_free(e);
  free(e->scratch);
  memset(e, 0, sizeof(*e));
}

typedef struct {
  bgnn_edgeconv* e;
  const void* x;
  const int32_t* idx;
  uint32_t* out;
} run_ctx;

/* out words from 0/1 flags per channel (bit c = flag[c]); the padding bits stay 0. */
static void pack_flags(const int32_t* flag, int n, uint32_t* out) {
  for (int w = 0; w * 32 < n; ++w) {
    const int m = n - w * 32 < 32 ? n - w * 32 : 32;
    uint32_t bits = 0;
    for (int t = 0; t < m; ++t) bits |= (uint32_t)flag[w * 32 + t] << t;
    out[w] = bits;
  }
}

/* ---- ±1 inputs ---------------------------------------------------------------------------- */

/* Every channel's rule is decided by the extremes: the centre half through the binary GEMM
 * per block of nodes, the edge half and the rules through bgnn_edge_extremes per node. */
static void binary_nodes_extremes(void* arg, int begin, int end, int worker) {
  const run_ctx* ctx = arg;
  const bgnn_edgeconv* e = ctx->e;
  const int words = bgnn_words(e->channels_in), n = e->channels_out, k = e->k, out_words = bgnn_words(n);
  const uint32_t* x = ctx->x;
  worker_scratch s = worker_view(e, worker);
  for (int block = begin; block < end; ++block) {
    const int i0 = block * BGNN_BGEMM_ROWS;
    const int nodes = e->points - i0 < BGNN_BGEMM_ROWS ? e->points - i0 : BGNN_BGEMM_ROWS;
    bgnn_bgemm_load_rows(&e->centre, x + (size_t)i0 * words, nodes, words, s.xs);
    bgnn_bgemm_block(&e->centre, s.xs, s.racc);
    for (int r = 0; r < nodes; ++r) {
      const int i = i0 + r;
      bgnn_edge_extremes(&e->edge, x, words, x + (size_t)i * words, ctx->idx + (size_t)i * k, k,
                         s.racc + (size_t)r * n, e->cuts, ctx->out + (size_t)i * out_words, s.kernel);
    }
  }
}

/* Some channel's rule needs every edge: the counts of every edge through the binary GEMM. */
static void binary_nodes(void* arg, int begin, int end, int worker) {
  const run_ctx* ctx = arg;
  const bgnn_edgeconv* e = ctx->e;
  const int words = bgnn_words(e->channels_in), n = e->channels_out, k = e->k, out_words = bgnn_words(n);
  const uint32_t* x = ctx->x;
  const int32_t *restrict lo = e->lanes, *restrict hi = lo + n, *restrict m0 = hi + n, *restrict m1 = m0 + n,
                *restrict m2 = m1 + n, *restrict m3 = m2 + n;
  worker_scratch s = worker_view(e, worker);
  for (int block = begin; block < end; ++block) {
    const int i0 = block * BGNN_BGEMM_ROWS;
    const int nodes = e->points - i0 < BGNN_BGEMM_ROWS ? e->points - i0 : BGNN_BGEMM_ROWS;
    bgnn_bgemm_load_rows(&e->centre, x + (size_t)i0 * words, nodes, words, s.xs);
    bgnn_bgemm_block(&e->centre, s.xs, s.racc);
    for (int r = 0; r < nodes; ++r) {
      const int i = i0 + r;
      const uint32_t* xi = x + (size_t)i * words;
      const int32_t* nb = ctx->idx + (size_t)i * k;
      for (int j = 0; j < k; ++j) {
        const uint32_t* xj = x + (size_t)nb[j] * words;
        uint32_t* d = s.rows + (size_t)j * words;
        for (int w = 0; w < words; ++w) d[w] = xj[w] ^ xi[w];
      }
      const int32_t* rc = s.racc + (size_t)r * n;
      for (int c = 0; c < e->n_per_edge; ++c) s.hit[c] = 0;
      for (int j0 = 0; j0 < k; j0 += BGNN_BGEMM_ROWS) {
        const int edges = k - j0 < BGNN_BGEMM_ROWS ? k - j0 : BGNN_BGEMM_ROWS;
        bgnn_bgemm_load_rows(&e->edge, s.rows + (size_t)j0 * words, edges, words, s.xs);
        bgnn_bgemm_block(&e->edge, s.xs, s.acc);
        for (int t = 0; t < edges; ++t) {
          const int32_t* restrict q = s.acc + (size_t)t * n;
          int32_t* restrict mx = s.qmax;
          int32_t* restrict mn = s.qmin;
          if (j0 + t == 0) {
            for (int c = 0; c < n; ++c) mx[c] = mn[c] = q[c];
          } else {
            for (int c = 0; c < n; ++c) {
              const int32_t a = q[c], hi_c = mx[c], lo_c = mn[c];
              mx[c] = a > hi_c ? a : hi_c;
              mn[c] = a < lo_c ? a : lo_c;
            }
          }
          for (int p = 0; p < e->n_per_edge; ++p) {
            const int c = e->per_edge[p];
            const int32_t y = 2 * (q[c] - rc[c]);
            s.hit[p] |= e->mode[c] == BGNN_RULE_ANY_INSIDE ? lo[c] <= y && y <= hi[c] : lo[c] < y && y < hi[c];
          }
        }
      }
      /* the rules: bit c is 1 (-1) where channel c's rule fails */
      int32_t* restrict flag = s.flags;
      for (int c = 0; c < n; ++c) flag[c] = 0;
      for (int p = 0; p < e->n_per_edge; ++p) flag[e->per_edge[p]] = s.hit[p] ? -1 : 0;
      for (int c = 0; c < n; ++c) {
        const int32_t ymax = 2 * (s.qmax[c] - rc[c]), ymin = 2 * (s.qmin[c] - rc[c]);
        const int32_t outside = -((ymax >= hi[c]) | (ymin <= lo[c])), inside = -((ymin >= lo[c]) & (ymax <= hi[c]));
        const int32_t holds = (m0[c] & outside) | (m1[c] & inside) | (m2[c] & flag[c]) | (m3[c] & ~flag[c]);
        flag[c] = ~holds & 1;
      }
      pack_flags(flag, n, ctx->out + (size_t)i * out_words);
    }
  }
}

void bgnn_edgeconv_run(bgnn_edgeconv* e, const void* x, const int32_t* idx, uint32_t* out) {
  run_ctx ctx = {e, x, idx, out};
  if (e->binary) {
    const int extremes = e->n_per_edge == 0 && e->channels_in <= BGNN_EDGE_EXTREMES_MAX_K;
    bgnn_parallel_for((e->points + BGNN_BGEMM_ROWS - 1) / BGNN_BGEMM_ROWS, 1,
                      extremes ? binary_nodes_extremes : binary_nodes, &ctx);
  } else {
    bgnn_edgeconv_float_run(e, x, idx, out);
  }
}
