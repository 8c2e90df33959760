#include "edgeconv_float.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "parallel.h"

/* u_j + v_i must round exactly as written (no fused multiply-add), so that the bounds the
 * converter found by evaluating the reference's float32 arithmetic apply as they are. */
#pragma STDC FP_CONTRACT OFF

/* ---- 8 float lanes: AVX, two NEON registers, or plain C -------------------------------- */

#define LANES 8
#if defined(__AVX__)
typedef __m256 vf;
typedef __m256 vm; /* a lane mask: all ones or all zeros */
static inline vf vload(const float* p) { return _mm256_loadu_ps(p); }
static inline vf vset(float a) { return _mm256_set1_ps(a); }
static inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf vmin(vf a, vf b) { return _mm256_min_ps(a, b); }
static inline void vstore(float* p, vf a) { _mm256_storeu_ps(p, a); }
static inline vm vge(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
static inline vm vle(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
static inline vm mand(vm a, vm b) { return _mm256_and_ps(a, b); }
static inline vm mor(vm a, vm b) { return _mm256_or_ps(a, b); }
static inline vm mload(const float* p) { return _mm256_loadu_ps(p); }
static inline vm mconst(int all) { return _mm256_castsi256_ps(_mm256_set1_epi32(all ? -1 : 0)); }
static inline unsigned mbits(vm a) { return (unsigned)_mm256_movemask_ps(a); }
/* r[t] = a[p[t]] (p[t] in [0, 8)); `b` is the same as bytes, for NEON */
static inline vf vperm(vf a, const int32_t* p, const uint8_t* b) {
  (void)b;
#if defined(__AVX2__)
  return _mm256_permutevar8x32_ps(a, _mm256_loadu_si256((const __m256i*)p));
#else
  float t[LANES], r[LANES];
  _mm256_storeu_ps(t, a);
  for (int l = 0; l < LANES; ++l) r[l] = t[p[l]];
  return _mm256_loadu_ps(r);
#endif
}
#elif defined(__aarch64__)
typedef struct { float32x4_t a, b; } vf;
typedef struct { uint32x4_t a, b; } vm;
static inline vf vload(const float* p) { return (vf){vld1q_f32(p), vld1q_f32(p + 4)}; }
static inline vf vset(float a) { return (vf){vdupq_n_f32(a), vdupq_n_f32(a)}; }
static inline vf vadd(vf x, vf y) { return (vf){vaddq_f32(x.a, y.a), vaddq_f32(x.b, y.b)}; }
static inline vf vmul(vf x, vf y) { return (vf){vmulq_f32(x.a, y.a), vmulq_f32(x.b, y.b)}; }
static inline vf vmax(vf x, vf y) { return (vf){vmaxq_f32(x.a, y.a), vmaxq_f32(x.b, y.b)}; }
static inline vf vmin(vf x, vf y) { return (vf){vminq_f32(x.a, y.a), vminq_f32(x.b, y.b)}; }
static inline void vstore(float* p, vf x) { vst1q_f32(p, x.a), vst1q_f32(p + 4, x.b); }
static inline vm vge(vf x, vf y) { return (vm){vcgeq_f32(x.a, y.a), vcgeq_f32(x.b, y.b)}; }
static inline vm vle(vf x, vf y) { return (vm){vcleq_f32(x.a, y.a), vcleq_f32(x.b, y.b)}; }
static inline vm mand(vm x, vm y) { return (vm){vandq_u32(x.a, y.a), vandq_u32(x.b, y.b)}; }
static inline vm mor(vm x, vm y) { return (vm){vorrq_u32(x.a, y.a), vorrq_u32(x.b, y.b)}; }
static inline vm mload(const float* p) { return (vm){vld1q_u32((const uint32_t*)p), vld1q_u32((const uint32_t*)p + 4)}; }
static inline vm mconst(int all) { return (vm){vdupq_n_u32(all ? ~0u : 0), vdupq_n_u32(all ? ~0u : 0)}; }
static inline unsigned mbits(vm x) {
  static const uint32_t w[4] = {1, 2, 4, 8};
  const uint32x4_t b = vld1q_u32(w);
  return vaddvq_u32(vandq_u32(x.a, b)) | vaddvq_u32(vandq_u32(x.b, b)) << 4;
}
static inline vf vperm(vf x, const int32_t* p, const uint8_t* b) {
  (void)p;
  const uint8x16x2_t t = {{vreinterpretq_u8_f32(x.a), vreinterpretq_u8_f32(x.b)}};
  return (vf){vreinterpretq_f32_u8(vqtbl2q_u8(t, vld1q_u8(b))), vreinterpretq_f32_u8(vqtbl2q_u8(t, vld1q_u8(b + 16)))};
}
#else
typedef struct { float l[LANES]; } vf;
typedef struct { uint32_t l[LANES]; } vm;
#define EACH(out, expr)                           \
  do {                                            \
    for (int t = 0; t < LANES; ++t) out.l[t] = expr; \
  } while (0)
static inline vf vload(const float* p) { vf r; EACH(r, p[t]); return r; }
static inline vf vset(float a) { vf r; EACH(r, a); return r; }
static inline vf vadd(vf x, vf y) { vf r; EACH(r, x.l[t] + y.l[t]); return r; }
static inline vf vmul(vf x, vf y) { vf r; EACH(r, x.l[t] * y.l[t]); return r; }
static inline vf vmax(vf x, vf y) { vf r; EACH(r, x.l[t] > y.l[t] ? x.l[t] : y.l[t]); return r; }
static inline vf vmin(vf x, vf y) { vf r; EACH(r, x.l[t] < y.l[t] ? x.l[t] : y.l[t]); return r; }
static inline void vstore(float* p, vf x) { memcpy(p, x.l, sizeof(x.l)); }
static inline vm vge(vf x, vf y) { vm r; EACH(r, x.l[t] >= y.l[t] ? ~0u : 0); return r; }
static inline vm vle(vf x, vf y) { vm r; EACH(r, x.l[t] <= y.l[t] ? ~0u : 0); return r; }
static inline vm mand(vm x, vm y) { vm r; EACH(r, x.l[t] & y.l[t]); return r; }
static inline vm mor(vm x, vm y) { vm r; EACH(r, x.l[t] | y.l[t]); return r; }
static inline vm mload(const float* p) { vm r; memcpy(r.l, p, sizeof(r.l)); return r; }
static inline vm mconst(int all) { vm r; EACH(r, all ? ~0u : 0); return r; }
static inline unsigned mbits(vm x) {
  unsigned b = 0;
  for (int t = 0; t < LANES; ++t) b |= (x.l[t] >> 31) << t;
  return b;
}
static inline vf vperm(vf x, const int32_t* p, const uint8_t* b) {
  (void)b;
  vf r;
  EACH(r, x.l[p[t]]);
  return r;
}
#endif

/* ---- layout ------------------------------------------------------------------------------- */

/* Two layouts of u:
 * - by pattern, when W_e has at most 8 distinct rows (bit for bit; the first layer's ±1
 *   rows over 3 coordinates have at most 8): u_j holds one value per distinct row, one
 *   vector per point, since channels with the same row have the same u, bit for bit.
 *   max_j and min_j reduce that one vector, and each channel picks its row's lane.
 * - by channel, otherwise: u_j [cols], reduced in steps of 1 or 4 vectors of 8 columns,
 *   each step with only the work its kind needs (the kinds are compile-time constants in
 *   the inlined loop, so each gets its own loop):
 *     K_MAX, K_MIN: max_j u_j, min_j u_j (the fast plan's modes 0 and 1),
 *     K_EDGE: the per-edge rules (modes 2 and 3), K_EXACT: every mode edge by edge.
 * K_ALL0, K_ALL1 (by pattern only): every channel of the vector has mode 0 (1). */
enum { K_MAX = 1, K_MIN = 2, K_EDGE = 4, K_EXACT = 8, K_ALL0 = 16, K_ALL1 = 32 };
#define STEP(vector, count, kind) ((vector) << 8 | (count) << 4 | (kind))

/* e->rules: [6][cols]: lo, hi, then the masks of modes 0..3 (as float bit patterns, all
 * ones where the channel has that mode; 0 in the padding columns) */
enum { R_LO, R_HI, R_M0, R_M1, R_M2, R_M3 };

static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

/* The steps of a plan over the vectors of 8 columns: a word's 4 vectors in one step when
 * they share a kind (the common case: a whole word of bits at once), else one by one. */
static int plan_steps(const unsigned char* kinds, int vectors, int32_t* steps) {
  int n = 0;
  for (int w = 0; w * 4 < vectors; ++w) {
    const int v0 = 4 * w, count = vectors - v0 < 4 ? vectors - v0 : 4;
    int same = count == 4;
    for (int q = 1; q < count; ++q) same &= kinds[v0 + q] == kinds[v0];
    if (same) steps[n++] = STEP(v0, 4, kinds[v0]);
    else
      for (int q = 0; q < count; ++q) steps[n++] = STEP(v0 + q, 1, kinds[v0 + q]);
  }
  return n;
}

/* The distinct rows of W_e (bit for bit) if at most LANES: their count, each channel's
 * row in pattern[c] and row_of[p] the first channel with row p; else 0. */
static int distinct_rows(const float* weights, int n, int cin, int32_t* pattern, int* row_of) {
  int d = 0;
  for (int c = 0; c < n; ++c) {
    int p = 0;
    while (p < d && memcmp(weights + (size_t)c * 2 * cin, weights + (size_t)row_of[p] * 2 * cin, sizeof(float) * cin))
      ++p;
    if (p == d) {
      if (d == LANES) return 0;
      row_of[d++] = c;
    }
    pattern[c] = p;
  }
  return d;
}

int bgnn_edgeconv_float_init(bgnn_edgeconv* e, const float* weights, const float* bounds) {
  const int cin = e->channels_in, n = e->channels_out;
  assert(e->points >= 1 && e->k >= 1 && cin >= 1 && n >= 1 && e->mode);
  const int cols = (int)round_up((size_t)n, LANES), vectors = cols / LANES;
  e->cols = cols;
  /* pattern: [cols] int32, then the same as byte indices [4 cols] (NEON), then each
   * vector's kind [vectors] */
  e->pattern = calloc(1, sizeof(int32_t) * cols + 4 * (size_t)cols + (size_t)vectors);
  e->w_centre = calloc((size_t)cin * cols, sizeof(float));
  e->rules = calloc(6 * (size_t)cols, sizeof(float));
  e->steps = malloc(sizeof(int32_t) * 2 * (size_t)vectors);
  if (!e->pattern || !e->w_centre || !e->rules || !e->steps) return 0;
  unsigned char* kinds = (unsigned char*)(e->pattern + cols) + 4 * (size_t)cols;
  int row_of[LANES];
  e->patterns = distinct_rows(weights, n, cin, e->pattern, row_of);
  const int ucols = e->patterns ? LANES : cols; /* u's columns */
  e->w_edge = calloc((size_t)cin * ucols, sizeof(float));
  e->u = aligned_alloc(64, round_up(sizeof(float) * (size_t)e->points * ucols, 64)); /* rows on whole lines */
  if (!e->w_edge || !e->u) return 0;
  if (e->patterns) {
    uint8_t* bytes = (uint8_t*)(e->pattern + cols);
    for (int c = 0; c < cols; ++c)
      for (int b = 0; b < 4; ++b) bytes[4 * c + b] = (uint8_t)(4 * e->pattern[c] + b);
    for (int p = 0; p < e->patterns; ++p)
      for (int i = 0; i < cin; ++i) e->w_edge[(size_t)i * LANES + p] = weights[(size_t)row_of[p] * 2 * cin + i];
  }
  /* the largest sum of |weights| a u or v takes, for the bound on |x| below */
  double reach = 0;
  for (int c = 0; c < n; ++c) {
    double se = 0, sc = 0;
    for (int i = 0; i < cin; ++i) { /* transposed: [channels_in][columns] */
      const float we = weights[(size_t)c * 2 * cin + i], wc = weights[(size_t)c * 2 * cin + cin + i];
      if (!e->patterns) e->w_edge[(size_t)i * cols + c] = we;
      e->w_centre[(size_t)i * cols + c] = wc - we;
      se += fabs((double)we);
      sc += fabs((double)(wc - we));
    }
    reach = fmax(reach, fmax(se, sc));
    if (isnan(se) || isnan(sc)) reach = INFINITY;
    const float lo = bounds[2 * c], hi = bounds[2 * c + 1];
    const int32_t m = e->mode[c];
    e->rules[R_LO * cols + c] = lo;
    e->rules[R_HI * cols + c] = hi;
    for (int r = 0; r < 4; ++r) {
      const int32_t all = m == r ? -1 : 0;
      memcpy(e->rules + (R_M0 + r) * (size_t)cols + c, &all, 4);
    }
    unsigned char* kind = kinds + c / LANES;
    if (m == BGNN_RULE_ANY_INSIDE || m == BGNN_RULE_ALL_OUTSIDE) *kind |= K_EDGE;
    else {
      if (isfinite(hi)) *kind |= K_MAX;
      if (isfinite(lo)) *kind |= K_MIN;
    }
  }
  /* Every |x| <= x_bound keeps every |u|, |v| below FLT_MAX / 2 (a sum of cin products
   * rounds up by less than a factor 1.01 for any cin the op accepts), so y = u + v is
   * finite (never NaN); nothing is fast when a weight is infinite or NaN. */
  e->x_bound = !isfinite(reach) ? -1.0f : reach == 0 ? FLT_MAX : (float)(FLT_MAX / (4.0 * reach));
  e->n_steps[0] = plan_steps(kinds, vectors, e->steps);
  for (int q = 0; q < vectors; ++q) { /* the pattern layout's kinds also say whether a vector has one mode */
    int same = 1;
    for (int c = LANES * q + 1; c < n && c < LANES * (q + 1); ++c) same &= e->mode[c] == e->mode[LANES * q];
    if (same && e->mode[LANES * q] == BGNN_RULE_ANY_OUTSIDE) kinds[q] |= K_ALL0;
    if (same && e->mode[LANES * q] == BGNN_RULE_ALL_INSIDE) kinds[q] |= K_ALL1;
  }
  unsigned char* all = malloc((size_t)vectors); /* the exact plan: the same kind everywhere */
  if (!all) return 0;
  memset(all, K_EDGE | K_EXACT, (size_t)vectors);
  e->n_steps[1] = plan_steps(all, vectors, e->steps + vectors);
  free(all);
  return 1; /* no per-worker scratch: the reductions live in registers */
}

void bgnn_edgeconv_float_free(bgnn_edgeconv* e) {
  free(e->w_edge);
  free(e->w_centre);
  free(e->rules);
  free(e->steps);
  free(e->pattern);
  free(e->u);
}

/* ---- the run ------------------------------------------------------------------------------ */

typedef struct {
  const bgnn_edgeconv* e;
  const float* x;
  const int32_t* idx;
  uint32_t* out;
  int exact; /* the exact plan (else the fast one) */
} run_ctx;

/* sum_i w[i][c] x[i] from i = 0 upwards, for the 8 columns at w (w's rows `cols` apart).
 * The reference starts from 0 + x[0] w[0]: that differs from x[0] w[0] only in the sign
 * of a zero, which no comparison or later sum of nonzero terms can tell apart. */
static inline vf dot8(const float* w, size_t cols, const float* x, int cin) {
  vf acc = vmul(vset(x[0]), vload(w));
  for (int i = 1; i < cin; ++i) acc = vadd(acc, vmul(vset(x[i]), vload(w + (size_t)i * cols)));
  return acc;
}

static void float_u(void* arg, int begin, int end, int worker) {
  (void)worker;
  const run_ctx* ctx = arg;
  const bgnn_edgeconv* e = ctx->e;
  const int cin = e->channels_in;
  const size_t ucols = e->patterns ? LANES : (size_t)e->cols;
  for (int j = begin; j < end; ++j) {
    const float* xj = ctx->x + (size_t)j * cin;
    for (size_t c = 0; c < ucols; c += LANES) vstore(e->u + (size_t)j * ucols + c, dot8(e->w_edge + c, ucols, xj, cin));
  }
}

/* The rule of 8 channels from their ymax, ymin (when not exact) or per-edge results:
 * bit t is 1 where channel t's rule fails. */
static inline unsigned rule_bits(const float* m, size_t cols, vm t0, vm t1, vm any_in, vm all_out) {
  const vm holds = mor(mor(mand(mload(m), t0), mand(mload(m + cols), t1)),
                       mor(mand(mload(m + 2 * cols), any_in), mand(mload(m + 3 * cols), all_out)));
  return ~mbits(holds) & 0xffu;
}

/* Layout by pattern: one vector of u per point. `fixed_cin` is channels_in when the
 * caller knows it at compile time (the first layer's 3 coordinates), else 0. */
static inline __attribute__((always_inline)) void pattern_rows(const run_ctx* ctx, int begin, int end, int fixed_cin) {
  const bgnn_edgeconv* e = ctx->e;
  const int n = e->channels_out, out_words = bgnn_words(n), k = e->k, exact = ctx->exact;
  const int cin = fixed_cin ? fixed_cin : e->channels_in;
  const size_t cols = (size_t)e->cols;
  const int32_t* pat = e->pattern;
  const uint8_t* bytes = (const uint8_t*)(pat + cols);
  const unsigned char* kinds = bytes + 4 * cols;
  const uint32_t last = n % 32 ? (1u << (n % 32)) - 1 : ~0u; /* the padding bits stay 0 */
  const float* u = e->u;
  for (int i = begin; i < end; ++i) {
    const float* xi = ctx->x + (size_t)i * cin;
    const int32_t* nb = ctx->idx + (size_t)i * k;
    uint32_t* out = ctx->out + (size_t)i * out_words;
    vf mx = vload(u + (size_t)nb[0] * LANES), mn = mx;
    for (int j = 1; j < k; ++j) {
      const vf a = vload(u + (size_t)nb[j] * LANES);
      mx = vmax(mx, a);
      mn = vmin(mn, a);
    }
    uint32_t word = 0;
    for (size_t c = 0; c < cols; c += LANES) {
      const int kind = kinds[c / LANES];
      const vf v = dot8(e->w_centre + c, cols, xi, cin);
      const vf l = vload(e->rules + R_LO * cols + c), h = vload(e->rules + R_HI * cols + c);
      unsigned bits;
      if (exact || kind & K_EDGE) {
        vm any_in = mconst(0), all_out = mconst(1), all_in = mconst(1), any_out = mconst(0);
        for (int j = 0; j < k; ++j) {
          const vf y = vadd(vperm(vload(u + (size_t)nb[j] * LANES), pat + c, bytes + 4 * c), v);
          const vm inside = mand(vge(y, l), vle(y, h)), outside = mor(vle(y, l), vge(y, h));
          any_in = mor(any_in, inside);
          all_out = mand(all_out, outside);
          all_in = mand(all_in, inside);
          any_out = mor(any_out, outside);
        }
        vm t0 = any_out, t1 = all_in;
        if (!exact) { /* modes 0 and 1 of this vector as below */
          const vf ymax = vadd(vperm(mx, pat + c, bytes + 4 * c), v), ymin = vadd(vperm(mn, pat + c, bytes + 4 * c), v);
          t0 = mor(vge(ymax, h), vle(ymin, l));
          t1 = mand(vge(ymin, l), vle(ymax, h));
        }
        bits = rule_bits(e->rules + R_M0 * cols + c, cols, t0, t1, any_in, all_out);
      } else { /* max_j y = max_j u_j + v_i, likewise the min (see edgeconv.h) */
        const vf ymax = vadd(vperm(mx, pat + c, bytes + 4 * c), v), ymin = vadd(vperm(mn, pat + c, bytes + 4 * c), v);
        const vm t0 = mor(vge(ymax, h), vle(ymin, l)), t1 = mand(vge(ymin, l), vle(ymax, h));
        if (kind & K_ALL0) bits = ~mbits(t0) & 0xffu;
        else if (kind & K_ALL1) bits = ~mbits(t1) & 0xffu;
        else bits = rule_bits(e->rules + R_M0 * cols + c, cols, t0, t1, mconst(0), mconst(1));
      }
      word |= bits << (c % 32);
      if (c % 32 == 24 || c + LANES == cols) {
        out[c / 32] = c + LANES == cols ? word & last : word;
        word = 0;
      }
    }
  }
}

static void pattern_nodes(void* arg, int begin, int end, int worker) {
  (void)worker;
  const run_ctx* ctx = arg;
  if (ctx->e->channels_in == 3) pattern_rows(ctx, begin, end, 3);
  else pattern_rows(ctx, begin, end, 0);
}

/* Layout by channel: the bits of `count` vectors (1 or 4, constant after inlining) from
 * column c0 for node i (centre features xi, neighbours nb): bit 8q + t is 1 where
 * channel c0 + 8q + t's rule fails. */
static inline __attribute__((always_inline)) uint32_t step_bits(const bgnn_edgeconv* e, const float* xi,
                                                                const int32_t* nb, size_t c0, int count,
                                                                int kind) {
  const size_t cols = (size_t)e->cols;
  const int k = e->k;
  const float* u = e->u + c0;
  vf v[4], mx[4], mn[4];
  vm any_in[4], all_in[4], any_out[4], all_out[4];
  for (int q = 0; q < count; ++q) {
    v[q] = dot8(e->w_centre + c0 + LANES * q, cols, xi, e->channels_in);
    mx[q] = mn[q] = vload(u + (size_t)nb[0] * cols + LANES * q);
    any_in[q] = any_out[q] = mconst(0);
    all_in[q] = all_out[q] = mconst(1);
  }
  const float* lo = e->rules + R_LO * cols + c0;
  const float* hi = e->rules + R_HI * cols + c0;
  for (int j = 0; j < k; ++j) {
    const float* r = u + (size_t)nb[j] * cols;
    for (int q = 0; q < count; ++q) {
      const vf a = vload(r + LANES * q);
      if (kind & K_MAX) mx[q] = vmax(mx[q], a);
      if (kind & K_MIN) mn[q] = vmin(mn[q], a);
      if (kind & K_EDGE) {
        const vf y = vadd(a, v[q]), l = vload(lo + LANES * q), h = vload(hi + LANES * q);
        const vm inside = mand(vge(y, l), vle(y, h)), outside = mor(vle(y, l), vge(y, h));
        any_in[q] = mor(any_in[q], inside);
        all_out[q] = mand(all_out[q], outside);
        if (kind & K_EXACT) {
          all_in[q] = mand(all_in[q], inside);
          any_out[q] = mor(any_out[q], outside);
        }
      }
    }
  }
  uint32_t bits = 0;
  for (int q = 0; q < count; ++q) {
    const size_t c = LANES * q;
    vm t0 = any_out[q], t1 = all_in[q];
    if (!(kind & K_EXACT)) { /* max_j y = max_j u_j + v_i, likewise the min (see edgeconv.h);
                              * where the kind lacks K_MAX (K_MIN), every bound hi (lo) of the
                              * vector is infinite or NaN and any finite ymax (ymin) gives the
                              * same comparisons: u_j of the first neighbour stands in */
      const vf ymax = vadd(mx[q], v[q]), ymin = vadd(mn[q], v[q]), l = vload(lo + c), h = vload(hi + c);
      t0 = mor(vge(ymax, h), vle(ymin, l));
      t1 = mand(vge(ymin, l), vle(ymax, h));
    }
    bits |= rule_bits(e->rules + R_M0 * cols + c0 + c, cols, t0, t1, any_in[q], all_out[q]) << (LANES * q);
  }
  return bits;
}

#define CASES(kind)                                                    \
  case (kind) << 1: bits = step_bits(e, xi, nb, c0, 1, (kind)); break; \
  case (kind) << 1 | 1: bits = step_bits(e, xi, nb, c0, 4, (kind)); break;

static void channel_nodes(void* arg, int begin, int end, int worker) {
  (void)worker;
  const run_ctx* ctx = arg;
  const bgnn_edgeconv* e = ctx->e;
  const int n = e->channels_out, out_words = bgnn_words(n), k = e->k;
  const int32_t* steps = e->steps + (ctx->exact ? e->cols / LANES : 0);
  const int n_steps = e->n_steps[ctx->exact];
  const uint32_t last = n % 32 ? (1u << (n % 32)) - 1 : ~0u; /* the padding bits stay 0 */
  for (int i = begin; i < end; ++i) {
    const float* xi = ctx->x + (size_t)i * e->channels_in;
    const int32_t* nb = ctx->idx + (size_t)i * k;
    uint32_t* out = ctx->out + (size_t)i * out_words;
    for (int w = 0; w < out_words; ++w) out[w] = 0;
    for (int s = 0; s < n_steps; ++s) {
      const int32_t step = steps[s];
      const int vector = step >> 8, count = (step >> 4) & 15, kind = step & 15;
      const size_t c0 = (size_t)vector * LANES;
      uint32_t bits = 0;
      switch (kind << 1 | (count == 4)) { /* the kinds init makes */
        CASES(0) CASES(K_MAX) CASES(K_MIN) CASES(K_MAX | K_MIN) CASES(K_EDGE) CASES(K_EDGE | K_MAX)
        CASES(K_EDGE | K_MIN) CASES(K_EDGE | K_MAX | K_MIN) CASES(K_EDGE | K_EXACT)
        default: break;
      }
      out[vector / 4] |= bits << (LANES * (vector % 4));
    }
    out[out_words - 1] &= last;
  }
}

void bgnn_edgeconv_float_run(bgnn_edgeconv* e, const float* x, const int32_t* idx, uint32_t* out) {
  /* the fast plan needs every |x| within the bound (a NaN fails the test) */
  const size_t count = (size_t)e->points * e->channels_in;
  const float bound = e->x_bound;
  int within = 1;
  for (size_t t = 0; t < count; ++t) within &= fabsf(x[t]) <= bound;
  run_ctx ctx = {e, x, idx, out, !within};
  bgnn_parallel_for(e->points, 16, float_u, &ctx);
  bgnn_parallel_for(e->points, 16, e->patterns ? pattern_nodes : channel_nodes, &ctx);
}
