/* Picks each kernel's variant once, from CPU features, with a scalar fallback.
 * BGNN_ISA=scalar|neon|avx2|avx512 forces a variant (if the CPU has it). */
#ifndef BGNN_CORE_DISPATCH_H
#define BGNN_CORE_DISPATCH_H
#include "types.h"

/* Returns the ISA chosen; safe to call more than once. */
bgnn_isa bgnn_dispatch_init(void);
int bgnn_isa_supported(bgnn_isa isa);
const char* bgnn_isa_name(bgnn_isa isa);

#endif
