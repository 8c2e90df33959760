/* Shared types of bgnn-deploy's kernels: pointers and shapes only, no runtime API.
 *
 * Bit-packed layout (the same as Larq Compute Engine's, so our kernels read LCE
 * flatbuffers as they are): only the last (channel) axis is packed; channel c of a
 * row goes to word c / 32, bit c % 32 (LSB = lowest channel); bit 0 means +1, bit 1
 * means -1; the unused high bits of a row's last word are 0.
 */
#ifndef BGNN_CORE_TYPES_H
#define BGNN_CORE_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef uint32_t bgnn_word;   /* one packed word, as in LCE's int32 tensors */
#define BGNN_WORD_BITS 32

static inline int bgnn_words(int channels) { return (channels + BGNN_WORD_BITS - 1) / BGNN_WORD_BITS; }
static inline int bgnn_words64(int channels) { return (channels + 63) / 64; }

/* The ISA variants a kernel may have; dispatch.c picks one at start-up. */
typedef enum { BGNN_ISA_SCALAR = 0, BGNN_ISA_NEON, BGNN_ISA_AVX2, BGNN_ISA_AVX512 } bgnn_isa;

#endif
