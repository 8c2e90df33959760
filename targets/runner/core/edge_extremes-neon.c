/* The NEON variant of the edge extremes (edge_extremes.h): AArch64 Advanced SIMD, one
 * node's pass over its neighbours and its rules in inline assembly, for rows of one or two
 * 64-bit words (K <= 128, bgemm-neon.c's one-word and one-chunk layouts); longer rows take
 * the bgemm path (edge_extremes.c).
 *
 * Per node and pair of filter tiles (32 filters of one word, or 16 of two words): the
 * filters are loaded into v16-v31 and XORed with x_i once. Per neighbour j: its row is
 * loaded from x through nb[j] (one LDR with the index scaled; for rows of three 32-bit
 * words an LDR and a lane load, which leave the missing fourth word 0), then per tile
 * 8 EOR + 8 CNT + the 7-ADDP tree of bgemm-neon.c. A one-word tile's tree leaves one byte
 * per filter (<= 64); a two-word tile's leaves two half counts per filter, and one more
 * ADDP of the two tiles' trees gives one byte per filter (<= 128). UMAX / UMIN fold them
 * into running maxima and minima in registers. Two neighbours per iteration (one LDP of
 * their indices): per two, 1 + 2 row loads + 2 DUP + 4 x 23 + 8 + 2 loop = 107
 * instructions for 32 filters of 64 bits (1.67 per neighbour and filter), 1 + 2 + 92 + 2
 * + 4 + 2 = 103 for 16 of 128 bits (3.22).
 *
 * Then the rules, per 16 filters: the centre counts r (int32) narrowed to int16 (UZP1),
 * r - qmax and r - qmin by USUBW, compared with the cuts a and b (CMGE), ANDed, XORed
 * with flip, narrowed to byte masks; ANDed with the bit weights 1, 2, ..., 128 and summed
 * by ADDPs into the output bits (32 per pair of one-word tiles, 16 per pair of two-word
 * tiles): about 25 instructions per 16 filters per node. Nothing per edge reaches memory.
 *
 * A lone last tile runs as a pair with itself: the copy's channels lie past channels_out,
 * where the padded cuts make every bit 0.
 */
#if defined(__aarch64__)
#include <assert.h>

#include "bgemm-neon.h"
#include "edge_extremes.h"

/* The row of index register J into v0, by 32-bit words per row. */
#define ROW_X1(J) "ldr s0, [%[x], %x[" J "], lsl #2]\n\t"
#define ROW_X2(J) "ldr d0, [%[x], %x[" J "], lsl #3]\n\t"
#define ROW_X3(J)                                 \
  "add %x[" J "], %x[" J "], %x[" J "], lsl #1\n\t" \
  "add %x[" J "], %[x], %x[" J "], lsl #2\n\t"      \
  "ldr d0, [%x[" J "]], #8\n\t"                     \
  "ld1 {v0.s}[2], [%x[" J "]]\n\t"
#define ROW_X4(J) "ldr q0, [%[x], %x[" J "], lsl #4]\n\t"

/* BODY (one neighbour, its row in v0) for each of the k neighbours at nb: one alone if k
 * is odd, then two per iteration (one LDP of their indices, one loop branch). */
#define NEIGHBOURS(ROW, BODY)                          \
  "tbz %[k], #0, 2f\n\t"                               \
  "ldr %w[j], [%[nb]], #4\n\t" ROW("j") BODY           \
  "subs %[k], %[k], #1\n\t"                            \
  "b.eq 3f\n"                                          \
  "2:\n\t"                                             \
  "ldp %w[j], %w[j2], [%[nb]], #8\n\t" ROW("j") BODY ROW("j2") BODY \
  "subs %[k], %[k], #2\n\t"                            \
  "b.ne 2b\n"                                          \
  "3:\n\t"

/* v0 against the filters F0..F7 (bgemm-neon.h): byte 2m and 2m+1 of T0 hold the low and
 * high 64 bits of F_m's counts, summed. */
#define TREE(F0, F1, F2, F3, F4, F5, F6, F7, T0, T1, T2, T3, T4, T5, T6, T7) \
  EOR_CNT_TREE_OF("v0", F0, F1, F2, F3, F4, F5, F6, F7, T0, T1, T2, T3, T4, T5, T6, T7)

#define TREE_A TREE("v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12")
#define TREE_B TREE("v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12")
/* tile B's tree into v13, keeping tile A's in v5 */
#define TREE_B13 TREE("v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31", "v13", "v6", "v7", "v8", "v9", "v10", "v11", "v12")

