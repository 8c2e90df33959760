/* The NEON variant of the binary GEMM (bgemm.h): AArch64 Advanced SIMD, inner loops in
 * inline assembly (the instruction count per MAC is the point; compilers add register
 * moves, spills and reloads around intrinsics here), C around them.
 *
 * popcount(x XOR f) of a 128-bit chunk: EOR, then CNT (bits per byte, 0..8). The 16 byte
 * counts of one (row, filter) pair must end up as one number; ADDP (pairwise add of the
 * adjacent bytes of two vectors) halves the bytes per pair and works on two vectors at
 * once, so a tree of 7 ADDPs folds 8 vectors into 1, order kept: the 16 bytes of vector j
 * land, summed, in bytes 2j and 2j+1 (LCE's aarch64 bgemm; DESIGN.md §7). Two tiles:
 *
 * - rows of one 64-bit word (K <= 64): 4 rows x 16 filters. A filter vector holds the
 *   words of two filters, the row is broadcast to both lanes (LD1R). Per row: 8 EOR +
 *   8 CNT give 16 pairs x 8 bytes; the 7 ADDPs leave one byte per filter (<= 64), in
 *   filter order; ST4 of {counts, 0, 0, 0} interleaves each byte with three zero bytes,
 *   which writes the 16 counts as little-endian int32 in one instruction. Per tile:
 *   2 loads + 4 x 24 + 2 loop = 100 instructions for 4096 MACs.
 * - longer rows: 4 rows x 8 filters, K in 128-bit chunks. Per row and chunk: 8 EOR +
 *   8 CNT, 7 ADDPs to two bytes per filter (<= 64 each), then one UADDLP (first chunk) or
 *   UADALP (later ones) adding each byte pair into eight 16-bit counts; ST2 of
 *   {counts, 0} writes them as eight int32. Per chunk: 2 filter loads + 4 row loads +
 *   4 x 24 + 2 loop = 104 instructions for 4096 MACs; rows of one chunk (K <= 128) stay in
 *   registers across tiles (100 per tile). An odd last 64-bit word is one more chunk whose
 *   upper half is zero, in the packed filters and in a 4-row copy made once per block.
 *   16-bit counts grow by <= 128 per chunk: rows above SEG chunks (65,408 bits) run in
 *   segments of at most SEG chunks whose int32 results are summed in C.
 *
 * Filter tiles are zero-padded; a partial last tile is computed into a local buffer and
 * its valid columns copied, so the kernel never writes outside acc.
 *
 * Counted under qemu (kernel_tests bench: load_rows + block over 1024 rows, the scalar
 * variant in brackets), binary MACs per aarch64 instruction: rows of 64 bits x 64 / 128 /
 * 1024 filters 33.4 / 36.8 / 40.4 (15.4 / 16.7 / 18.1); 128 bits x 64 / 128 / 256 / 1024
 * 34.2 / 36.6 / 37.9 / 39.0 (15.1-17.2); 256 x 256 36.5 (16.5); 512 x 1024 38.2 (18.3).
 * test_kernels.py pins >= 30 for these shapes.
 */
#if defined(__aarch64__)
#include <assert.h>
#include <stdlib.h>

#include "bgemm-neon.h"
#include "bgemm.h"

#define SEG 511 /* chunks per 16-bit accumulation (whole ones and a tail): 511 * 128 < 65536 */

/* one word: [tile][16 filters] words; else [tile][chunk][8 filters][2 words] */
int bgnn_bgemm_pack__neon(bgnn_bgemm_filters* f, const uint32_t* filter, int channels_out, int words32) {
  const int W = (words32 + 1) / 2, C = (W + 1) / 2;
  const int one = W == 1, tile = one ? TILE_1 : TILE_N;
  f->channels_out = channels_out;
  f->words64 = W;
  f->layout = one ? LAYOUT_ONE_WORD : LAYOUT_CHUNKS;
  f->tiles = (channels_out + tile - 1) / tile;
  const size_t per_tile = one ? TILE_1 : (size_t)C * TILE_N * 2;
  f->packed = calloc((size_t)f->tiles * per_tile, sizeof(uint64_t));
  if (!f->packed) return 0;
  for (int o = 0; o < channels_out; ++o) {
    const uint32_t* src = filter + (size_t)o * words32;
    uint64_t* dst = f->packed + (size_t)(o / tile) * per_tile;
    for (int w = 0; w < W; ++w) {
      const uint64_t v = bgnn_bgemm_word(src, w, words32);
      if (one)
        dst[o % TILE_1] = v;
      else
        dst[((size_t)(w / 2) * TILE_N + o % TILE_N) * 2 + w % 2] = v;
    }
  }
  return 1;
}

