/* Every ISA variant of every kernel (kernels.inc) against the scalar reference and an
 * independent naive count, for exact equality, on fixed-seed inputs over shapes that hit
 * the edges (bits around word sizes, filter counts around tile widths, rows not a multiple
 * of BGNN_BGEMM_ROWS, counts that overflow 8 and 16 bits). Variants the CPU lacks are
 * skipped, said so. Runs natively and under qemu-aarch64 for NEON. Prints one line per
 * check; exit 1 on any mismatch.
 *
 *   kernel_tests                                  all checks
 *   kernel_tests bgemm ISA IN OUT                 cases from IN through one variant -> OUT
 *   kernel_tests bench ISA BITS COUT ROWS ITERS   ITERS passes of load_rows + block over ROWS rows
 *   kernel_tests bench-knn ISA BITS N K ITERS     ITERS Hamming k-NN of N rows
 *   kernel_tests embed ISA IN OUT                 BgnnEmbedPool cases from IN -> OUT
 *   kernel_tests bench-embed ISA N COUT ITERS C0 [C1 ...]
 *                                                 ITERS bgnn_embed_pool_run over N points
 *   kernel_tests edgeconv ISA IN OUT              binary BgnnEdgeConv cases from IN -> OUT
 *   kernel_tests bench-edge ISA BITS COUT N K ITERS  ITERS binary EdgeConvs of N points
 *   kernel_tests fused ISA IN OUT                 float EdgeConv and L2 k-NN cases from IN -> OUT
 *
 * bgemm IN: int32 cases, then per case int32 rows, words32, channels_out, the rows (rows x
 * words32 uint32) and the filters (channels_out x words32); OUT: per case rows x
 * channels_out int32 counts. embed IN: int32 cases, then per case int32 points, inputs,
 * channels_out, direct (-1: as init decides, 0 or 1: forced), channels_in_l for each
 * input, the inputs (points x words(C_l) uint32 each), the filters (channels_out x
 * words(sum) uint32) and the params (channels_out x 4 float32); OUT: per case 2 x
 * channels_out float32, then int32 direct (the path that ran). edgeconv IN: int32 cases,
 * then per case int32 points, k, channels_in, channels_out, x (points x words(channels_in)),
 * indices (points x k), weights (channels_out x 2 x words(channels_in)), modes
 * (channels_out), bounds (channels_out x 2); OUT: per case points x words(channels_out)
 * words. fused IN: int32 cases, then per case int32 kind: 0 (float EdgeConv) with int32
 * n, k, channels_in, channels_out, then x (n x channels_in float), indices (n x k int32),
 * weights (channels_out x 2 channels_in float), modes (channels_out int32) and bounds
 * (channels_out x 2 float), writing the packed output (n x words(channels_out) uint32);
 * or 1 (L2 k-NN) with int32 n, channels, k, then x (n x channels float), writing the
 * indices (n x k int32). The bench modes exist to be counted under qemu's instruction plugin or timed: they print a checksum (so that
 * nothing is optimised away) and the seconds the passes took.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/bgemm.h"
#include "../core/bitpack.h"
#include "../core/dispatch.h"
#include "../core/edge_extremes.h"
#include "../core/edgeconv.h"
#include "../core/embed_pool.h"
#include "../core/hamming_knn.h"
#include "../core/l2_knn.h"
#include "../core/xor_popcount.h"

static uint64_t g_state = 0x9e3779b97f4a7c15ull;
static uint32_t next_u32(void) {
  g_state ^= g_state << 13;
  g_state ^= g_state >> 7;
  g_state ^= g_state << 17;
  return (uint32_t)(g_state >> 16);
}

static int failures = 0;

static void* xmalloc(size_t bytes) {
  void* p = malloc(bytes ? bytes : 1);
  if (!p) {
    fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
    exit(2);
  }
  return p;
}

/* rows of `bits` random channels, LCE layout: unused high bits of the last word zero */
static uint32_t* random_rows(int rows, int bits) {
  const int words = bgnn_words(bits);
  uint32_t* x = xmalloc(sizeof(uint32_t) * (size_t)rows * words);
  for (int i = 0; i < rows * words; ++i) x[i] = next_u32();
  if (bits % 32)
    for (int r = 0; r < rows; ++r) x[r * words + words - 1] &= (1u << (bits % 32)) - 1u;
  return x;
}

static void check_xor_popcount(const char* name, bgnn_xor_popcount_fn fn) {
  const int sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100};
  uint32_t a[128], b[128];
  int bad = 0;
  for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); ++s)
    for (int rep = 0; rep < 20; ++rep) {
      for (int i = 0; i < sizes[s]; ++i) { a[i] = next_u32(); b[i] = next_u32(); }
      if (fn(a, b, sizes[s]) != bgnn_xor_popcount__scalar(a, b, sizes[s])) bad++;
    }
  printf("xor_popcount %-8s %s\n", name, bad ? "MISMATCH" : "ok");
  failures += bad != 0;
}

/* acc = popcount(x_r XOR f_o) for all rows, through the active variant's pack, load_rows
 * and block; returns 0 if a block wrote outside its BGNN_BGEMM_ROWS x channels_out. */
