/* Glue between the TFLite C API (opaque tensors) and core/ kernels. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/bconv2d.h"
#include "../core/bitpack.h"
#include "../core/bmaxpool.h"
#include "../core/hamming_knn.h"
#include "../flexbuffers.h"
#include "ops.h"

#define API bgnn_tfl
#define FAIL(ctx, ...)                                  \
  do {                                                  \
    API.TfLiteOpaqueContextReportError(ctx, __VA_ARGS__); \
    return kTfLiteError;                                \
  } while (0)

/* ---- tensors ------------------------------------------------------------------------- */

static TfLiteOpaqueTensor* input(TfLiteOpaqueContext* c, TfLiteOpaqueNode* n, int i) {
  const int* idx;
  int count;
  API.TfLiteOpaqueNodeInputs(n, &idx, &count);
  if (i >= count || idx[i] < 0) return NULL; /* absent optional input (index -1) */
  return API.TfLiteOpaqueContextGetOpaqueTensor(c, idx[i]);
}

static TfLiteOpaqueTensor* output(TfLiteOpaqueContext* c, TfLiteOpaqueNode* n, int i) {
  const int* idx;
  int count;
  API.TfLiteOpaqueNodeOutputs(n, &idx, &count);
  return i < count ? API.TfLiteOpaqueContextGetOpaqueTensor(c, idx[i]) : NULL;
}

static int dim(const TfLiteOpaqueTensor* t, int i) { return API.TfLiteOpaqueTensorDim(t, i); }
static int rank(const TfLiteOpaqueTensor* t) { return API.TfLiteOpaqueTensorNumDims(t); }
static int last(const TfLiteOpaqueTensor* t) { return dim(t, rank(t) - 1); }

static long rows_of(const TfLiteOpaqueTensor* t) {
  long rows = 1;
  for (int i = 0; i < rank(t) - 1; ++i) rows *= dim(t, i);
  return rows;
}

/* ---- profiling --------------------------------------------------------------------------- */

int bgnn_profiling_enabled = 0;
static bgnn_op_profile g_profiles[8];
static int g_profile_count = 0;

static bgnn_op_profile* profile_for(const char* name) {
  for (int i = 0; i < g_profile_count; ++i)
    if (strcmp(g_profiles[i].name, name) == 0) return &g_profiles[i];
  g_profiles[g_profile_count].name = name;
  return &g_profiles[g_profile_count++];
}

int bgnn_op_profiles(const bgnn_op_profile** out) {
  *out = g_profiles;
  return g_profile_count;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

#define PROFILED(op_name, body)                               \
  do {                                                        \
    const double t0 = bgnn_profiling_enabled ? now_ms() : 0;  \
    body;                                                     \
    if (bgnn_profiling_enabled) {                             \
      bgnn_op_profile* p = profile_for(op_name);              \
      p->total_ms += now_ms() - t0;                           \
      p->calls++;                                             \
    }                                                         \
  } while (0)

/* ---- LceQuantize / LceDequantize (no options) -------------------------------------------- */

static void* no_init(TfLiteOpaqueContext* c, const char* b, size_t n) { (void)c; (void)b; (void)n; return NULL; }
static void no_free(TfLiteOpaqueContext* c, void* d) { (void)c; (void)d; }

static TfLiteStatus quantize_prepare(TfLiteOpaqueContext* c, TfLiteOpaqueNode* n) {
  const TfLiteOpaqueTensor *x = input(c, n, 0), *y = output(c, n, 0);
  if (!x || API.TfLiteOpaqueTensorType(x) != kTfLiteFloat32)
    FAIL(c, "LceQuantize: input type %d unsupported (float32 only)", x ? API.TfLiteOpaqueTensorType(x) : -1);
  if (API.TfLiteOpaqueTensorType(y) != kTfLiteInt32 || last(y) != bgnn_words(last(x)))
    FAIL(c, "LceQuantize: output must be int32 with ceil(C/32) words");
  return kTfLiteOk;
}

static TfLiteStatus quantize_invoke(TfLiteOpaqueContext* c, TfLiteOpaqueNode* n) {
  const TfLiteOpaqueTensor *x = input(c, n, 0), *y = output(c, n, 0);
  PROFILED("LceQuantize", bgnn_bitpack32(API.TfLiteOpaqueTensorData(x), (int)rows_of(x), last(x),
                                         API.TfLiteOpaqueTensorData(y)));
  return kTfLiteOk;
}

static TfLiteStatus dequantize_prepare(TfLiteOpaqueContext* c, TfLiteOpaqueNode* n) {
  const TfLiteOpaqueTensor *x = input(c, n, 0), *y = output(c, n, 0);
  if (API.TfLiteOpaqueTensorType(x) != kTfLiteInt32) FAIL(c, "LceDequantize: input must be int32");
  if (API.TfLiteOpaqueTensorType(y) != kTfLiteFloat32)
    FAIL(c, "LceDequantize: output type %d unsupported (float32 only)", API.TfLiteOpaqueTensorType(y));
  if (last(x) != bgnn_words(last(y))) FAIL(c, "LceDequantize: word count does not match channels");
  return kTfLiteOk;
}

static TfLiteStatus dequantize_invoke(TfLiteOpaqueContext* c, TfLiteOpaqueNode* n) {
  const TfLiteOpaqueTensor *x = input(c, n, 0), *y = output(c, n, 0);
  PROFILED("LceDequantize", bgnn_unpack32(API.TfLiteOpaqueTensorData(x), (int)rows_of(y), last(y),
                                          API.TfLiteOpaqueTensorData(y)));
  return kTfLiteOk;
}

/* ---- LceBconv2d ---------------------------------------------------------------------------- */

typedef struct {
  int64_t channels_in, dil_h, dil_w, activation, pad_values, padding, stride_h, stride_w;
  int options_error;
  const char* missing;
  bgnn_bconv2d_params p;
  int bitpacked;
} bconv_data;

static void* bconv_init(TfLiteOpaqueContext* c, const char* buf, size_t len) {
  (void)c;
  bconv_data* d = calloc(1, sizeof(*d));
  bgnn_flexmap m;
  if (bgnn_flexmap_open((const uint8_t*)buf, len, &m) != 0) {
    d->options_error = 1;
    return d;
  }
  struct { const char* key; int64_t* value; } keys[] = {
      {"channels_in", &d->channels_in},   {"dilation_height_factor", &d->dil_h},
      {"dilation_width_factor", &d->dil_w}, {"fused_activation_function", &d->activation},
      {"pad_values", &d->pad_values},     {"padding", &d->padding},
      {"stride_height", &d->stride_h},    {"stride_width", &d->stride_w}};
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); ++i)
    if (bgnn_flexmap_int(&m, keys[i].key, keys[i].value) != 0) {
      d->options_error = 2;
      d->missing = keys[i].key;
    }
  return d;
}

