#include "op_impl.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/bconv2d.h"
#include "../core/bitpack.h"
#include "../core/bmaxpool.h"
#include "../core/hamming_knn.h"
#include "../flexbuffers.h"

static const char* const kNames[BGNN_OP_COUNT] = {"LceQuantize", "LceDequantize", "LceBconv2d", "LceBMaxPool2d",
                                                  "BgnnHammingKnn"};

struct bgnn_op {
  bgnn_op_kind kind;
  char options_error[160];
  /* LceBconv2d */
  int64_t channels_in, dil_h, dil_w, activation, pad_values, padding, stride_h, stride_w;
  bgnn_bconv2d_params conv;
  int bitpacked;
  bgnn_bgemm_filters filters; /* repacked once, on the first run */
  /* LceBMaxPool2d */
  int64_t filter_h, filter_w;
  bgnn_bmaxpool_params pool;
  /* BgnnHammingKnn */
  int64_t k;
  uint32_t* packed;
  int32_t* scratch;
  /* Facts a runtime that asks ops for output shapes (LiteRt) cannot derive; bgnn-deploy
   * adds them to the options when it prepares a model for LiteRt (-1: absent). */
  int64_t channels;          /* LceDequantize: output channels */
  int64_t bitpacked_output;  /* LceBconv2d: 1 bit-packed, 0 float */
};

int bgnn_op_kind_from_name(const char* name) {
  for (int k = 0; k < BGNN_OP_COUNT; ++k) {
    const size_t n = strlen(kNames[k]);
    if (strncmp(name, kNames[k], n) == 0 && (name[n] == '\0' || name[n] == '#')) return k;
  }
  return -1;
}

const char* bgnn_op_name(bgnn_op_kind kind) { return kNames[kind]; }

#define OPTION(map, key, field)                                                               \
  if (bgnn_flexmap_int(map, key, &op->field) != 0)                                            \
    snprintf(op->options_error, sizeof(op->options_error), "custom option '%s' missing", key);

bgnn_op* bgnn_op_create(bgnn_op_kind kind, const uint8_t* options, size_t size) {
  bgnn_op* op = calloc(1, sizeof(*op));
  if (!op) return NULL;
  op->kind = kind;
  op->channels = -1;
  op->bitpacked_output = -1;
  bgnn_flexmap m;
  const int have_map = size > 0 && bgnn_flexmap_open(options, size, &m) == 0;
  if (kind == BGNN_OP_BCONV2D || kind == BGNN_OP_BMAXPOOL || kind == BGNN_OP_KNN) {
    if (!have_map) {
      snprintf(op->options_error, sizeof(op->options_error), "custom options are not a flexbuffer map");
      return op;
    }
  }
  if (kind == BGNN_OP_BCONV2D) {
    OPTION(&m, "channels_in", channels_in) OPTION(&m, "dilation_height_factor", dil_h)
    OPTION(&m, "dilation_width_factor", dil_w) OPTION(&m, "fused_activation_function", activation)
    OPTION(&m, "pad_values", pad_values) OPTION(&m, "padding", padding)
    OPTION(&m, "stride_height", stride_h) OPTION(&m, "stride_width", stride_w)
    bgnn_flexmap_int(&m, "bgnn_bitpacked_output", &op->bitpacked_output);
  } else if (kind == BGNN_OP_BMAXPOOL) {
    OPTION(&m, "filter_height", filter_h) OPTION(&m, "filter_width", filter_w)
    OPTION(&m, "padding", padding) OPTION(&m, "stride_height", stride_h) OPTION(&m, "stride_width", stride_w)
  } else if (kind == BGNN_OP_KNN) {
    OPTION(&m, "k", k)
    const char* rule = NULL;
    if (bgnn_flexmap_string(&m, "tie_rule", &rule) == 0 && strcmp(rule, "lower_index") != 0)
      snprintf(op->options_error, sizeof(op->options_error), "attribute tie_rule='%s' unsupported", rule);
  } else if (kind == BGNN_OP_DEQUANTIZE && have_map) {
    bgnn_flexmap_int(&m, "channels", &op->channels);
  }
  return op;
}