static int run_bgemm(const uint32_t* x, int rows, const uint32_t* filters, int cout, int words, int32_t* out) {
  bgnn_bgemm_filters f = {0};
  if (!bgnn_bgemm_pack(&f, filters, cout, words)) return 0;
  const size_t block = (size_t)BGNN_BGEMM_ROWS * cout, guard = 16;
  uint64_t* xs = xmalloc(sizeof(uint64_t) * BGNN_BGEMM_ROWS * f.words64);
  int32_t* acc = xmalloc(sizeof(int32_t) * (block + guard));
  int ok = 1;
  for (int i0 = 0; i0 < rows; i0 += BGNN_BGEMM_ROWS) {
    const int n = rows - i0 < BGNN_BGEMM_ROWS ? rows - i0 : BGNN_BGEMM_ROWS;
    for (size_t i = 0; i < block + guard; ++i) acc[i] = -7;
    bgnn_bgemm_load_rows(&f, x + (size_t)i0 * words, n, words, xs);
    bgnn_bgemm_block(&f, xs, acc);
    for (size_t i = block; i < block + guard; ++i) ok &= acc[i] == -7;
    memcpy(out + (size_t)i0 * cout, acc, sizeof(int32_t) * (size_t)n * cout);
  }
  free(xs), free(acc);
  bgnn_bgemm_free(&f);
  return ok;
}

/* The naive count: word by word on the LCE layout, no repacking. */
static void naive_bgemm(const uint32_t* x, int rows, const uint32_t* filters, int cout, int words, int32_t* out) {
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < cout; ++o) {
      int32_t c = 0;
      for (int w = 0; w < words; ++w)
        for (uint32_t v = x[(size_t)r * words + w] ^ filters[(size_t)o * words + w]; v; v &= v - 1) c++;
      out[(size_t)r * cout + o] = c;
    }
}

/* One variant over the shape grid; `all_differ` makes some rows the complement of a
 * filter (the largest counts: 8-bit and 16-bit accumulators must not wrap). */
static void check_bgemm(const char* name, bgnn_isa isa) {
  const int bits[] = {1, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 513, 1000, 2049};
  const int couts[] = {1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 256};
  const int rows_of[] = {1, 3, 4, 5, 13};
  int bad = 0, shapes = 0;
  for (size_t b = 0; b < sizeof(bits) / sizeof(bits[0]); ++b)
    for (size_t c = 0; c < sizeof(couts) / sizeof(couts[0]); ++c) {
      const int K = bits[b], cout = couts[c], words = bgnn_words(K);
      const int rows = rows_of[(b + c) % (sizeof(rows_of) / sizeof(rows_of[0]))];
      uint32_t* x = random_rows(rows, K);
      uint32_t* f = random_rows(cout, K);
      if ((b + c) % 3 == 0) /* row 0 = complement of filter 0 (within K bits): count K */
        for (int w = 0; w < words; ++w)
          x[w] = ~f[w] & (w == words - 1 && K % 32 ? (1u << (K % 32)) - 1u : ~0u);
      int32_t* want = xmalloc(sizeof(int32_t) * (size_t)rows * cout);
      int32_t* got = xmalloc(sizeof(int32_t) * (size_t)rows * cout);
      int32_t* ref = xmalloc(sizeof(int32_t) * (size_t)rows * cout);
      naive_bgemm(x, rows, f, cout, words, want);
      bgnn_dispatch_set(BGNN_ISA_SCALAR);
      int ok = run_bgemm(x, rows, f, cout, words, ref);
      bgnn_dispatch_set(isa);
      ok &= run_bgemm(x, rows, f, cout, words, got);
      ok &= memcmp(want, got, sizeof(int32_t) * (size_t)rows * cout) == 0;
      ok &= memcmp(want, ref, sizeof(int32_t) * (size_t)rows * cout) == 0;
      if (!ok) {
        if (bad < 5) printf("bgemm        %-8s MISMATCH bits=%d filters=%d rows=%d\n", name, K, cout, rows);
        bad++;
      }
      shapes++;
      free(x), free(f), free(want), free(got), free(ref);
    }
  /* rows long enough to overflow 16-bit counts: every bit differs */
  {
    const int K = 70001, cout = 9, rows = 5, words = bgnn_words(K);
    uint32_t* f = random_rows(cout, K);
    uint32_t* x = random_rows(rows, K);
    for (int w = 0; w < words; ++w) x[w] = ~f[w] & (w == words - 1 ? (1u << (K % 32)) - 1u : ~0u);
    int32_t want[5 * 9], got[5 * 9];
    naive_bgemm(x, rows, f, cout, words, want);
    bgnn_dispatch_set(isa);
    int ok = run_bgemm(x, rows, f, cout, words, got) && memcmp(want, got, sizeof(want)) == 0 && got[0] == K;
    if (!ok) printf("bgemm        %-8s MISMATCH bits=%d (long rows)\n", name, K), bad++;
    shapes++;
    free(x), free(f);
  }
  printf("bgemm        %-8s %s (%d shapes)\n", name, bad ? "MISMATCH" : "ok", shapes);
  failures += bad != 0;
}

