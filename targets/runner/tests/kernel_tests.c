/* Every ISA variant of every kernel against the scalar reference, for exact equality,
 * on fixed-seed inputs over shapes that hit the edges (1 and 2 bits past a word
 * boundary, single words, long rows). Variants the CPU lacks are skipped, said so.
 * Runs natively and under qemu-aarch64 for NEON. Prints one line per check; exit 1
 * on any mismatch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/bitpack.h"
#include "../core/dispatch.h"
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

static void check_knn_with_variant(const char* name) {
  /* Few channels -> many equal distances: the tie rule is exercised on every row. */
  const int n = 67, channels = 33, words = bgnn_words(channels), k = 9;
  uint32_t x[67 * 2];
  for (int i = 0; i < n * words; ++i) x[i] = next_u32();
  for (int i = 0; i < n; ++i) x[i * words + 1] &= 1u; /* channels 33..63 are padding */
  int32_t got[67 * 9];
  int32_t* scratch = malloc(sizeof(int32_t) * bgnn_hamming_knn_scratch(n, words));
  if (!scratch || !bgnn_hamming_knn(x, n, words, k, got, scratch)) {
    printf("hamming_knn  %-8s allocation failed\n", name);
    failures++;
    free(scratch);
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

int main(void) {
  bgnn_dispatch_init();
  check_bitpack();
#define BGNN_XOR_POPCOUNT(isa, fn)                                                   \
  if (bgnn_isa_supported(isa)) {                                                     \
    check_xor_popcount(bgnn_isa_name(isa), fn);                                      \
    bgnn_xor_popcount = fn;                                                          \
    check_knn_with_variant(bgnn_isa_name(isa));                                      \
  } else {                                                                           \
    printf("xor_popcount %-8s skipped (CPU lacks it)\n", bgnn_isa_name(isa));        \
  }
#include "../core/xor_popcount.inc"
#undef BGNN_XOR_POPCOUNT
  printf("dispatch picks %s\n", bgnn_isa_name(bgnn_dispatch_init()));
  return failures ? 1 : 0;
}