void bgnn_op_destroy(bgnn_op* op) {
  if (!op) return;
  free(op->packed);
  free(op->scratch);
  bgnn_bgemm_free(&op->filters);
  free(op);
}

#define FAIL(...)                                                         \
  do {                                                                    \
    int used = snprintf(error, size, "%s: ", kNames[op->kind]);           \
    if (used > 0 && (size_t)used < size) snprintf(error + used, size - used, __VA_ARGS__); \
    return -1;                                                            \
  } while (0)

static long rows_of(const bgnn_tensor* t) {
  long rows = 1;
  for (int i = 0; i < t->rank - 1; ++i) rows *= t->dims[i];
  return rows;
}

static int last(const bgnn_tensor* t) { return t->rank ? t->dims[t->rank - 1] : 1; }

/* Geometry of a conv or pool from its input dims and attributes. */
static int conv_geometry(bgnn_op* op, const bgnn_tensor* x, const bgnn_tensor* f, char* error, size_t size) {
  if (op->kind == BGNN_OP_BCONV2D) {
    if (x->rank != 4 || f->rank != 4) FAIL("input and filter must be 4-D");
    if (op->pad_values != 0 && op->pad_values != 1) FAIL("attribute pad_values=%d unsupported", (int)op->pad_values);
    if (op->padding != 0 && op->padding != 1) FAIL("attribute padding=%d unsupported", (int)op->padding);
    if (f->dims[3] != x->dims[3])
      FAIL("attribute groups>1 unsupported (filter words %d, input words %d)", f->dims[3], x->dims[3]);
    bgnn_bconv2d_params* p = &op->conv;
    *p = (bgnn_bconv2d_params){.batch = x->dims[0], .in_h = x->dims[1], .in_w = x->dims[2],
                               .channels_in = (int)op->channels_in, .channels_out = f->dims[0],
                               .kernel_h = f->dims[1], .kernel_w = f->dims[2], .stride_h = (int)op->stride_h,
                               .stride_w = (int)op->stride_w, .dilation_h = (int)op->dil_h,
                               .dilation_w = (int)op->dil_w, .pad_value = (int)op->pad_values};
    if (p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1)
      FAIL("strides and dilations must be >= 1");
    if (bgnn_words(p->channels_in) != x->dims[3])
      FAIL("attribute channels_in=%d does not match %d input words", p->channels_in, x->dims[3]);
    if (op->padding == 0 && p->pad_value == 0 && p->channels_in % 2)
      FAIL("zero padding needs an even channels_in (got %d)", p->channels_in);
    bgnn_conv_output_size(p, op->padding == 0);
    return 0;
  }
  if (x->rank != 4) FAIL("input must be 4-D");
  if (op->filter_h < 1 || op->filter_w < 1 || op->stride_h < 1 || op->stride_w < 1)
    FAIL("filter and strides must be >= 1");
  bgnn_bconv2d_params g = {.in_h = x->dims[1], .in_w = x->dims[2], .kernel_h = (int)op->filter_h,
                           .kernel_w = (int)op->filter_w, .stride_h = (int)op->stride_h,
                           .stride_w = (int)op->stride_w, .dilation_h = 1, .dilation_w = 1};
  bgnn_conv_output_size(&g, op->padding == 0);
  op->pool = (bgnn_bmaxpool_params){x->dims[0], g.in_h, g.in_w, x->dims[3], g.out_h, g.out_w,
                                    (int)op->filter_h, (int)op->filter_w, (int)op->stride_h,
                                    (int)op->stride_w, g.pad_top, g.pad_left};
  return 0;
}