/* The edge extremes kernel (edge_extremes.h) through the active variant against a naive
 * count of every edge and the rule written out, on odd shapes: bits around word sizes and
 * the NEON kernel's limit (128), filters around its tile widths, k = 1, 7, 20; node 0's
 * first edge meets the complement of filter 0 (the largest count, K: bytes must not
 * wrap); cuts random around the counts. Words past channels_out must stay untouched. */
static void check_edge_extremes(const char* name, bgnn_isa isa) {
  const int bits[] = {1, 31, 32, 33, 63, 64, 65, 95, 96, 97, 100, 127, 128, 129, 200, 256, 300};
  const int couts[] = {1, 7, 8, 15, 16, 17, 31, 33, 48, 70, 129};
  const int ks[] = {1, 7, 20};
  const int n = 37, guard = 4;
  int bad = 0, shapes = 0;
  for (size_t bi = 0; bi < sizeof(bits) / sizeof(bits[0]); ++bi)
    for (size_t ci = 0; ci < sizeof(couts) / sizeof(couts[0]); ++ci) {
      const int K = bits[bi], cout = couts[ci], words = bgnn_words(K), k = ks[(bi + ci) % 3];
      const int width = bgnn_edge_extremes_width(cout), out_words = bgnn_words(cout);
      uint32_t* x = random_rows(n, K);
      uint32_t* f = random_rows(cout, K);
      int32_t* nb = xmalloc(sizeof(int32_t) * (size_t)n * k);
      for (int t = 0; t < n * k; ++t) nb[t] = (int32_t)(next_u32() % n);
      for (int w = 0; w < words; ++w) /* filter 0 = ~(x_nb[0] ^ x_0) within K bits */
        f[w] = ~(x[(size_t)nb[0] * words + w] ^ x[w]) & (w == words - 1 && K % 32 ? (1u << (K % 32)) - 1u : ~0u);
      int32_t* r = xmalloc(sizeof(int32_t) * width);
      int16_t* cuts = xmalloc(sizeof(int16_t) * 3 * width);
      int32_t* qmax = xmalloc(sizeof(int32_t) * cout);
      int32_t* qmin = xmalloc(sizeof(int32_t) * cout);
      uint32_t* want = xmalloc(sizeof(uint32_t) * out_words);
      uint32_t* got = xmalloc(sizeof(uint32_t) * (out_words + guard));
      bgnn_bgemm_filters e = {0};
      bgnn_dispatch_set(isa);
      void* scratch = aligned_alloc(64, (bgnn_edge_extremes_scratch(k, words, cout) + 63) / 64 * 64);
      if (!bgnn_bgemm_pack(&e, f, cout, words) || !scratch) {
        printf("edge_extremes %-7s allocation failed\n", name);
        failures++;
        return;
      }
      for (int i = 0; i < n; ++i) {
        const uint32_t* xi = x + (size_t)i * words;
        for (int c = 0; c < cout; ++c) {
          int32_t hi = -1, lo = 1 << 30;
          for (int j = 0; j < k; ++j) {
            const uint32_t* xj = x + (size_t)nb[(size_t)i * k + j] * words;
            int32_t q = 0;
            for (int w = 0; w < words; ++w)
              for (uint32_t v = xj[w] ^ xi[w] ^ f[(size_t)c * words + w]; v; v &= v - 1) q++;
            hi = q > hi ? q : hi;
            lo = q < lo ? q : lo;
          }
          qmax[c] = hi, qmin[c] = lo;
          r[c] = (int32_t)(next_u32() % (K + 1));
          cuts[c] = (int16_t)(r[c] - hi + (int)(next_u32() % 5) - 2); /* around r - qmax */
          cuts[width + c] = (int16_t)(r[c] - lo + (int)(next_u32() % 5) - 2);
          cuts[2 * width + c] = (int16_t)(next_u32() % 2 ? -1 : 0);
          if (next_u32() % 8 == 0) cuts[c] = (int16_t)(-K - 1); /* always / never */
          if (next_u32() % 8 == 0) cuts[width + c] = (int16_t)(K + 1);
        }
        for (int c = cout; c < width; ++c) r[c] = (int32_t)next_u32(); /* ignored */
        bgnn_edge_extremes_pad_cuts(cuts, cout);
        for (int w = 0; w < out_words; ++w) want[w] = 0;
        for (int c = 0; c < cout; ++c) {
          const int bit = ((r[c] - qmax[c] >= cuts[c]) & (r[c] - qmin[c] <= cuts[width + c])) ^ (cuts[2 * width + c] & 1);
          want[c / 32] |= (uint32_t)bit << (c % 32);
        }
        for (int w = 0; w < out_words + guard; ++w) got[w] = 0xdeadbeefu;
        bgnn_edge_extremes(&e, x, words, xi, nb + (size_t)i * k, k, r, cuts, got, scratch);
        int ok = memcmp(want, got, sizeof(uint32_t) * out_words) == 0;
        for (int w = out_words; w < out_words + guard; ++w) ok &= got[w] == 0xdeadbeefu;
        if (!ok) {
          if (bad < 5) printf("edge_extremes %-7s MISMATCH bits=%d filters=%d k=%d node=%d\n", name, K, cout, k, i);
          bad++;
          break;
        }
      }
      shapes++;
      bgnn_bgemm_free(&e);
      free(scratch), free(x), free(f), free(nb), free(r), free(cuts), free(qmax), free(qmin), free(want), free(got);
    }
  printf("edge_extremes %-7s %s (%d shapes)\n", name, bad ? "MISMATCH" : "ok", shapes);
  failures += bad != 0;
}