/* One-word tile row: counts of 16 filters into v28, stored as int32 (v29-v31 are 0). */
#define ROW_1X16(X, OUT)                                                      \
  EOR_CNT_TREE(X, "v28", "v4", "v5", "v6", "v7", "v24", "v25", "v26")        \
  "st4 {v28.16b, v29.16b, v30.16b, v31.16b}, [%[" OUT "]], #64\n\t"

/* `tiles` (>= 1) one-word tiles at F; out pointers advance 16 int32 per tile. */
static void tiles_1x16(const uint64_t* F, long tiles, const uint64_t* xs, int32_t* o0, int32_t* o1, int32_t* o2,
                       int32_t* o3) {
  const uint64_t *x1 = xs + 1, *x2 = xs + 2, *x3 = xs + 3;
  __asm__ volatile(
      "ld1r {v0.2d}, [%[x0]]\n\t"
      "ld1r {v1.2d}, [%[x1]]\n\t"
      "ld1r {v2.2d}, [%[x2]]\n\t"
      "ld1r {v3.2d}, [%[x3]]\n\t"
      "movi v29.16b, #0\n\t"
      "movi v30.16b, #0\n\t"
      "movi v31.16b, #0\n"
      "1:\n\t" LOAD_FILTERS ROW_1X16("v0", "o0") ROW_1X16("v1", "o1") ROW_1X16("v2", "o2") ROW_1X16("v3", "o3")
      "subs %[n], %[n], #1\n\t"
      "b.ne 1b\n\t"
      : [F] "+r"(F), [n] "+r"(tiles), [o0] "+r"(o0), [o1] "+r"(o1), [o2] "+r"(o2), [o3] "+r"(o3)
      : [x0] "r"(xs), [x1] "r"(x1), [x2] "r"(x2), [x3] "r"(x3)
      : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23",
        "v24", "v25", "v26", "v28", "v29", "v30", "v31", "cc", "memory");
}

/* Rows v0-v3 against one chunk of 8 filters at F, into the 16-bit counts v4, v6, v8, v10
 * with OP (uaddlp: the first chunk; uadalp: the others). */
#define CHUNK_4X8(OP)                                                     \
  LOAD_FILTERS                                                            \
  EOR_CNT_TREE("v0", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31") \
  OP " v4.8h, v24.16b\n\t"                                                \
  EOR_CNT_TREE("v1", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31") \
  OP " v6.8h, v24.16b\n\t"                                                \
  EOR_CNT_TREE("v2", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31") \
  OP " v8.8h, v24.16b\n\t"                                                \
  EOR_CNT_TREE("v3", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31") \
  OP " v10.8h, v24.16b\n\t"

#define LOAD_ROWS               \
  "ldr q0, [%[p0]], #16\n\t"    \
  "ldr q1, [%[p1]], #16\n\t"    \
  "ldr q2, [%[p2]], #16\n\t"    \
  "ldr q3, [%[p3]], #16\n\t"

/* Counts v4, v6, v8, v10 (v5, v7, v9, v11 are 0) as int32; out pointers advance 8. */
#define STORE_4X8                        \
  "st2 {v4.8h, v5.8h}, [%[o0]], #32\n\t"  \
  "st2 {v6.8h, v7.8h}, [%[o1]], #32\n\t"  \
  "st2 {v8.8h, v9.8h}, [%[o2]], #32\n\t"  \
  "st2 {v10.8h, v11.8h}, [%[o3]], #32\n\t"

