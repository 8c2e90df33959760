#include "dispatch.h"

#include <stdlib.h>
#include <string.h>

static const bgnn_kernels k_variants[] = {
#define BGNN_VARIANT(variant, suffix)                                                          \
  {                                                                                            \
      .isa = variant,                                                                          \
      .name = #suffix,                                                                         \
      .xor_popcount = bgnn_xor_popcount__##suffix,                                             \
      .bgemm_pack = bgnn_bgemm_pack__##suffix,                                                 \
      .bgemm_block = bgnn_bgemm_block__##suffix,                                               \
      .embed_stats = bgnn_embed_stats__##suffix,                                               \
      .edge_extremes = bgnn_edge_extremes__##suffix,                                           \
  },
#include "kernels.inc"
#undef BGNN_VARIANT
};
#define N_VARIANTS (sizeof(k_variants) / sizeof(k_variants[0]))

bgnn_xor_popcount_fn bgnn_xor_popcount = bgnn_xor_popcount__scalar;
static const bgnn_kernels* g_active = &k_variants[0]; /* scalar until dispatch */
static int g_initialised = 0;
static bgnn_isa g_chosen = BGNN_ISA_SCALAR; /* what bgnn_dispatch_init decided */

#if defined(__x86_64__)
#include <cpuid.h>
static uint64_t xgetbv0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}
#endif

/* What the CPU and the OS offer, whatever this build contains. */
static int cpu_has(bgnn_isa isa) {
  switch (isa) {
    case BGNN_ISA_SCALAR:
      return 1;
#if defined(__aarch64__)
    case BGNN_ISA_NEON:
      return 1; /* Advanced SIMD is part of the AArch64 baseline */
#endif
#if defined(__x86_64__)
    case BGNN_ISA_AVX2:
    case BGNN_ISA_AVX512: {
      unsigned a, b, c, d;
      if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || !(c & bit_POPCNT)) return 0;
      const uint64_t xcr0 = xgetbv0();
      if ((xcr0 & 0x6) != 0x6) return 0; /* the OS saves SSE and AVX state */
      if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
      if (isa == BGNN_ISA_AVX2) return (b & bit_AVX2) != 0;
      /* AVX-512F (ebx bit 16) and VPOPCNTDQ (ecx bit 14), with opmask/ZMM state saved */
      return (xcr0 & 0xe0) == 0xe0 && (b & (1u << 16)) && (c & (1u << 14));
    }
#endif
    default:
      return 0;
  }
}

const bgnn_kernels* bgnn_kernels_of(bgnn_isa isa) {
  for (size_t i = 0; i < N_VARIANTS; ++i)
    if (k_variants[i].isa == isa) return &k_variants[i];
  return NULL;
}

int bgnn_isa_supported(bgnn_isa isa) { return bgnn_kernels_of(isa) && cpu_has(isa); }

const char* bgnn_isa_name(bgnn_isa isa) {
  switch (isa) {
    case BGNN_ISA_NEON: return "neon";
    case BGNN_ISA_AVX2: return "avx2";
    case BGNN_ISA_AVX512: return "avx512";
    default: return "scalar";
  }
}

const bgnn_kernels* bgnn_kernels_active(void) { return g_active; }

int bgnn_dispatch_set(bgnn_isa isa) {
  if (!bgnn_isa_supported(isa)) return 0;
  g_active = bgnn_kernels_of(isa);
  bgnn_xor_popcount = g_active->xor_popcount;
  return 1;
}

static int isa_from_name(const char* name, bgnn_isa* out) {
  const bgnn_isa all[] = {BGNN_ISA_SCALAR, BGNN_ISA_NEON, BGNN_ISA_AVX2, BGNN_ISA_AVX512};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); ++i)
    if (strcmp(name, bgnn_isa_name(all[i])) == 0) { *out = all[i]; return 1; }
  return 0;
}

bgnn_isa bgnn_dispatch_init(void) {
  if (g_initialised) return g_chosen;
  g_initialised = 1;
  bgnn_isa want;
  const char* forced = getenv("BGNN_ISA");
  if (!(forced && isa_from_name(forced, &want) && bgnn_dispatch_set(want)))
    for (size_t i = N_VARIANTS; i-- > 0;) /* the most preferred the CPU supports */
      if (bgnn_dispatch_set(k_variants[i].isa)) break;
  g_chosen = g_active->isa;
  return g_chosen;
}