/* Rows for the k-NN checks. mixed = 0: random bits. mixed = 1: rows alternate between
 * runs of near-copies of one row (neighbours at distance 0-2) and rows of random bits
 * (neighbours far away), so each row's k-th distance is far from the row before's. */
static uint32_t* knn_rows(int n, int bits, int mixed) {
  uint32_t* x = random_rows(n, bits);
  const int words = bgnn_words(bits);
  if (mixed)
    for (int i = 0; i < n; ++i) {
      if (i % 7 >= 3) continue;  /* rows 0-2 of every 7: copies of row 0 with a bit flipped */
      memcpy(x + (size_t)i * words, x, sizeof(uint32_t) * words);
      const int b = (int)(next_u32() % (unsigned)bits);
      x[(size_t)i * words + b / 32] ^= 1u << (b % 32);
    }
  return x;
}

static void check_knn_with_variant(const char* name) {
  /* n around the selection's vector widths (16, 64) with tails; few channels -> many
   * equal distances, so the tie rule is exercised on every row; k up to n */
  static const int cases[][4] = {{67, 33, 9, 0},  {64, 5, 64, 0},   {130, 64, 20, 1},
                                 {300, 8, 20, 0}, {300, 96, 17, 1}, {1000, 256, 20, 1}};
  int bad = 0;
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); ++c) {
    const int n = cases[c][0], channels = cases[c][1], k = cases[c][2], words = bgnn_words(channels);
    uint32_t* x = knn_rows(n, channels, cases[c][3]);
    int32_t* got = xmalloc(sizeof(int32_t) * (size_t)n * k);
    int32_t* scratch = xmalloc(sizeof(int32_t) * bgnn_hamming_knn_scratch(n, words));
    int32_t* d = xmalloc(sizeof(int32_t) * (size_t)n);
    if (!bgnn_hamming_knn(x, n, words, k, got, scratch)) {
      printf("hamming_knn  %-8s allocation failed\n", name);
      failures++;
      free(scratch), free(x), free(got), free(d);
      return;
    }
    for (int i = 0; i < n; ++i) {
      /* brute force: the k smallest (distance, index) pairs in order */
      for (int j = 0; j < n; ++j) d[j] = bgnn_xor_popcount__scalar(x + (size_t)i * words, x + (size_t)j * words, words);
      for (int slot = 0; slot < k; ++slot) {
        int best = -1;
        for (int j = 0; j < n; ++j)
          if (d[j] >= 0 && (best < 0 || d[j] < d[best])) best = j;
        d[best] = -1;
        if (got[(size_t)i * k + slot] != best) bad++;
      }
    }
    free(scratch), free(x), free(got), free(d);
  }
  printf("hamming_knn  %-8s %s\n", name, bad ? "MISMATCH" : "ok");
  failures += bad != 0;
}

/* The build's bit-packing (SIMD where the target has it) against the scalar rule
 * bit = (x < 0): -0.0 and NaN pack as +1 (bit 0). */
static void check_bitpack(void) {
  const int channels = 70, rows = 3, words = bgnn_words(channels);
  float x[3 * 70];
  for (int i = 0; i < rows * channels; ++i) x[i] = (float)((int)(next_u32() % 2001) - 1000) / 500.0f;
  x[0] = -0.0f, x[5] = 0.0f, x[40] = NAN, x[71] = -NAN, x[139] = -1e-30f;
  uint32_t got[3 * 3];
  bgnn_bitpack32(x, rows, channels, got);
  int bad = 0;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < channels; ++c)
      bad += ((got[r * words + c / 32] >> (c % 32)) & 1u) != (x[r * channels + c] < 0.0f);
  printf("bitpack32             %s\n", bad ? "MISMATCH" : "ok");
  failures += bad != 0;
}

static int isa_by_name(const char* name, bgnn_isa* isa) {
  const bgnn_isa all[] = {BGNN_ISA_SCALAR, BGNN_ISA_NEON, BGNN_ISA_AVX2, BGNN_ISA_AVX512};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); ++i)
    if (strcmp(name, bgnn_isa_name(all[i])) == 0) {
      *isa = all[i];
      return bgnn_dispatch_set(all[i]);
    }
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int read_i32(FILE* in, int32_t* v) { return fread(v, sizeof(*v), 1, in) == 1; }