/* Both tiles' filters (16 vectors at fa, fb) into v16-v31, XORed with v0 (x_i). */
#define LOAD_XOR_FILTERS                                    \
  "ld1 {v16.16b, v17.16b, v18.16b, v19.16b}, [%[fa]], #64\n\t" \
  "ld1 {v20.16b, v21.16b, v22.16b, v23.16b}, [%[fa]]\n\t"      \
  "ld1 {v24.16b, v25.16b, v26.16b, v27.16b}, [%[fb]], #64\n\t" \
  "ld1 {v28.16b, v29.16b, v30.16b, v31.16b}, [%[fb]]\n\t"      \
  "eor v16.16b, v16.16b, v0.16b\n\t"                          \
  "eor v17.16b, v17.16b, v0.16b\n\t"                          \
  "eor v18.16b, v18.16b, v0.16b\n\t"                          \
  "eor v19.16b, v19.16b, v0.16b\n\t"                          \
  "eor v20.16b, v20.16b, v0.16b\n\t"                          \
  "eor v21.16b, v21.16b, v0.16b\n\t"                          \
  "eor v22.16b, v22.16b, v0.16b\n\t"                          \
  "eor v23.16b, v23.16b, v0.16b\n\t"                          \
  "eor v24.16b, v24.16b, v0.16b\n\t"                          \
  "eor v25.16b, v25.16b, v0.16b\n\t"                          \
  "eor v26.16b, v26.16b, v0.16b\n\t"                          \
  "eor v27.16b, v27.16b, v0.16b\n\t"                          \
  "eor v28.16b, v28.16b, v0.16b\n\t"                          \
  "eor v29.16b, v29.16b, v0.16b\n\t"                          \
  "eor v30.16b, v30.16b, v0.16b\n\t"                          \
  "eor v31.16b, v31.16b, v0.16b\n\t"

/* The rules for 16 filters with maxima VMAX and minima VMIN (bytes): byte masks into RES,
 * 0xff where the bit is 1; r, a, b, f advance by 16 entries. */
#define RULES16(VMAX, VMIN, RES)                                  \
  "ld1 {v16.4s, v17.4s, v18.4s, v19.4s}, [%[r]], #64\n\t"          \
  "uzp1 v16.8h, v16.8h, v17.8h\n\t"                               \
  "uzp1 v17.8h, v18.8h, v19.8h\n\t"                               \
  "usubw v18.8h, v16.8h, " VMAX ".8b\n\t"                         \
  "usubw2 v19.8h, v17.8h, " VMAX ".16b\n\t"                       \
  "usubw v20.8h, v16.8h, " VMIN ".8b\n\t"                         \
  "usubw2 v21.8h, v17.8h, " VMIN ".16b\n\t"                       \
  "ld1 {v22.8h, v23.8h}, [%[a]], #32\n\t"                         \
  "cmge v18.8h, v18.8h, v22.8h\n\t"                               \
  "cmge v19.8h, v19.8h, v23.8h\n\t"                               \
  "ld1 {v22.8h, v23.8h}, [%[b]], #32\n\t"                         \
  "cmge v20.8h, v22.8h, v20.8h\n\t"                               \
  "cmge v21.8h, v23.8h, v21.8h\n\t"                               \
  "and v18.16b, v18.16b, v20.16b\n\t"                             \
  "and v19.16b, v19.16b, v21.16b\n\t"                             \
  "ld1 {v22.8h, v23.8h}, [%[f]], #32\n\t"                         \
  "eor v18.16b, v18.16b, v22.16b\n\t"                             \
  "eor v19.16b, v19.16b, v23.16b\n\t"                             \
  "uzp1 " RES ".16b, v18.16b, v19.16b\n\t"

#define CLOBBERS                                                                                                 \
  "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13", "v16", "v17", "v18", "v19", \
      "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31", "cc", "memory"

#define OPERANDS                                                                                          \
  : [fa] "+r"(fa), [fb] "+r"(fb), [nb] "+r"(nb), [k] "+r"(k), [r] "+r"(r), [a] "+r"(a), [b] "+r"(b),       \
    [f] "+r"(f), [j] "=&r"(j), [j2] "=&r"(j2)                                                             \
  : [xi] "r"(xi), [x] "r"(x), [wt] "r"(k_weights), [out] "r"(out)                                        \
  : CLOBBERS

/* bit t of each 8 filters */
static const uint8_t k_weights[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};

/* Rows of one word: 32 filters (tiles fa, fb of 16), maxima in v1 / v2, minima in v3 /
 * v4; 32 output bits at out. */
#define BODY_ONE_WORD                  \
  "dup v0.2d, v0.d[0]\n\t" TREE_A         \
  "umax v1.16b, v1.16b, v5.16b\n\t"       \
  "umin v3.16b, v3.16b, v5.16b\n\t" TREE_B \
  "umax v2.16b, v2.16b, v5.16b\n\t"       \
  "umin v4.16b, v4.16b, v5.16b\n\t"

#define BODY_TWO_WORDS                    \
  TREE_A TREE_B13                         \
  "addp v5.16b, v5.16b, v13.16b\n\t"      \
  "umax v1.16b, v1.16b, v5.16b\n\t"       \
  "umin v3.16b, v3.16b, v5.16b\n\t"