static void bconv_free(TfLiteOpaqueContext* c, void* d) { (void)c; free(d); }

static TfLiteStatus bconv_prepare(TfLiteOpaqueContext* c, TfLiteOpaqueNode* n) {
  bconv_data* d = API.TfLiteOpaqueNodeGetUserData(n);
  if (d->options_error == 1) FAIL(c, "LceBconv2d: custom options are not a flexbuffer map");
  if (d->options_error == 2) FAIL(c, "LceBconv2d: custom option '%s' missing", d->missing);
  const TfLiteOpaqueTensor *x = input(c, n, 0), *f = input(c, n, 1), *y = output(c, n, 0);
  if (!x || !f || rank(x) != 4 || rank(f) != 4)
    FAIL(c, "LceBconv2d: input and filter must be 4-D");
  if (API.TfLiteOpaqueTensorType(x) != kTfLiteInt32) FAIL(c, "LceBconv2d: input must be bit-packed int32");
  if (d->pad_values != 0 && d->pad_values != 1)
    FAIL(c, "LceBconv2d: attribute pad_values=%d unsupported", (int)d->pad_values);
  if (d->padding != 0 && d->padding != 1) FAIL(c, "LceBconv2d: attribute padding=%d unsupported", (int)d->padding);
  if (dim(f, 3) != dim(x, 3))
    FAIL(c, "LceBconv2d: attribute groups>1 (filter words %d, input words %d) unsupported", dim(f, 3), dim(x, 3));
  const TfLiteType out_type = API.TfLiteOpaqueTensorType(y);
  if (out_type != kTfLiteFloat32 && out_type != kTfLiteInt32)
    FAIL(c, "LceBconv2d: output type %d unsupported (float32 or bit-packed int32)", out_type);
  bgnn_bconv2d_params* p = &d->p;
  p->batch = dim(x, 0);
  p->in_h = dim(x, 1);
  p->in_w = dim(x, 2);
  p->channels_in = (int)d->channels_in;
  p->channels_out = dim(f, 0);
  p->kernel_h = dim(f, 1);
  p->kernel_w = dim(f, 2);
  p->stride_h = (int)d->stride_h;
  p->stride_w = (int)d->stride_w;
  p->dilation_h = (int)d->dil_h;
  p->dilation_w = (int)d->dil_w;
  p->pad_value = (int)d->pad_values;
  if (p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1)
    FAIL(c, "LceBconv2d: strides and dilations must be >= 1");
  if (bgnn_words(p->channels_in) != dim(x, 3))
    FAIL(c, "LceBconv2d: attribute channels_in=%d does not match %d input words", p->channels_in, dim(x, 3));
  const int same = d->padding == 0;
  if (same && p->pad_value == 0 && p->channels_in % 2)
    FAIL(c, "LceBconv2d: zero padding needs an even channels_in (got %d)", p->channels_in);
  bgnn_conv_output_size(p, same);
  switch (d->activation) {
    case 0: p->clamp_lo = INT32_MIN; p->clamp_hi = INT32_MAX; break;
    case 1: p->clamp_lo = 0; p->clamp_hi = INT32_MAX; break;
    case 2: p->clamp_lo = -1; p->clamp_hi = 1; break;
    case 3: p->clamp_lo = 0; p->clamp_hi = 6; break;
    default: FAIL(c, "LceBconv2d: attribute fused_activation_function=%d unsupported", (int)d->activation);
  }
  if (dim(y, 1) != p->out_h || dim(y, 2) != p->out_w)
    FAIL(c, "LceBconv2d: output %dx%d, expected %dx%d", dim(y, 1), dim(y, 2), p->out_h, p->out_w);
  d->bitpacked = out_type == kTfLiteInt32;
  if (d->bitpacked && !input(c, n, 4)) FAIL(c, "LceBconv2d: bit-packed output without thresholds");
  if (!d->bitpacked && (!input(c, n, 2) || !input(c, n, 3)))
    FAIL(c, "LceBconv2d: float output without post_activation multiplier/bias");
  return kTfLiteOk;
}