static int bgemm_file(const char* in_path, const char* out_path) {
  FILE *in = fopen(in_path, "rb"), *out = fopen(out_path, "wb");
  int32_t cases;
  if (!in || !out || !read_i32(in, &cases)) return 2;
  for (int32_t c = 0; c < cases; ++c) {
    int32_t rows, words, cout;
    if (!read_i32(in, &rows) || !read_i32(in, &words) || !read_i32(in, &cout)) return 2;
    uint32_t* x = xmalloc(sizeof(uint32_t) * (size_t)rows * words);
    uint32_t* f = xmalloc(sizeof(uint32_t) * (size_t)cout * words);
    int32_t* acc = xmalloc(sizeof(int32_t) * (size_t)rows * cout);
    if (fread(x, sizeof(uint32_t), (size_t)rows * words, in) != (size_t)rows * words ||
        fread(f, sizeof(uint32_t), (size_t)cout * words, in) != (size_t)cout * words)
      return 2;
    if (!run_bgemm(x, rows, f, cout, words, acc)) return 3;
    fwrite(acc, sizeof(int32_t), (size_t)rows * cout, out);
    free(x), free(f), free(acc);
  }
  fclose(in);
  return fclose(out) == 0 ? 0 : 2;
}

/* ITERS passes of load_rows + block over `rows` rows of `bits` channels, `cout` filters. */
static int bench_bgemm(int bits, int cout, int rows, long iters) {
  const int words = bgnn_words(bits);
  uint32_t* x = random_rows(rows, bits);
  uint32_t* filters = random_rows(cout, bits);
  bgnn_bgemm_filters f = {0};
  if (!bgnn_bgemm_pack(&f, filters, cout, words)) return 2;
  uint64_t* xs = xmalloc(sizeof(uint64_t) * BGNN_BGEMM_ROWS * f.words64);
  int32_t* acc = xmalloc(sizeof(int32_t) * BGNN_BGEMM_ROWS * (size_t)cout);
  uint64_t sum = 0;
  const double t0 = now_s();
  for (long it = 0; it < iters; ++it)
    for (int i0 = 0; i0 < rows; i0 += BGNN_BGEMM_ROWS) {
      const int n = rows - i0 < BGNN_BGEMM_ROWS ? rows - i0 : BGNN_BGEMM_ROWS;
      bgnn_bgemm_load_rows(&f, x + (size_t)i0 * words, n, words, xs);
      bgnn_bgemm_block(&f, xs, acc);
      sum += (uint32_t)acc[i0 % cout];
    }
  printf("checksum %llu seconds %.9f\n", (unsigned long long)sum, now_s() - t0);
  bgnn_bgemm_free(&f);
  free(x), free(filters), free(xs), free(acc);
  return 0;
}

static int bench_knn(int bits, int n, int k, long iters) {
  const int words = bgnn_words(bits);
  uint32_t* x = random_rows(n, bits);
  int32_t* out = xmalloc(sizeof(int32_t) * (size_t)n * k);
  int32_t* scratch = xmalloc(sizeof(int32_t) * bgnn_hamming_knn_scratch(n, words));
  uint64_t sum = 0;
  const double t0 = now_s();
  for (long it = 0; it < iters; ++it) {
    if (!bgnn_hamming_knn(x, n, words, k, out, scratch)) return 2;
    sum += (uint32_t)out[it % n];
  }
  printf("checksum %llu seconds %.9f\n", (unsigned long long)sum, now_s() - t0);
  free(x), free(out), free(scratch);
  return 0;
}

/* One BgnnEmbedPool case through the active variant; `direct` -1 keeps init's choice. */
static int run_embed(int points, int inputs, const int* channels, int cout, const uint32_t* const* x,
                     const uint32_t* filters, const float* params, int direct, float* out, int* ran) {
  bgnn_embed_pool p;
  if (!bgnn_embed_pool_init(&p, points, inputs, channels, cout, filters, params, 1)) return 0;
  if (direct >= 0) p.direct = direct;
  *ran = p.direct;
  bgnn_embed_pool_run(&p, x, out);
  bgnn_embed_pool_free(&p);
  return 1;
}

static uint32_t float_bits(float v) {
  uint32_t b;
  memcpy(&b, &v, 4);
  return b;
}

/* Parameters with every sign of s, alpha, g (and zeros) among the channels. Channel c % 8
 * == 5 gets g = 0, h = -0 and s, alpha < 0, so that v is -0 at a = 0 and +0 elsewhere. */
static void embed_params(float* params, int cout) {
  for (int c = 0; c < cout; ++c) {
    float* q = params + 4 * c;
    for (int t = 0; t < 4; ++t) q[t] = (float)((int)(next_u32() % 2001) - 1000) / 700.0f;
    if (c % 8 == 5) q[0] = -fabsf(q[0]) - 0.1f, q[1] = -fabsf(q[1]) - 0.1f, q[2] = 0.0f, q[3] = -0.0f;
    if (c % 16 == 7) q[0] = 0.0f;
    if (c % 16 == 9) q[1] = 0.0f;
  }
}

/* Every variant's statistics path against the scalar one and both against the direct path
 * (every v, fmaxf), bit for bit, max and mean, on odd shapes with ties at a = 0. */