#define ZERO_PARTNERS         \
  "movi v5.16b, #0\n\t"       \
  "movi v7.16b, #0\n\t"       \
  "movi v9.16b, #0\n\t"       \
  "movi v11.16b, #0\n\t"

#define CHUNK_CLOBBERS                                                                                   \
  "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v16", "v17", "v18", "v19", "v20", \
      "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31", "cc", "memory"

/* `tiles` (>= 1) tiles of one chunk (W == 2): the rows stay in v0-v3 across tiles. */
static void tiles_4x8_one_chunk(const uint64_t* F, long tiles, const uint64_t* xs, int32_t* o0, int32_t* o1,
                                int32_t* o2, int32_t* o3) {
  __asm__ volatile(
      "ldp q0, q1, [%[xs]]\n\t"
      "ldp q2, q3, [%[xs], #32]\n\t" ZERO_PARTNERS
      "1:\n\t" CHUNK_4X8("uaddlp") STORE_4X8
      "subs %[n], %[n], #1\n\t"
      "b.ne 1b\n\t"
      : [F] "+r"(F), [n] "+r"(tiles), [o0] "+r"(o0), [o1] "+r"(o1), [o2] "+r"(o2), [o3] "+r"(o3)
      : [xs] "r"(xs)
      : CHUNK_CLOBBERS);
}

/* `tiles` (>= 1) tiles, each over `chunks` (>= 1) whole chunks of the rows x0..x3 and, if
 * `tail` is not NULL, one more chunk of the 4 x 2 words at tail. F advances over them. */
static void tiles_4x8(const uint64_t* F, long tiles, const uint64_t* const x[4], long chunks, const uint64_t* tail,
                      int32_t* o0, int32_t* o1, int32_t* o2, int32_t* o3) {
  const uint64_t *p0, *p1, *p2, *p3;
  long n;
  __asm__ volatile(
      ZERO_PARTNERS
      "1:\n\t"
      "mov %[p0], %[x0]\n\t"
      "mov %[p1], %[x1]\n\t"
      "mov %[p2], %[x2]\n\t"
      "mov %[p3], %[x3]\n\t"
      "mov %[n], %[chunks]\n\t" LOAD_ROWS CHUNK_4X8("uaddlp")
      "subs %[n], %[n], #1\n\t"
      "b.eq 3f\n"
      "2:\n\t" LOAD_ROWS CHUNK_4X8("uadalp")
      "subs %[n], %[n], #1\n\t"
      "b.ne 2b\n"
      "3:\n\t"
      "cbz %[tail], 4f\n\t"
      "ldp q0, q1, [%[tail]]\n\t"
      "ldp q2, q3, [%[tail], #32]\n\t" CHUNK_4X8("uadalp")
      "4:\n\t" STORE_4X8
      "subs %[tiles], %[tiles], #1\n\t"
      "b.ne 1b\n\t"
      : [F] "+r"(F), [tiles] "+r"(tiles), [o0] "+r"(o0), [o1] "+r"(o1), [o2] "+r"(o2), [o3] "+r"(o3),
        [p0] "=&r"(p0), [p1] "=&r"(p1), [p2] "=&r"(p2), [p3] "=&r"(p3), [n] "=&r"(n)
      : [x0] "r"(x[0]), [x1] "r"(x[1]), [x2] "r"(x[2]), [x3] "r"(x[3]), [chunks] "r"(chunks), [tail] "r"(tail)
      : CHUNK_CLOBBERS);
}

/* Copies the valid columns of a partial last tile (computed into tmp, `width` wide). */
static void copy_partial(int32_t* acc, int n, int col0, const int32_t* tmp, int width) {
  for (int r = 0; r < BGNN_BGEMM_ROWS; ++r)
    memcpy(acc + (size_t)r * n + col0, tmp + r * width, sizeof(int32_t) * (size_t)(n - col0));
}