static TfLiteStatus bconv_invoke(TfLiteOpaqueContext* c, TfLiteOpaqueNode* n) {
  bconv_data* d = API.TfLiteOpaqueNodeGetUserData(n);
  const void* x = API.TfLiteOpaqueTensorData(input(c, n, 0));
  const void* f = API.TfLiteOpaqueTensorData(input(c, n, 1));
  void* y = API.TfLiteOpaqueTensorData(output(c, n, 0));
  if (d->bitpacked) {
    PROFILED("LceBconv2d", bgnn_bconv2d_bitpacked(&d->p, x, f, API.TfLiteOpaqueTensorData(input(c, n, 4)), y));
  } else {
    PROFILED("LceBconv2d", bgnn_bconv2d_float(&d->p, x, f, API.TfLiteOpaqueTensorData(input(c, n, 2)),
                                              API.TfLiteOpaqueTensorData(input(c, n, 3)), y));
  }
  return kTfLiteOk;
}

/* ---- LceBMaxPool2d ------------------------------------------------------------------------- */

typedef struct {
  int64_t filter_h, filter_w, padding, stride_h, stride_w;
  int options_error;
  bgnn_bmaxpool_params p;
} bmaxpool_data;

static void* bmaxpool_init(TfLiteOpaqueContext* c, const char* buf, size_t len) {
  (void)c;
  bmaxpool_data* d = calloc(1, sizeof(*d));
  bgnn_flexmap m;
  if (bgnn_flexmap_open((const uint8_t*)buf, len, &m) != 0 ||
      bgnn_flexmap_int(&m, "filter_height", &d->filter_h) || bgnn_flexmap_int(&m, "filter_width", &d->filter_w) ||
      bgnn_flexmap_int(&m, "padding", &d->padding) || bgnn_flexmap_int(&m, "stride_height", &d->stride_h) ||
      bgnn_flexmap_int(&m, "stride_width", &d->stride_w))
    d->options_error = 1;
  return d;
}

static TfLiteStatus bmaxpool_prepare(TfLiteOpaqueContext* c, TfLiteOpaqueNode* n) {
  bmaxpool_data* d = API.TfLiteOpaqueNodeGetUserData(n);
  if (d->options_error) FAIL(c, "LceBMaxPool2d: custom options incomplete or unreadable");
  const TfLiteOpaqueTensor *x = input(c, n, 0), *y = output(c, n, 0);
  if (rank(x) != 4 || API.TfLiteOpaqueTensorType(x) != kTfLiteInt32) FAIL(c, "LceBMaxPool2d: input must be 4-D int32");
  if (d->filter_h < 1 || d->filter_w < 1 || d->stride_h < 1 || d->stride_w < 1)
    FAIL(c, "LceBMaxPool2d: filter and strides must be >= 1");
  bgnn_bconv2d_params geo = {.in_h = dim(x, 1), .in_w = dim(x, 2), .kernel_h = (int)d->filter_h,
                             .kernel_w = (int)d->filter_w, .stride_h = (int)d->stride_h,
                             .stride_w = (int)d->stride_w, .dilation_h = 1, .dilation_w = 1};
  bgnn_conv_output_size(&geo, d->padding == 0);
  d->p = (bgnn_bmaxpool_params){dim(x, 0), geo.in_h, geo.in_w, dim(x, 3), geo.out_h, geo.out_w,
                                (int)d->filter_h, (int)d->filter_w, (int)d->stride_h, (int)d->stride_w,
                                geo.pad_top, geo.pad_left};
  if (dim(y, 1) != geo.out_h || dim(y, 2) != geo.out_w) FAIL(c, "LceBMaxPool2d: unexpected output size");
  return kTfLiteOk;
}