static void check_embed(const char* name, bgnn_isa isa) {
  static const int shapes[][7] = {
      /* points, cout, inputs, channels... */
      {333, 45, 3, 24, 40, 70}, {77, 70, 2, 31, 38}, {5, 9, 1, 33}, {64, 17, 2, 20, 13},
      {41, 130, 4, 64, 64, 128, 256}, {9, 8, 1, 1}, {130, 24, 2, 100, 101}, {50, 5, 2, 4000, 4191},
  };
  int bad = 0;
  for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); ++k) {
    const int points = shapes[k][0], cout = shapes[k][1], inputs = shapes[k][2];
    int channels[4], total = 0;
    const uint32_t* x[4];
    for (int l = 0; l < inputs; ++l) channels[l] = shapes[k][3 + l], total += channels[l];
    for (int l = 0; l < inputs; ++l) x[l] = random_rows(points, channels[l]);
    uint32_t* filters = random_rows(cout, total);
    float* params = xmalloc(sizeof(float) * 4 * (size_t)cout);
    embed_params(params, cout);
    float *got = xmalloc(sizeof(float) * 2 * (size_t)cout), *ref = xmalloc(sizeof(float) * 2 * (size_t)cout);
    float* direct = xmalloc(sizeof(float) * 2 * (size_t)cout);
    int ran_got, ran_ref, ran_direct;
    bgnn_dispatch_set(BGNN_ISA_SCALAR);
    int ok = run_embed(points, inputs, channels, cout, x, filters, params, -1, ref, &ran_ref);
    bgnn_dispatch_set(isa);
    ok &= run_embed(points, inputs, channels, cout, x, filters, params, -1, got, &ran_got);
    ok &= run_embed(points, inputs, channels, cout, x, filters, params, 1, direct, &ran_direct);
    ok &= ran_got == 0 && ran_ref == 0;
    for (int c = 0; c < 2 * cout; ++c)
      ok &= float_bits(got[c]) == float_bits(ref[c]) && float_bits(got[c]) == float_bits(direct[c]);
    if (!ok && bad++ < 5) printf("embed_pool   %-8s MISMATCH points=%d channels_out=%d C=%d\n", name, points, cout, total);
    for (int l = 0; l < inputs; ++l) free((void*)x[l]);
    free(filters), free(params), free(got), free(ref), free(direct);
  }
  printf("embed_pool   %-8s %s\n", name, bad ? "MISMATCH" : "ok");
  failures += bad != 0;
}

static int embed_file(const char* in_path, const char* out_path) {
  FILE *in = fopen(in_path, "rb"), *out = fopen(out_path, "wb");
  int32_t cases;
  if (!in || !out || !read_i32(in, &cases)) return 2;
  for (int32_t k = 0; k < cases; ++k) {
    int32_t points, inputs, cout, direct, total = 0;
    int channels[BGNN_EMBED_MAX_INPUTS];
    if (!read_i32(in, &points) || !read_i32(in, &inputs) || !read_i32(in, &cout) || !read_i32(in, &direct)) return 2;
    if (inputs < 1 || inputs > BGNN_EMBED_MAX_INPUTS) return 2;
    for (int l = 0; l < inputs; ++l) {
      int32_t c;
      if (!read_i32(in, &c)) return 2;
      channels[l] = c, total += c;
    }
    uint32_t* x[BGNN_EMBED_MAX_INPUTS];
    for (int l = 0; l < inputs; ++l) {
      const size_t n = (size_t)points * bgnn_words(channels[l]);
      x[l] = xmalloc(sizeof(uint32_t) * n);
      if (fread(x[l], sizeof(uint32_t), n, in) != n) return 2;
    }
    const size_t nf = (size_t)cout * bgnn_words(total);
    uint32_t* filters = xmalloc(sizeof(uint32_t) * nf);
    float* params = xmalloc(sizeof(float) * 4 * (size_t)cout);
    float* y = xmalloc(sizeof(float) * 2 * (size_t)cout);
    if (fread(filters, sizeof(uint32_t), nf, in) != nf || fread(params, sizeof(float), 4 * (size_t)cout, in) != 4 * (size_t)cout)
      return 2;
    int ran;
    if (!run_embed(points, inputs, channels, cout, (const uint32_t* const*)x, filters, params, direct, y, &ran)) return 3;
    const int32_t ran32 = ran;
    fwrite(y, sizeof(float), 2 * (size_t)cout, out);
    fwrite(&ran32, sizeof(ran32), 1, out);
    for (int l = 0; l < inputs; ++l) free(x[l]);
    free(filters), free(params), free(y);
  }
  fclose(in);
  return fclose(out) == 0 ? 0 : 2;
}

/* ITERS runs of one BgnnEmbedPool (init outside the count) over `points` random points. */
static int bench_embed(int points, int cout, long iters, int inputs, char** widths) {
  int channels[BGNN_EMBED_MAX_INPUTS], total = 0;
  const uint32_t* x[BGNN_EMBED_MAX_INPUTS];
  if (inputs < 1 || inputs > BGNN_EMBED_MAX_INPUTS) return 2;
  for (int l = 0; l < inputs; ++l) channels[l] = atoi(widths[l]), total += channels[l];
  for (int l = 0; l < inputs; ++l) x[l] = random_rows(points, channels[l]);
  uint32_t* filters = random_rows(cout, total);
  float* params = xmalloc(sizeof(float) * 4 * (size_t)cout);
  float* y = xmalloc(sizeof(float) * 2 * (size_t)cout);
  embed_params(params, cout);
  bgnn_embed_pool p;
  if (!bgnn_embed_pool_init(&p, points, inputs, channels, cout, filters, params, 1)) return 2;
  double sum = 0;
  const double t0 = now_s();
  for (long it = 0; it < iters; ++it) {
    bgnn_embed_pool_run(&p, x, y);
    sum += y[it % (2 * cout)];
  }
  printf("checksum %.6g direct %d seconds %.9f\n", sum, p.direct, now_s() - t0);
  bgnn_embed_pool_free(&p);
  for (int l = 0; l < inputs; ++l) free((void*)x[l]);
  free(filters), free(params), free(y);
  return 0;
}