__attribute__((noinline)) static void block_one_word(const bgnn_bgemm_filters* f, const uint64_t* xs, int32_t* acc) {
  const int n = f->channels_out, full = n / TILE_1;
  if (full > 0) tiles_1x16(f->packed, full, xs, acc, acc + n, acc + 2 * n, acc + 3 * n);
  if (full < f->tiles) {
    int32_t tmp[BGNN_BGEMM_ROWS * TILE_1];
    tiles_1x16(f->packed + (size_t)full * TILE_1, 1, xs, tmp, tmp + TILE_1, tmp + 2 * TILE_1, tmp + 3 * TILE_1);
    copy_partial(acc, n, full * TILE_1, tmp, TILE_1);
  }
}

__attribute__((noinline)) static void block_chunks(const bgnn_bgemm_filters* f, const uint64_t* xs, int32_t* acc) {
  const int n = f->channels_out, full = n / TILE_N, W = f->words64, C = (W + 1) / 2;
  const size_t per_tile = (size_t)C * TILE_N * 2;
  int32_t tmp[BGNN_BGEMM_ROWS * TILE_N];
  int32_t* const t4[4] = {tmp, tmp + TILE_N, tmp + 2 * TILE_N, tmp + 3 * TILE_N};
  if (W == 2) {
    if (full > 0) tiles_4x8_one_chunk(f->packed, full, xs, acc, acc + n, acc + 2 * n, acc + 3 * n);
    if (full < f->tiles) {
      tiles_4x8_one_chunk(f->packed + full * per_tile, 1, xs, t4[0], t4[1], t4[2], t4[3]);
      copy_partial(acc, n, full * TILE_N, tmp, TILE_N);
    }
    return;
  }
  const uint64_t* const x[4] = {xs, xs + W, xs + 2 * W, xs + 3 * W};
  uint64_t tail_rows[BGNN_BGEMM_ROWS * 2] = {0}; /* an odd last word, zero upper halves */
  const uint64_t* tail = NULL;
  if (W % 2) {
    for (int r = 0; r < BGNN_BGEMM_ROWS; ++r) tail_rows[2 * r] = xs[(size_t)r * W + W - 1];
    tail = tail_rows;
  }
  if (C <= SEG) {
    if (full > 0) tiles_4x8(f->packed, full, x, W / 2, tail, acc, acc + n, acc + 2 * n, acc + 3 * n);
    if (full < f->tiles) {
      tiles_4x8(f->packed + full * per_tile, 1, x, W / 2, tail, t4[0], t4[1], t4[2], t4[3]);
      copy_partial(acc, n, full * TILE_N, tmp, TILE_N);
    }
    return;
  }
  /* rows above SEG chunks: each tile in segments of SEG chunks, int32 sums in C */
  for (int t = 0; t < f->tiles; ++t) {
    int32_t sum[BGNN_BGEMM_ROWS * TILE_N] = {0};
    for (int c0 = 0; c0 < W / 2; c0 += SEG - 1) {
      const int whole = W / 2 - c0 < SEG - 1 ? W / 2 - c0 : SEG - 1;
      const int last = c0 + whole == W / 2;
      const uint64_t* const xc[4] = {x[0] + 2 * c0, x[1] + 2 * c0, x[2] + 2 * c0, x[3] + 2 * c0};
      tiles_4x8(f->packed + t * per_tile + (size_t)c0 * TILE_N * 2, 1, xc, whole, last ? tail : NULL, t4[0], t4[1],
                t4[2], t4[3]);
      for (int i = 0; i < BGNN_BGEMM_ROWS * TILE_N; ++i) sum[i] += tmp[i];
    }
    const int cols = n - t * TILE_N < TILE_N ? n - t * TILE_N : TILE_N;
    for (int r = 0; r < BGNN_BGEMM_ROWS; ++r)
      memcpy(acc + (size_t)r * n + t * TILE_N, sum + r * TILE_N, sizeof(int32_t) * (size_t)cols);
  }
}

void bgnn_bgemm_block__neon(const bgnn_bgemm_filters* f, const uint64_t* xs, int32_t* acc) {
  assert(f->layout == LAYOUT_ONE_WORD || f->layout == LAYOUT_CHUNKS);
  if (f->layout == LAYOUT_ONE_WORD)
    block_one_word(f, xs, acc);
  else
    block_chunks(f, xs, acc);
}
#endif
