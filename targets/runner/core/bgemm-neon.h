/* The NEON binary GEMM's packed filters and its 128-bit chunk step (bgemm-neon.c), for
 * the kernels that run on the same packed filters (embed_stats-neon.c).
 *
 * Layouts (bgnn_bgemm_filters.layout when the neon variant packed them):
 * - LAYOUT_ONE_WORD (rows of one 64-bit word): [tile][TILE_1 filters] words.
 * - LAYOUT_CHUNKS (longer rows): [tile][chunk][TILE_N filters][2 words], a chunk being
 *   128 bits of the row; the upper half of an odd last word's chunk and the filters of a
 *   partial last tile are zero.
 */
#ifndef BGNN_CORE_BGEMM_NEON_H
#define BGNN_CORE_BGEMM_NEON_H

#define TILE_1 16 /* filters per tile, rows of one word */
#define TILE_N 8  /* filters per tile, longer rows */
enum { LAYOUT_ONE_WORD = 1, LAYOUT_CHUNKS = 2 };

/* The 16 filter words of a one-word tile into v16-v23, or one chunk of 8 filters. */
#define LOAD_FILTERS                                     \
  "ld1 {v16.16b, v17.16b, v18.16b, v19.16b}, [%[F]], #64\n\t" \
  "ld1 {v20.16b, v21.16b, v22.16b, v23.16b}, [%[F]], #64\n\t"

/* Row X against the filters F0..F7: 8 EOR + 8 CNT into T0..T7, then the ADDP tree into
 * T0 (the 16 bytes of F_m's counts land, summed, in bytes 2m and 2m+1). */
#define EOR_CNT_TREE_OF(X, F0, F1, F2, F3, F4, F5, F6, F7, T0, T1, T2, T3, T4, T5, T6, T7) \
  "eor " T0 ".16b, " F0 ".16b, " X ".16b\n\t"                                 \
  "eor " T1 ".16b, " F1 ".16b, " X ".16b\n\t"                                 \
  "eor " T2 ".16b, " F2 ".16b, " X ".16b\n\t"                                 \
  "eor " T3 ".16b, " F3 ".16b, " X ".16b\n\t"                                 \
  "cnt " T0 ".16b, " T0 ".16b\n\t"                                             \
  "eor " T4 ".16b, " F4 ".16b, " X ".16b\n\t"                                 \
  "cnt " T1 ".16b, " T1 ".16b\n\t"                                             \
  "eor " T5 ".16b, " F5 ".16b, " X ".16b\n\t"                                 \
  "cnt " T2 ".16b, " T2 ".16b\n\t"                                             \
  "eor " T6 ".16b, " F6 ".16b, " X ".16b\n\t"                                 \
  "cnt " T3 ".16b, " T3 ".16b\n\t"                                             \
  "eor " T7 ".16b, " F7 ".16b, " X ".16b\n\t"                                 \
  "cnt " T4 ".16b, " T4 ".16b\n\t"                                             \
  "addp " T0 ".16b, " T0 ".16b, " T1 ".16b\n\t"                                \
  "cnt " T5 ".16b, " T5 ".16b\n\t"                                             \
  "cnt " T6 ".16b, " T6 ".16b\n\t"                                             \
  "addp " T2 ".16b, " T2 ".16b, " T3 ".16b\n\t"                                \
  "cnt " T7 ".16b, " T7 ".16b\n\t"                                             \
  "addp " T4 ".16b, " T4 ".16b, " T5 ".16b\n\t"                                \
  "addp " T0 ".16b, " T0 ".16b, " T2 ".16b\n\t"                                \
  "addp " T6 ".16b, " T6 ".16b, " T7 ".16b\n\t"                                \
  "addp " T4 ".16b, " T4 ".16b, " T6 ".16b\n\t"                                \
  "addp " T0 ".16b, " T0 ".16b, " T4 ".16b\n\t"

/* Row X against the filters LOAD_FILTERS put in v16-v23. */
#define EOR_CNT_TREE(X, T0, T1, T2, T3, T4, T5, T6, T7) \
  EOR_CNT_TREE_OF(X, "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", T0, T1, T2, T3, T4, T5, T6, T7)

#endif