/* One binary BgnnEdgeConv (edgeconv.h) from IN's fields: 0 on success. */
static int edgeconv_case(FILE* in, FILE* out) {
  int32_t n, k, cin, cout;
  if (!read_i32(in, &n) || !read_i32(in, &k) || !read_i32(in, &cin) || !read_i32(in, &cout)) return 2;
  const size_t words = (size_t)bgnn_words(cin), xw = (size_t)n * words, iw = (size_t)n * k;
  const size_t ww = (size_t)cout * 2 * words, ow = (size_t)n * bgnn_words(cout);
  uint32_t* x = xmalloc(sizeof(uint32_t) * xw);
  int32_t* idx = xmalloc(sizeof(int32_t) * iw);
  uint32_t* w = xmalloc(sizeof(uint32_t) * ww);
  int32_t* mode = xmalloc(sizeof(int32_t) * cout);
  int32_t* bounds = xmalloc(sizeof(int32_t) * 2 * cout);
  uint32_t* y = xmalloc(sizeof(uint32_t) * ow);
  if (fread(x, 4, xw, in) != xw || fread(idx, 4, iw, in) != iw || fread(w, 4, ww, in) != ww ||
      fread(mode, 4, (size_t)cout, in) != (size_t)cout || fread(bounds, 4, 2 * (size_t)cout, in) != 2 * (size_t)cout)
    return 2;
  bgnn_edgeconv e;
  if (!bgnn_edgeconv_init(&e, n, k, cin, cout, 1, w, mode, bounds, 1)) return 3;
  bgnn_edgeconv_run(&e, x, idx, y);
  bgnn_edgeconv_free(&e);
  fwrite(y, 4, ow, out);
  free(x), free(idx), free(w), free(mode), free(bounds), free(y);
  return 0;
}

static int edgeconv_file(const char* in_path, const char* out_path) {
  FILE *in = fopen(in_path, "rb"), *out = fopen(out_path, "wb");
  int32_t cases;
  if (!in || !out || !read_i32(in, &cases)) return 2;
  for (int32_t c = 0; c < cases; ++c) {
    const int rc = edgeconv_case(in, out);
    if (rc) return rc;
  }
  fclose(in);
  return fclose(out) == 0 ? 0 : 2;
}

/* ITERS binary EdgeConvs (one thread) of n random points, k random neighbours, every rule
 * ANY_OUTSIDE (the extremes path), bounds around the counts. */
static int bench_edgeconv(int bits, int cout, int n, int k, long iters) {
  const int words = bgnn_words(bits);
  uint32_t* x = random_rows(n, bits);
  uint32_t* w = xmalloc(sizeof(uint32_t) * (size_t)cout * 2 * words);
  for (int c = 0; c < 2 * cout; ++c) {
    uint32_t* half = random_rows(1, bits);
    memcpy(w + (size_t)c * words, half, sizeof(uint32_t) * words);
    free(half);
  }
  int32_t* idx = xmalloc(sizeof(int32_t) * (size_t)n * k);
  for (int t = 0; t < n * k; ++t) idx[t] = (int32_t)(next_u32() % n);
  int32_t* mode = xmalloc(sizeof(int32_t) * cout);
  int32_t* bounds = xmalloc(sizeof(int32_t) * 2 * cout);
  for (int c = 0; c < cout; ++c) {
    mode[c] = BGNN_RULE_ANY_OUTSIDE;
    bounds[2 * c] = -2 * (int32_t)(next_u32() % (bits / 2 + 1)) - 2;
    bounds[2 * c + 1] = 2 * (int32_t)(next_u32() % (bits / 2 + 1)) + 2;
  }
  uint32_t* y = xmalloc(sizeof(uint32_t) * (size_t)n * bgnn_words(cout));
  bgnn_edgeconv e;
  if (!bgnn_edgeconv_init(&e, n, k, bits, cout, 1, w, mode, bounds, 1)) return 2;
  uint64_t sum = 0;
  const double t0 = now_s();
  for (long it = 0; it < iters; ++it) {
    bgnn_edgeconv_run(&e, x, idx, y);
    sum += y[it % n];
  }
  printf("checksum %llu seconds %.9f\n", (unsigned long long)sum, now_s() - t0);
  bgnn_edgeconv_free(&e);
  free(x), free(w), free(idx), free(mode), free(bounds), free(y);
  return 0;
}

static int read_n(FILE* in, void* p, size_t bytes) { return fread(p, 1, bytes, in) == bytes; }

