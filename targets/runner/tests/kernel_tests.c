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
 *   kernel_tests fused ISA IN OUT                 float EdgeConv and L2 k-NN cases from IN -> OUT
 *
 * IN: int32 cases, then per case int32 rows, words32, channels_out, the rows (rows x
 * words32 uint32) and the filters (channels_out x words32); OUT: per case rows x
 * channels_out int32 counts. fused's IN: int32 cases, then per case int32 kind: 0 (float
 * EdgeConv) with int32 n, k, channels_in, channels_out, then x (n x channels_in float),
 * indices (n x k int32), weights (channels_out x 2 channels_in float), modes
 * (channels_out int32) and bounds (channels_out x 2 float), writing the packed output
 * (n x words(channels_out) uint32); or 1 (L2 k-NN) with int32 n, channels, k, then x
 * (n x channels float), writing the indices (n x k int32). The bench modes exist to be counted under qemu's instruction
 * plugin or timed: they print a checksum (so that nothing is optimised away) and the
 * seconds the passes took.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/bgemm.h"
#include "../core/bitpack.h"
#include "../core/dispatch.h"
#include "../core/edgeconv.h"
#include "../core/l2_knn.h"
#include "../core/hamming_knn.h"
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

static void check_knn_with_variant(const char* name) {
  /* Few channels -> many equal distances: the tie rule is exercised on every row. */
  const int n = 67, channels = 33, words = bgnn_words(channels), k = 9;
  uint32_t* x = random_rows(n, channels);
  int32_t got[67 * 9];
  int32_t* scratch = xmalloc(sizeof(int32_t) * bgnn_hamming_knn_scratch(n, words));
  if (!bgnn_hamming_knn(x, n, words, k, got, scratch)) {
    printf("hamming_knn  %-8s allocation failed\n", name);
    failures++;
    free(scratch), free(x);
    return;
  }
  free(scratch);
  int bad = 0;
  for (int i = 0; i < n; ++i) {
    /* brute force: the k smallest (distance, index) pairs in order */
    int used[67] = {0};
    for (int slot = 0; slot < k; ++slot) {
      int best = -1, best_d = 1 << 30;
      for (int j = 0; j < n; ++j) {
        if (used[j]) continue;
        int d = bgnn_xor_popcount__scalar(x + i * words, x + j * words, words);
        if (d < best_d) { best_d = d; best = j; }
      }
      used[best] = 1;
      if (got[i * k + slot] != best) bad++;
    }
  }
  free(x);
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
    fprintf(stderr, "kernel_tests: bad arguments\n");
    return 2;
  }
  check_bitpack();
#define BGNN_VARIANT(isa, suffix)                                                   \
  if (bgnn_isa_supported(isa)) {                                                    \
    check_xor_popcount(bgnn_isa_name(isa), bgnn_xor_popcount__##suffix);            \
    check_bgemm(bgnn_isa_name(isa), isa);                                           \
    bgnn_dispatch_set(isa);                                                         \
    check_knn_with_variant(bgnn_isa_name(isa));                                     \
  } else {                                                                          \
    printf("%-21s skipped (CPU lacks it)\n", bgnn_isa_name(isa));                   \
  }
#include "../core/kernels.inc"
#undef BGNN_VARIANT
  printf("dispatch picks %s\n", bgnn_isa_name(picked));
  return failures ? 1 : 0;
}
