/* Bit-packing of float rows: bit = (x < 0), i.e. sign with 0 -> +1 (LCE's rule). */
#ifndef BGNN_CORE_BITPACK_H
#define BGNN_CORE_BITPACK_H
#include "types.h"

/* rows x channels floats -> rows x ceil(channels/32) words. */
void bgnn_bitpack32(const float* in, int rows, int channels, uint32_t* out);
/* The same into 64-bit words (the Hamming k-NN's layout). */
void bgnn_bitpack64(const float* in, int rows, int channels, uint64_t* out);
/* Packed rows -> +1.0f / -1.0f (LceDequantize). */
void bgnn_unpack32(const uint32_t* in, int rows, int channels, float* out);

#endif
