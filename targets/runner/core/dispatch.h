/* Picks the ISA variant of every kernel once, from CPU features, with a scalar fallback.
 *
 * One ISA for all kernels: the table below holds each kernel of one line of kernels.inc,
 * so the ISA the runner reports (bgnn_dispatch_init's choice) is the code that runs.
 * BGNN_ISA=scalar|neon|avx2|avx512 forces a variant if the CPU has it (else it is ignored
 * and the automatic choice stands). Call bgnn_dispatch_init before kernels run on other
 * threads; until then the scalar variant is active.
 */
#ifndef BGNN_CORE_DISPATCH_H
#define BGNN_CORE_DISPATCH_H
#include "bgemm.h"
#include "embed_stats.h"
#include "edge_extremes.h"
#include "types.h"
#include "xor_popcount.h"

typedef struct bgnn_kernels {
  bgnn_isa isa;
  const char* name;
  bgnn_xor_popcount_fn xor_popcount;
  int (*bgemm_pack)(bgnn_bgemm_filters* f, const uint32_t* filter, int channels_out, int words32);
  void (*bgemm_block)(const bgnn_bgemm_filters* f, const uint64_t* xs, int32_t* acc);
  void (*embed_stats)(const bgnn_bgemm_filters* f, int channels_in, const uint32_t* x, int rows, uint64_t* xs,
                      int32_t* acc, uint16_t* stats);
  void (*edge_extremes)(const bgnn_bgemm_filters* e, const uint32_t* x, int words32, const uint32_t* xi,
                        const int32_t* nb, int k, const int32_t* r, const int16_t* cuts, uint32_t* out, void* scratch);
} bgnn_kernels;

/* Chooses and activates the variant; returns the ISA chosen. Safe to call more than once:
 * the first call decides, later ones return its choice (whatever bgnn_dispatch_set did
 * since; bgnn_kernels_active() is the variant active now). */
bgnn_isa bgnn_dispatch_init(void);
/* Makes `isa` the active variant (tests, benchmarks); returns 0 if the build or the CPU
 * lacks it, leaving the active one as it was. */
int bgnn_dispatch_set(bgnn_isa isa);
/* The active variant's table, and the table of `isa` (NULL if not in this build). */
const bgnn_kernels* bgnn_kernels_active(void);
const bgnn_kernels* bgnn_kernels_of(bgnn_isa isa);
/* The CPU and the OS support `isa` and this build has its kernels. */
int bgnn_isa_supported(bgnn_isa isa);
const char* bgnn_isa_name(bgnn_isa isa);

#endif