static int fused_file(const char* in_path, const char* out_path) {
  FILE *in = fopen(in_path, "rb"), *out = fopen(out_path, "wb");
  int32_t cases, kind;
  if (!in || !out || !read_i32(in, &cases)) return 2;
  for (int32_t c = 0; c < cases; ++c) {
    if (!read_i32(in, &kind)) return 2;
    if (kind == 0) {
      int32_t d[4];
      if (!read_n(in, d, sizeof(d))) return 2;
      const int n = d[0], k = d[1], cin = d[2], cout = d[3], words = bgnn_words(cout);
      float* x = xmalloc(sizeof(float) * (size_t)n * cin);
      int32_t* idx = xmalloc(sizeof(int32_t) * (size_t)n * k);
      float* w = xmalloc(sizeof(float) * (size_t)cout * 2 * cin);
      int32_t* mode = xmalloc(sizeof(int32_t) * (size_t)cout);
      float* bounds = xmalloc(sizeof(float) * 2 * (size_t)cout);
      uint32_t* y = xmalloc(sizeof(uint32_t) * (size_t)n * words);
      if (!read_n(in, x, sizeof(float) * (size_t)n * cin) || !read_n(in, idx, sizeof(int32_t) * (size_t)n * k) ||
          !read_n(in, w, sizeof(float) * (size_t)cout * 2 * cin) || !read_n(in, mode, sizeof(int32_t) * (size_t)cout) ||
          !read_n(in, bounds, sizeof(float) * 2 * (size_t)cout))
        return 2;
      bgnn_edgeconv e;
      if (!bgnn_edgeconv_init(&e, n, k, cin, cout, 0, w, mode, bounds, 1)) return 3;
      bgnn_edgeconv_run(&e, x, idx, y);
      bgnn_edgeconv_free(&e);
      fwrite(y, sizeof(uint32_t), (size_t)n * words, out);
      free(x), free(idx), free(w), free(mode), free(bounds), free(y);
    } else {
      int32_t d[3];
      if (!read_n(in, d, sizeof(d))) return 2;
      const int n = d[0], ch = d[1], k = d[2];
      float* x = xmalloc(sizeof(float) * (size_t)n * ch);
      float* scratch = xmalloc(sizeof(float) * bgnn_l2_knn_scratch(n, ch, k, 1));
      int32_t* idx = xmalloc(sizeof(int32_t) * (size_t)n * k);
      if (!read_n(in, x, sizeof(float) * (size_t)n * ch)) return 2;
      bgnn_l2_knn(x, n, ch, k, idx, scratch);
      fwrite(idx, sizeof(int32_t), (size_t)n * k, out);
      free(x), free(scratch), free(idx);
    }
  }
  fclose(in);
  return fclose(out) == 0 ? 0 : 2;
}

int main(int argc, char** argv) {
  const bgnn_isa picked = bgnn_dispatch_init();
  if (argc > 1) {
    bgnn_isa isa;
    if (argc < 3 || !isa_by_name(argv[2], &isa)) {
      fprintf(stderr, "kernel_tests: unknown mode or ISA not supported here\n");
      return 2;
    }
    if (strcmp(argv[1], "bgemm") == 0 && argc == 5) return bgemm_file(argv[3], argv[4]);
    if (strcmp(argv[1], "fused") == 0 && argc == 5) return fused_file(argv[3], argv[4]);
    if (strcmp(argv[1], "bench") == 0 && argc == 7)
      return bench_bgemm(atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atol(argv[6]));
    if (strcmp(argv[1], "bench-knn") == 0 && argc == 7)
      return bench_knn(atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atol(argv[6]));
    if (strcmp(argv[1], "edgeconv") == 0 && argc == 5) return edgeconv_file(argv[3], argv[4]);
    if (strcmp(argv[1], "bench-edge") == 0 && argc == 8)
      return bench_edgeconv(atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), atol(argv[7]));
    if (strcmp(argv[1], "embed") == 0 && argc == 5) return embed_file(argv[3], argv[4]);
    if (strcmp(argv[1], "bench-embed") == 0 && argc >= 7)
      return bench_embed(atoi(argv[3]), atoi(argv[4]), atol(argv[5]), argc - 6, argv + 6);
    fprintf(stderr, "kernel_tests: bad arguments\n");
    return 2;
  }
  check_bitpack();
#define BGNN_VARIANT(isa, suffix)                                                   \
  if (bgnn_isa_supported(isa)) {                                                    \
    check_xor_popcount(bgnn_isa_name(isa), bgnn_xor_popcount__##suffix);            \
    check_bgemm(bgnn_isa_name(isa), isa);                                           \
    check_edge_extremes(bgnn_isa_name(isa), isa);                                   \
    bgnn_dispatch_set(isa);                                                         \
    check_knn_with_variant(bgnn_isa_name(isa));                                     \
    check_embed(bgnn_isa_name(isa), isa);                                           \
  } else {                                                                          \
    printf("%-21s skipped (CPU lacks it)\n", bgnn_isa_name(isa));                   \
  }
#include "../core/kernels.inc"
#undef BGNN_VARIANT
  printf("dispatch picks %s\n", bgnn_isa_name(picked));
  return failures ? 1 : 0;
}