int bgnn_op_output_shape(bgnn_op* op, int n_in, const bgnn_tensor* in, bgnn_tensor* out, char* error, size_t size) {
  if (op->options_error[0]) FAIL("%s", op->options_error);
  if (n_in < 1) FAIL("no inputs");
  const bgnn_tensor* x = &in[0];
  *out = (bgnn_tensor){NULL, BGNN_INT32, x->rank, {0}};
  memcpy(out->dims, x->dims, sizeof(out->dims));
  switch (op->kind) {
    case BGNN_OP_QUANTIZE:
      out->dims[x->rank - 1] = bgnn_words(last(x));
      return 0;
    case BGNN_OP_DEQUANTIZE:
      if (op->channels < 0) FAIL("output channel count unknown (needs the 'channels' option)");
      out->type = BGNN_FLOAT32;
      out->dims[x->rank - 1] = (int32_t)op->channels;
      return 0;
    case BGNN_OP_BCONV2D:
      if (n_in < 2) FAIL("no filter");
      if (conv_geometry(op, x, &in[1], error, size)) return -1;
      out->dims[1] = op->conv.out_h;
      out->dims[2] = op->conv.out_w;
      if (op->bitpacked_output < 0) FAIL("output form unknown (needs the 'bgnn_bitpacked_output' option)");
      out->type = op->bitpacked_output ? BGNN_INT32 : BGNN_FLOAT32;
      out->dims[3] = op->bitpacked_output ? bgnn_words(op->conv.channels_out) : op->conv.channels_out;
      return 0;
    case BGNN_OP_BMAXPOOL:
      if (conv_geometry(op, x, NULL, error, size)) return -1;
      out->dims[1] = op->pool.out_h;
      out->dims[2] = op->pool.out_w;
      return 0;
    case BGNN_OP_KNN:
      if (x->rank != 3) FAIL("input must be [1, N, C]");
      out->dims[2] = (int32_t)op->k;
      return 0;
    default:
      FAIL("unknown op");
  }
}

int bgnn_op_prepare(bgnn_op* op, int n_in, const bgnn_tensor* in, const bgnn_tensor* out, char* error, size_t size) {
  if (op->options_error[0]) FAIL("%s", op->options_error);
  const bgnn_tensor *x = &in[0], *y = &out[0];
  switch (op->kind) {
    case BGNN_OP_QUANTIZE:
      if (x->type != BGNN_FLOAT32) FAIL("input type %d unsupported (float32 only)", x->type);
      if (y->type != BGNN_INT32 || last(y) != bgnn_words(last(x))) FAIL("output must be int32 with ceil(C/32) words");
      return 0;
    case BGNN_OP_DEQUANTIZE:
      if (x->type != BGNN_INT32) FAIL("input must be bit-packed int32");
      if (y->type != BGNN_FLOAT32) FAIL("output type %d unsupported (float32 only)", y->type);
      if (last(x) != bgnn_words(last(y))) FAIL("word count does not match channels");
      return 0;
    case BGNN_OP_BCONV2D: {
      if (n_in < 2) FAIL("needs input and filter");
      if (x->type != BGNN_INT32) FAIL("input must be bit-packed int32");
      if (conv_geometry(op, x, &in[1], error, size)) return -1;
      bgnn_bconv2d_params* p = &op->conv;
      switch (op->activation) {
        case 0: p->clamp_lo = INT32_MIN; p->clamp_hi = INT32_MAX; break;
        case 1: p->clamp_lo = 0; p->clamp_hi = INT32_MAX; break;
        case 2: p->clamp_lo = -1; p->clamp_hi = 1; break;
        case 3: p->clamp_lo = 0; p->clamp_hi = 6; break;
        default: FAIL("attribute fused_activation_function=%d unsupported", (int)op->activation);
      }
      if (y->type != BGNN_FLOAT32 && y->type != BGNN_INT32)
        FAIL("output type %d unsupported (float32 or bit-packed int32)", y->type);
      if (y->dims[1] != p->out_h || y->dims[2] != p->out_w)
        FAIL("output %dx%d, expected %dx%d", y->dims[1], y->dims[2], p->out_h, p->out_w);
      op->bitpacked = y->type == BGNN_INT32;
      if (op->bitpacked && (n_in < 5 || !in[4].data || in[4].rank != 1 || in[4].dims[0] != p->channels_out))
        FAIL("bit-packed output without thresholds");
      if (!op->bitpacked && (n_in < 4 || !in[2].data || !in[3].data || in[2].dims[0] != p->channels_out))
        FAIL("float output without post_activation multiplier/bias");
      return 0;
    }
    case BGNN_OP_BMAXPOOL:
      if (x->type != BGNN_INT32) FAIL("input must be bit-packed int32");
      if (conv_geometry(op, x, NULL, error, size)) return -1;
      if (y->dims[1] != op->pool.out_h || y->dims[2] != op->pool.out_w) FAIL("unexpected output size");
      return 0;
    case BGNN_OP_KNN: {
      if (x->rank != 3 || x->dims[0] != 1 || x->type != BGNN_FLOAT32) FAIL("input must be float32 [1, N, C]");
      const int rows = x->dims[1], words = bgnn_words(x->dims[2]);
      if (op->k < 1 || op->k > rows) FAIL("attribute k=%d outside [1, %d]", (int)op->k, rows);
      if (y->type != BGNN_INT32 || y->rank != 3 || y->dims[2] != op->k) FAIL("output must be int32 [1, N, k]");
      free(op->packed);
      free(op->scratch);
      op->packed = malloc(sizeof(uint32_t) * (size_t)rows * words);
      op->scratch = malloc(sizeof(int32_t) * bgnn_hamming_knn_scratch(rows, words));
      if (!op->packed || !op->scratch) FAIL("allocation failed");
      return 0;
    }
    default:
      FAIL("unknown op");
  }
}