static TfLiteStatus bmaxpool_invoke(TfLiteOpaqueContext* c, TfLiteOpaqueNode* n) {
  bmaxpool_data* d = API.TfLiteOpaqueNodeGetUserData(n);
  PROFILED("LceBMaxPool2d", bgnn_bmaxpool(&d->p, API.TfLiteOpaqueTensorData(input(c, n, 0)),
                                          API.TfLiteOpaqueTensorData(output(c, n, 0))));
  return kTfLiteOk;
}

/* ---- BgnnHammingKnn ------------------------------------------------------------------------ */

typedef struct {
  int64_t k;
  int options_error;
  uint32_t* packed;
  int32_t* scratch;
} knn_data;

static void* knn_init(TfLiteOpaqueContext* c, const char* buf, size_t len) {
  (void)c;
  knn_data* d = calloc(1, sizeof(*d));
  bgnn_flexmap m;
  const char* rule = NULL;
  if (bgnn_flexmap_open((const uint8_t*)buf, len, &m) || bgnn_flexmap_int(&m, "k", &d->k)) d->options_error = 1;
  else if (bgnn_flexmap_string(&m, "tie_rule", &rule) == 0 && strcmp(rule, "lower_index") != 0) d->options_error = 2;
  return d;
}

static void knn_free(TfLiteOpaqueContext* c, void* p) {
  (void)c;
  knn_data* d = p;
  free(d->packed);
  free(d->scratch);
  free(d);
}

static TfLiteStatus knn_prepare(TfLiteOpaqueContext* c, TfLiteOpaqueNode* n) {
  knn_data* d = API.TfLiteOpaqueNodeGetUserData(n);
  if (d->options_error == 1) FAIL(c, "BgnnHammingKnn: custom option 'k' missing");
  if (d->options_error == 2) FAIL(c, "BgnnHammingKnn: attribute tie_rule unsupported (lower_index only)");
  const TfLiteOpaqueTensor *x = input(c, n, 0), *y = output(c, n, 0);
  if (rank(x) != 3 || dim(x, 0) != 1 || API.TfLiteOpaqueTensorType(x) != kTfLiteFloat32)
    FAIL(c, "BgnnHammingKnn: input must be float32 [1, N, C]");
  const int rows = dim(x, 1), words = bgnn_words(dim(x, 2));
  if (d->k < 1 || d->k > rows) FAIL(c, "BgnnHammingKnn: attribute k=%d outside [1, %d]", (int)d->k, rows);
  if (API.TfLiteOpaqueTensorType(y) != kTfLiteInt32 || dim(y, 2) != d->k)
    FAIL(c, "BgnnHammingKnn: output must be int32 [1, N, k]");
  free(d->packed);
  free(d->scratch);
  d->packed = malloc(sizeof(uint32_t) * (size_t)rows * words);
  d->scratch = malloc(sizeof(int32_t) * ((size_t)rows + words * 32 + 1));
  if (!d->packed || !d->scratch) FAIL(c, "BgnnHammingKnn: allocation failed");
  return kTfLiteOk;
}

static TfLiteStatus knn_invoke(TfLiteOpaqueContext* c, TfLiteOpaqueNode* n) {
  knn_data* d = API.TfLiteOpaqueNodeGetUserData(n);
  const TfLiteOpaqueTensor* x = input(c, n, 0);
  const int rows = dim(x, 1), channels = dim(x, 2);
  PROFILED("BgnnHammingKnn", {
    bgnn_bitpack32(API.TfLiteOpaqueTensorData(x), rows, channels, d->packed);
    bgnn_hamming_knn(d->packed, rows, bgnn_words(channels), (int)d->k,
                     API.TfLiteOpaqueTensorData(output(c, n, 0)), d->scratch);
  });
  return kTfLiteOk;
}

/* ---- the table ------------------------------------------------------------------------------ */

static const bgnn_op_def g_defs[] = {
    {"LceQuantize", no_init, no_free, quantize_prepare, quantize_invoke},
    {"LceDequantize", no_init, no_free, dequantize_prepare, dequantize_invoke},
    {"LceBconv2d", bconv_init, bconv_free, bconv_prepare, bconv_invoke},
    {"LceBMaxPool2d", bmaxpool_init, bconv_free, bmaxpool_prepare, bmaxpool_invoke},
    {"BgnnHammingKnn", knn_init, knn_free, knn_prepare, knn_invoke},
    {NULL, NULL, NULL, NULL, NULL},
};

const bgnn_op_def* bgnn_op_defs(void) { return g_defs; }