#define PAIR_ONE_WORD(name, ROW)                                                                              \
  static void name(const uint64_t* fa, const uint64_t* fb, const uint64_t* xi, const uint32_t* x, const int32_t* nb, \
                   long k, const int32_t* r, const int16_t* a, const int16_t* b, const int16_t* f, void* out) {   \
    long j, j2;                                                                                                  \
    __asm__ volatile("ld1r {v0.2d}, [%[xi]]\n\t" LOAD_XOR_FILTERS                                                \
                     "movi v1.16b, #0\n\t"                                                                       \
                     "movi v2.16b, #0\n\t"                                                                       \
                     "movi v3.16b, #0xff\n\t"                                                                    \
                     "movi v4.16b, #0xff\n\t" NEIGHBOURS(ROW, BODY_ONE_WORD)                                   \
                         RULES16("v1", "v3", "v25") RULES16("v2", "v4", "v26")                           \
                     "ldr q24, [%[wt]]\n\t"                                                                      \
                     "and v25.16b, v25.16b, v24.16b\n\t"                                                         \
                     "and v26.16b, v26.16b, v24.16b\n\t"                                                         \
                     "addp v25.16b, v25.16b, v26.16b\n\t"                                                        \
                     "addp v25.16b, v25.16b, v25.16b\n\t"                                                        \
                     "addp v25.16b, v25.16b, v25.16b\n\t"                                                        \
                     "st1 {v25.s}[0], [%[out]]\n\t" OPERANDS);                                                   \
  }

/* Rows of two words: 16 filters (tiles fa, fb of 8), maxima in v1, minima in v3; 16
 * output bits at out. */
#define PAIR_TWO_WORDS(name, ROW)                                                                             \
  static void name(const uint64_t* fa, const uint64_t* fb, const uint64_t* xi, const uint32_t* x, const int32_t* nb, \
                   long k, const int32_t* r, const int16_t* a, const int16_t* b, const int16_t* f, void* out) {   \
    long j, j2;                                                                                                  \
    __asm__ volatile("ldr q0, [%[xi]]\n\t" LOAD_XOR_FILTERS                                                      \
                     "movi v1.16b, #0\n\t"                                                                       \
                     "movi v3.16b, #0xff\n\t" NEIGHBOURS(ROW, BODY_TWO_WORDS)                                  \
                         RULES16("v1", "v3", "v25")                                                   \
                     "ldr q24, [%[wt]]\n\t"                                                                      \
                     "and v25.16b, v25.16b, v24.16b\n\t"                                                         \
                     "addp v25.16b, v25.16b, v25.16b\n\t"                                                        \
                     "addp v25.16b, v25.16b, v25.16b\n\t"                                                        \
                     "addp v25.16b, v25.16b, v25.16b\n\t"                                                        \
                     "st1 {v25.h}[0], [%[out]]\n\t" OPERANDS);                                                   \
  }

PAIR_ONE_WORD(pair_words1, ROW_X1)
PAIR_ONE_WORD(pair_words2, ROW_X2)
PAIR_TWO_WORDS(pair_words3, ROW_X3)
PAIR_TWO_WORDS(pair_words4, ROW_X4)

typedef void (*pair_fn)(const uint64_t*, const uint64_t*, const uint64_t*, const uint32_t*, const int32_t*, long,
                        const int32_t*, const int16_t*, const int16_t*, const int16_t*, void*);

void bgnn_edge_extremes__neon(const bgnn_bgemm_filters* e, const uint32_t* x, int words32, const uint32_t* xi,
                              const int32_t* nb, int k, const int32_t* r, const int16_t* cuts, uint32_t* out,
                              void* scratch) {
  if (words32 > 4) {
    bgnn_edge_extremes_via_bgemm(e, x, words32, xi, nb, k, r, cuts, out, scratch);
    return;
  }
  static const pair_fn pairs[4] = {pair_words1, pair_words2, pair_words3, pair_words4};
  const pair_fn pair = pairs[words32 - 1];
  const int tile = words32 <= 2 ? 16 : 8; /* filters per tile; either tile is 16 words */
  const int width = bgnn_edge_extremes_width(e->channels_out);
  assert(e->words64 == (words32 + 1) / 2 && e->layout >= 1 && e->layout <= 2);
  const uint64_t row[2] = {bgnn_bgemm_word(xi, 0, words32), words32 > 2 ? bgnn_bgemm_word(xi, 1, words32) : 0};
  out[bgnn_words(e->channels_out) - 1] = 0; /* a pair of 8-filter tiles may write only its lower half */
  for (int t = 0; t < e->tiles; t += 2) {
    const uint64_t* fa = e->packed + (size_t)t * 16;
    const int c0 = t * tile; /* first filter of the pair: a multiple of 32 (one word) or 16 */
    pair(fa, t + 1 < e->tiles ? fa + 16 : fa, row, x, nb, k, r + c0, cuts + c0, cuts + width + c0,
         cuts + 2 * width + c0, (uint16_t*)out + c0 / 16);
  }
}
#endif