/* ---- profiling ---------------------------------------------------------------------------- */

int bgnn_profiling_enabled = 0;
static bgnn_op_profile g_profiles[BGNN_OP_COUNT];

static bgnn_op_profile g_listed[BGNN_OP_COUNT];

int bgnn_op_profiles(bgnn_op_profile** out) {
  int n = 0;
  for (int k = 0; k < BGNN_OP_COUNT; ++k)
    if (g_profiles[k].calls) g_listed[n++] = g_profiles[k];
  *out = g_listed;
  return n;
}

void bgnn_op_profiles_reset(void) { memset(g_profiles, 0, sizeof(g_profiles)); }

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int bgnn_op_run(bgnn_op* op, const bgnn_tensor* in, bgnn_tensor* out) {
  const double t0 = bgnn_profiling_enabled ? now_ms() : 0;
  const bgnn_tensor *x = &in[0], *y = &out[0];
  int ok = 1;
  switch (op->kind) {
    case BGNN_OP_QUANTIZE:
      bgnn_bitpack32(x->data, (int)rows_of(x), last(x), y->data);
      break;
    case BGNN_OP_DEQUANTIZE:
      bgnn_unpack32(x->data, (int)rows_of(y), last(y), y->data);
      break;
    case BGNN_OP_BCONV2D:
      ok = op->bitpacked
               ? bgnn_bconv2d_bitpacked(&op->conv, x->data, in[1].data, in[4].data, y->data, &op->filters)
               : bgnn_bconv2d_float(&op->conv, x->data, in[1].data, in[2].data, in[3].data, y->data, &op->filters);
      break;
    case BGNN_OP_BMAXPOOL:
      bgnn_bmaxpool(&op->pool, x->data, y->data);
      break;
    case BGNN_OP_KNN:
      bgnn_bitpack32(x->data, x->dims[1], x->dims[2], op->packed);
      ok = bgnn_hamming_knn(op->packed, x->dims[1], bgnn_words(x->dims[2]), (int)op->k, y->data, op->scratch);
      break;
    default:
      break;
  }
  if (bgnn_profiling_enabled) {
    g_profiles[op->kind].name = kNames[op->kind];
    g_profiles[op->kind].total_ms += now_ms() - t0;
    g_profiles[op->kind].calls++;
  }
  return ok ? 0 : -1;
}
