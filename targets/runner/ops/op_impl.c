#include "op_impl.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/bconv2d.h"
#include "../core/bitpack.h"
#include "../core/bmaxpool.h"
#include "../core/edgeconv.h"
#include "../core/embed_pool.h"
#include "../core/hamming_knn.h"
#include "../core/l2_knn.h"
#include "../core/parallel.h"
#include "../flexbuffers.h"

static const char* const kNames[BGNN_OP_COUNT] = {"LceQuantize",    "LceDequantize", "LceBconv2d",
                                                  "LceBMaxPool2d",  "BgnnHammingKnn", "BgnnL2Knn",
                                                  "BgnnEdgeConv",   "BgnnEmbedPool"};

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
  /* BgnnHammingKnn, BgnnL2Knn */
  int64_t k;
  uint32_t* packed;
  int32_t* scratch;
  float* l2_scratch;
  int packed_input; /* BgnnHammingKnn on bit-packed rows */
  /* BgnnEdgeConv, BgnnEmbedPool */
  int64_t channels_out, fused_inputs;
  int64_t fused_channels[BGNN_EMBED_MAX_INPUTS];
  bgnn_edgeconv edgeconv;
  bgnn_embed_pool embed;
  int fused_ready;
  int32_t* own_idx; /* BgnnEdgeConv with option k: the L2 k-NN of its points, computed by it */
  char run_error[160];
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
  if (kind != BGNN_OP_QUANTIZE && kind != BGNN_OP_DEQUANTIZE) {
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
  } else if (kind == BGNN_OP_KNN || kind == BGNN_OP_L2KNN) {
    OPTION(&m, "k", k)
    const char* rule = NULL;
    if (bgnn_flexmap_string(&m, "tie_rule", &rule) == 0 && strcmp(rule, "lower_index") != 0)
      snprintf(op->options_error, sizeof(op->options_error), "attribute tie_rule='%s' unsupported", rule);
  } else if (kind == BGNN_OP_EDGECONV) {
    OPTION(&m, "channels_in", channels_in) OPTION(&m, "channels_out", channels_out)
    const char* rule = NULL; /* option k: 4 inputs, the neighbours the op's own L2 k-NN */
    if (bgnn_flexmap_int(&m, "k", &op->k) == 0 && op->k < 1 && !op->options_error[0])
      snprintf(op->options_error, sizeof(op->options_error), "attribute k=%lld must be >= 1", (long long)op->k);
    if (bgnn_flexmap_string(&m, "tie_rule", &rule) == 0 && strcmp(rule, "lower_index") != 0)
      snprintf(op->options_error, sizeof(op->options_error), "attribute tie_rule='%s' unsupported", rule);
  } else if (kind == BGNN_OP_EMBEDPOOL) {
    OPTION(&m, "channels_out", channels_out) OPTION(&m, "inputs", fused_inputs)
    if (!op->options_error[0] && (op->fused_inputs < 1 || op->fused_inputs > BGNN_EMBED_MAX_INPUTS))
      snprintf(op->options_error, sizeof(op->options_error), "attribute inputs=%lld outside [1, %d]",
               (long long)op->fused_inputs, BGNN_EMBED_MAX_INPUTS);
    for (int l = 0; l < op->fused_inputs && l < BGNN_EMBED_MAX_INPUTS && !op->options_error[0]; ++l) {
      char key[32];
      snprintf(key, sizeof(key), "channels_in_%d", l);
      if (bgnn_flexmap_int(&m, key, &op->fused_channels[l]) != 0)
        snprintf(op->options_error, sizeof(op->options_error), "custom option '%s' missing", key);
    }
  } else if (kind == BGNN_OP_DEQUANTIZE && have_map) {
    bgnn_flexmap_int(&m, "channels", &op->channels);
  }
  return op;
}

void bgnn_op_destroy(bgnn_op* op) {
  if (!op) return;
  free(op->packed);
  free(op->scratch);
  free(op->l2_scratch);
  free(op->own_idx);
  bgnn_bgemm_free(&op->filters);
  if (op->fused_ready) {
    if (op->kind == BGNN_OP_EDGECONV) bgnn_edgeconv_free(&op->edgeconv);
    if (op->kind == BGNN_OP_EMBEDPOOL) bgnn_embed_pool_free(&op->embed);
  }
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

/* Window extent (k - 1) * dilation + 1 along one axis: it must fit in an int, and a VALID
 * window (padding 1) must fit in the input. */
static int window_fits(const bgnn_op* op, const char* axis, int64_t in, int64_t k, int64_t stride, int64_t dil,
                       char* error, size_t size) {
  if (stride < 1 || stride > 65536 || dil < 1 || dil > 65536) FAIL("strides and dilations must be in [1, 65536]");
  if (k < 1 || k > 65536) FAIL("%s window %lld outside [1, 65536]", axis, (long long)k);
  const int64_t extent = (k - 1) * dil + 1;
  if (op->padding == 1 && extent > in) FAIL("VALID %s window %lld is larger than the input's %lld", axis, (long long)extent, (long long)in);
  return 0;
}

/* Geometry of a conv or pool from its input dims and attributes. */
static int conv_geometry(bgnn_op* op, const bgnn_tensor* x, const bgnn_tensor* f, char* error, size_t size) {
  if (op->padding != 0 && op->padding != 1) FAIL("attribute padding=%d unsupported", (int)op->padding);
  if (op->kind == BGNN_OP_BCONV2D) {
    if (x->rank != 4 || f->rank != 4) FAIL("input and filter must be 4-D");
    for (int d = 0; d < 4; ++d)
      if (x->dims[d] < 1 || f->dims[d] < 1) FAIL("input and filter dims must be positive");
    if (op->pad_values != 0 && op->pad_values != 1) FAIL("attribute pad_values=%d unsupported", (int)op->pad_values);
    if (op->channels_in < 1 || op->channels_in > (1 << 24)) FAIL("attribute channels_in=%lld outside [1, 2^24]", (long long)op->channels_in);
    if (window_fits(op, "height", x->dims[1], f->dims[1], op->stride_h, op->dil_h, error, size) ||
        window_fits(op, "width", x->dims[2], f->dims[2], op->stride_w, op->dil_w, error, size))
      return -1;
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
  for (int d = 0; d < 4; ++d)
    if (x->dims[d] < 1) FAIL("input dims must be positive");
  if (window_fits(op, "height", x->dims[1], op->filter_h, op->stride_h, 1, error, size) ||
      window_fits(op, "width", x->dims[2], op->filter_w, op->stride_w, 1, error, size))
    return -1;
  bgnn_bconv2d_params g = {.in_h = x->dims[1], .in_w = x->dims[2], .kernel_h = (int)op->filter_h,
                           .kernel_w = (int)op->filter_w, .stride_h = (int)op->stride_h,
                           .stride_w = (int)op->stride_w, .dilation_h = 1, .dilation_w = 1};
  bgnn_conv_output_size(&g, op->padding == 0);
  op->pool = (bgnn_bmaxpool_params){x->dims[0], g.in_h, g.in_w, x->dims[3], g.out_h, g.out_w,
                                    (int)op->filter_h, (int)op->filter_w, (int)op->stride_h,
                                    (int)op->stride_w, g.pad_top, g.pad_left};
  return 0;
}

/* A view a model can give any op: a rank in [0, BGNN_MAX_RANK] (the dims a view holds)
 * and no negative dim. */
static int check_view(const bgnn_op* op, const bgnn_tensor* t, const char* what, int i, char* error, size_t size) {
  if (t->rank < 0 || t->rank > BGNN_MAX_RANK) FAIL("%s %d has rank %d", what, i, t->rank);
  for (int d = 0; d < t->rank; ++d)
    if (t->dims[d] < 0) FAIL("%s %d has dim %d = %d", what, i, d, t->dims[d]);
  return 0;
}

int bgnn_op_output_shape(bgnn_op* op, int n_in, const bgnn_tensor* in, bgnn_tensor* out, char* error, size_t size) {
  if (op->options_error[0]) FAIL("%s", op->options_error);
  if (n_in < 1) FAIL("no inputs");
  for (int i = 0; i < n_in; ++i)
    if (check_view(op, &in[i], "input", i, error, size)) return -1;
  const bgnn_tensor* x = &in[0];
  if ((op->kind == BGNN_OP_QUANTIZE || op->kind == BGNN_OP_DEQUANTIZE) && x->rank < 1)
    FAIL("input must have a channel axis (rank >= 1)");
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
    case BGNN_OP_L2KNN:
      if (x->rank != 3) FAIL("input must be [1, N, C]");
      out->dims[2] = (int32_t)op->k;
      return 0;
    case BGNN_OP_EDGECONV:
      if (x->rank != 3) FAIL("input must be [1, N, C] or [1, N, words]");
      if (op->channels_out < 1 || op->channels_out > (1 << 20)) FAIL("attribute channels_out=%lld", (long long)op->channels_out);
      out->dims[2] = bgnn_words((int)op->channels_out);
      return 0;
    case BGNN_OP_EMBEDPOOL:
      if (op->channels_out < 1 || op->channels_out > (1 << 20)) FAIL("attribute channels_out=%lld", (long long)op->channels_out);
      out->type = BGNN_FLOAT32;
      out->rank = 2;
      out->dims[0] = 1;
      out->dims[1] = 2 * (int32_t)op->channels_out;
      return 0;
    default:
      FAIL("unknown op");
  }
}

static int dims_are(const bgnn_tensor* t, int rank, const int32_t* dims) {
  if (t->rank != rank) return 0;
  for (int d = 0; d < rank; ++d)
    if (t->dims[d] != dims[d]) return 0;
  return 1;
}

static int prepare_edgeconv(bgnn_op* op, int n_in, const bgnn_tensor* in, const bgnn_tensor* y, char* error, size_t size) {
  const int own = op->k > 0; /* option k: the neighbours are the L2 k-NN of x, no input */
  if (own && n_in != 4) FAIL("with option k it needs 4 inputs (points, weights, modes, bounds), got %d", n_in);
  if (!own && n_in != 5) FAIL("needs 5 inputs (x, indices, weights, modes, bounds), got %d", n_in);
  const bgnn_tensor *x = &in[0], *idx = own ? NULL : &in[1], *w = &in[2 - own], *mode = &in[3 - own],
                    *bounds = &in[4 - own];
  const int64_t cin = op->channels_in, cout = op->channels_out;
  if (cin < 1 || cin > 65536 || cout < 1 || cout > 65536) FAIL("channels_in=%lld / channels_out=%lld outside [1, 65536]", (long long)cin, (long long)cout);
  if (x->rank != 3 || x->dims[0] != 1 || x->dims[1] < 1) FAIL("input must be [1, N, C] (float32) or [1, N, words] (int32)");
  const int n = x->dims[1], binary = x->type == BGNN_INT32;
  if (x->type != BGNN_FLOAT32 && !binary) FAIL("input type %d unsupported (float32 or bit-packed int32)", x->type);
  if (x->dims[2] != (binary ? bgnn_words((int)cin) : cin))
    FAIL("input has %d %s per row, channels_in=%lld needs %d", x->dims[2], binary ? "words" : "channels", (long long)cin,
         binary ? bgnn_words((int)cin) : (int)cin);
  if (own && binary) FAIL("option k (its own L2 k-NN) needs float32 points");
  if (own && op->k > n) FAIL("attribute k=%lld outside [1, %d]", (long long)op->k, n);
  if (!own && (idx->type != BGNN_INT32 || idx->rank != 3 || idx->dims[0] != 1 || idx->dims[1] != n ||
               idx->dims[2] < 1 || idx->dims[2] > n))
    FAIL("indices must be int32 [1, %d, k] with 1 <= k <= %d", n, n);
  const int k = own ? (int)op->k : idx->dims[2];
  const int32_t wf[2] = {(int32_t)cout, 2 * (int32_t)cin}, wb[3] = {(int32_t)cout, 2, bgnn_words((int)cin)};
  if (!w->data || (binary ? !(w->type == BGNN_INT32 && dims_are(w, 3, wb)) : !(w->type == BGNN_FLOAT32 && dims_are(w, 2, wf))))
    FAIL(binary ? "weights must be int32 [%lld, 2, %d]" : "weights must be float32 [%lld, %d]", (long long)cout,
         binary ? bgnn_words((int)cin) : 2 * (int)cin);
  const int32_t md[1] = {(int32_t)cout}, bd[2] = {(int32_t)cout, 2};
  if (!mode->data || mode->type != BGNN_INT32 || !dims_are(mode, 1, md)) FAIL("modes must be int32 [%lld]", (long long)cout);
  if (!bounds->data || bounds->type != (binary ? BGNN_INT32 : BGNN_FLOAT32) || !dims_are(bounds, 2, bd))
    FAIL("bounds must be %s [%lld, 2]", binary ? "int32" : "float32", (long long)cout);
  for (int c = 0; c < cout; ++c)
    if (((const int32_t*)mode->data)[c] < 0 || ((const int32_t*)mode->data)[c] > 3)
      FAIL("mode %d of channel %d unknown", ((const int32_t*)mode->data)[c], c);
  const int32_t yd[3] = {1, n, bgnn_words((int)cout)};
  if (y->type != BGNN_INT32 || !dims_are(y, 3, yd)) FAIL("output must be int32 [1, %d, %d]", n, bgnn_words((int)cout));
  if (op->fused_ready) bgnn_edgeconv_free(&op->edgeconv);
  op->fused_ready = bgnn_edgeconv_init(&op->edgeconv, n, k, (int)cin, (int)cout, binary, w->data, mode->data,
                                       bounds->data, bgnn_parallel_threads());
  if (!op->fused_ready) {
    bgnn_edgeconv_free(&op->edgeconv);
    FAIL("allocation failed");
  }
  if (own) {
    free(op->own_idx);
    free(op->l2_scratch);
    op->own_idx = malloc(sizeof(int32_t) * (size_t)n * k);
    op->l2_scratch = malloc(sizeof(float) * bgnn_l2_knn_scratch(n, (int)cin, k, bgnn_parallel_threads()));
    if (!op->own_idx || !op->l2_scratch) FAIL("allocation failed");
  }
  return 0;
}

static int prepare_embed_pool(bgnn_op* op, int n_in, const bgnn_tensor* in, const bgnn_tensor* y, char* error, size_t size) {
  const int inputs = (int)op->fused_inputs;
  if (n_in != inputs + 2) FAIL("needs %d inputs (%d feature maps, filters, params), got %d", inputs + 2, inputs, n_in);
  const int64_t cout = op->channels_out;
  if (cout < 1 || cout > 65536) FAIL("channels_out=%lld outside [1, 65536]", (long long)cout);
  int channels[BGNN_EMBED_MAX_INPUTS], total = 0;
  const int n = in[0].rank == 3 ? in[0].dims[1] : 0;
  if (n < 1) FAIL("feature map 0 must be int32 [1, N, words]");
  for (int l = 0; l < inputs; ++l) {
    const int64_t c = op->fused_channels[l];
    if (c < 1 || c > 65536) FAIL("channels_in_%d=%lld outside [1, 65536]", l, (long long)c);
    const int32_t d[3] = {1, n, bgnn_words((int)c)};
    if (in[l].type != BGNN_INT32 || !dims_are(&in[l], 3, d))
      FAIL("feature map %d must be int32 [1, %d, %d] (channels_in_%d=%lld)", l, n, bgnn_words((int)c), l, (long long)c);
    channels[l] = (int)c;
    total += (int)c;
  }
  if ((int64_t)n * total >= INT32_MAX) FAIL("%d points x %d channels is too large for the 32-bit sums", n, total);
  const bgnn_tensor *f = &in[inputs], *prm = &in[inputs + 1];
  const int32_t fd[2] = {(int32_t)cout, bgnn_words(total)}, pd[2] = {(int32_t)cout, 4};
  if (!f->data || f->type != BGNN_INT32 || !dims_are(f, 2, fd)) FAIL("filters must be int32 [%lld, %d]", (long long)cout, bgnn_words(total));
  if (!prm->data || prm->type != BGNN_FLOAT32 || !dims_are(prm, 2, pd)) FAIL("params must be float32 [%lld, 4]", (long long)cout);
  const int32_t yd[2] = {1, 2 * (int32_t)cout};
  if (y->type != BGNN_FLOAT32 || !dims_are(y, 2, yd)) FAIL("output must be float32 [1, %lld]", 2 * (long long)cout);
  if (op->fused_ready) bgnn_embed_pool_free(&op->embed);
  op->fused_ready = bgnn_embed_pool_init(&op->embed, n, inputs, channels, (int)cout, f->data, prm->data, bgnn_parallel_threads());
  if (!op->fused_ready) {
    bgnn_embed_pool_free(&op->embed);
    FAIL("allocation failed");
  }
  return 0;
}

/* Same rank and the same dims but the last: the ops that change only the channel axis. */
static int same_but_last(const bgnn_tensor* a, const bgnn_tensor* b) {
  if (a->rank != b->rank || a->rank < 1) return 0;
  for (int d = 0; d + 1 < a->rank; ++d)
    if (a->dims[d] != b->dims[d]) return 0;
  return 1;
}

/* A 1-D constant of `n` elements of `type` (the per-channel vectors of LceBconv2d). */
static int vector_of(const bgnn_tensor* t, int type, int n) {
  return t->data && t->type == type && t->rank == 1 && t->dims[0] == n;
}

int bgnn_op_prepare(bgnn_op* op, int n_in, const bgnn_tensor* in, const bgnn_tensor* out, char* error, size_t size) {
  if (op->options_error[0]) FAIL("%s", op->options_error);
  if (n_in < 1) FAIL("no inputs");
  const bgnn_tensor *x = &in[0], *y = &out[0];
  for (int i = 0; i < n_in; ++i)
    if (check_view(op, &in[i], "input", i, error, size)) return -1;
  if (check_view(op, y, "output", 0, error, size)) return -1;
  switch (op->kind) {
    case BGNN_OP_QUANTIZE:
      if (x->type != BGNN_FLOAT32) FAIL("input type %d unsupported (float32 only)", x->type);
      if (y->type != BGNN_INT32 || !same_but_last(x, y) || last(y) != bgnn_words(last(x)))
        FAIL("output must be int32 of the input's shape with ceil(C/32) words last");
      return 0;
    case BGNN_OP_DEQUANTIZE:
      if (x->type != BGNN_INT32) FAIL("input must be bit-packed int32");
      if (y->type != BGNN_FLOAT32) FAIL("output type %d unsupported (float32 only)", y->type);
      if (!same_but_last(x, y) || last(x) != bgnn_words(last(y)))
        FAIL("output must have the input's shape with one channel per bit of its words");
      return 0;
    case BGNN_OP_BCONV2D: {
      if (n_in < 2) FAIL("needs input and filter");
      if (x->type != BGNN_INT32) FAIL("input must be bit-packed int32");
      if (in[1].type != BGNN_INT32 || !in[1].data) FAIL("filter must be a bit-packed int32 constant");
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
      op->bitpacked = y->type == BGNN_INT32;
      if (op->bitpacked_output >= 0 && op->bitpacked_output != op->bitpacked)
        FAIL("option bgnn_bitpacked_output=%d contradicts the %s output tensor", (int)op->bitpacked_output,
             op->bitpacked ? "int32" : "float32");
      const int32_t yd[4] = {p->batch, p->out_h, p->out_w,
                             op->bitpacked ? bgnn_words(p->channels_out) : p->channels_out};
      if (!dims_are(y, 4, yd))
        FAIL("output must be [%d, %d, %d, %d] for this input and filter", yd[0], yd[1], yd[2], yd[3]);
      if (op->bitpacked && (n_in < 5 || !vector_of(&in[4], BGNN_INT32, p->channels_out)))
        FAIL("bit-packed output without int32 thresholds of %d channels", p->channels_out);
      if (!op->bitpacked && (n_in < 4 || !vector_of(&in[2], BGNN_FLOAT32, p->channels_out) ||
                             !vector_of(&in[3], BGNN_FLOAT32, p->channels_out)))
        FAIL("float output without float32 post_activation multiplier and bias of %d channels", p->channels_out);
      return 0;
    }
    case BGNN_OP_BMAXPOOL: {
      if (x->type != BGNN_INT32) FAIL("input must be bit-packed int32");
      if (conv_geometry(op, x, NULL, error, size)) return -1;
      const int32_t yd[4] = {x->dims[0], op->pool.out_h, op->pool.out_w, x->dims[3]};
      if (y->type != BGNN_INT32 || !dims_are(y, 4, yd))
        FAIL("output must be int32 [%d, %d, %d, %d]", yd[0], yd[1], yd[2], yd[3]);
      return 0;
    }
    case BGNN_OP_KNN: {
      if (x->rank != 3 || x->dims[0] != 1 || x->dims[1] < 1 || x->dims[2] < 1 || (x->type != BGNN_FLOAT32 && x->type != BGNN_INT32))
        FAIL("input must be float32 [1, N, C] or bit-packed int32 [1, N, words]");
      op->packed_input = x->type == BGNN_INT32;
      const int rows = x->dims[1], words = op->packed_input ? x->dims[2] : bgnn_words(x->dims[2]);
      if (op->k < 1 || op->k > rows) FAIL("attribute k=%d outside [1, %d]", (int)op->k, rows);
      const int32_t yd[3] = {1, rows, (int32_t)op->k};
      if (y->type != BGNN_INT32 || !dims_are(y, 3, yd)) FAIL("output must be int32 [1, %d, %d]", rows, (int)op->k);
      free(op->packed);
      free(op->scratch);
      op->packed = malloc(sizeof(uint32_t) * (size_t)rows * words);
      op->scratch = malloc(sizeof(int32_t) * bgnn_hamming_knn_scratch(rows, words));
      if (!op->packed || !op->scratch) FAIL("allocation failed");
      return 0;
    }
    case BGNN_OP_L2KNN: {
      if (x->rank != 3 || x->dims[0] != 1 || x->dims[1] < 1 || x->dims[2] < 1 || x->type != BGNN_FLOAT32)
        FAIL("input must be float32 [1, N, C]");
      const int rows = x->dims[1];
      if (op->k < 1 || op->k > rows) FAIL("attribute k=%d outside [1, %d]", (int)op->k, rows);
      const int32_t yd[3] = {1, rows, (int32_t)op->k};
      if (y->type != BGNN_INT32 || !dims_are(y, 3, yd)) FAIL("output must be int32 [1, %d, %d]", rows, (int)op->k);
      free(op->l2_scratch);
      op->l2_scratch = malloc(sizeof(float) * bgnn_l2_knn_scratch(rows, x->dims[2], (int)op->k, bgnn_parallel_threads()));
      if (!op->l2_scratch) FAIL("allocation failed");
      return 0;
    }
    case BGNN_OP_EDGECONV:
      return prepare_edgeconv(op, n_in, in, y, error, size);
    case BGNN_OP_EMBEDPOOL:
      return prepare_embed_pool(op, n_in, in, y, error, size);
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
      if (op->packed_input) {
        ok = bgnn_hamming_knn(x->data, x->dims[1], x->dims[2], (int)op->k, y->data, op->scratch);
      } else {
        bgnn_bitpack32(x->data, x->dims[1], x->dims[2], op->packed);
        ok = bgnn_hamming_knn(op->packed, x->dims[1], bgnn_words(x->dims[2]), (int)op->k, y->data, op->scratch);
      }
      break;
    case BGNN_OP_L2KNN:
      bgnn_l2_knn(x->data, x->dims[1], x->dims[2], (int)op->k, y->data, op->l2_scratch);
      break;
    case BGNN_OP_EDGECONV: {
      if (op->own_idx) { /* its own L2 k-NN: indices in range by construction */
        bgnn_l2_knn(x->data, x->dims[1], x->dims[2], (int)op->k, op->own_idx, op->l2_scratch);
        bgnn_edgeconv_run(&op->edgeconv, x->data, op->own_idx, y->data);
        break;
      }
      /* indices come from another op of the model: a corrupt model must not read outside x */
      const int32_t* idx = in[1].data;
      const size_t count = (size_t)in[1].dims[1] * in[1].dims[2];
      const int32_t n = x->dims[1];
      uint32_t outside = 0; /* one branch-free pass (it vectorizes); the message needs a second */
      for (size_t t = 0; t < count; ++t) outside |= (uint32_t)idx[t] >= (uint32_t)n;
      for (size_t t = 0; t < count && ok && outside; ++t)
        if (idx[t] < 0 || idx[t] >= n) {
          snprintf(op->run_error, sizeof(op->run_error), "BgnnEdgeConv: neighbour index %d outside [0, %d)", idx[t], n);
          ok = 0;
        }
      if (ok) bgnn_edgeconv_run(&op->edgeconv, x->data, idx, y->data);
      break;
    }
    case BGNN_OP_EMBEDPOOL: {
      const uint32_t* maps[BGNN_EMBED_MAX_INPUTS];
      for (int l = 0; l < op->fused_inputs; ++l) maps[l] = in[l].data;
      bgnn_embed_pool_run(&op->embed, maps, y->data);
      break;
    }
    default:
      break;
  }
  if (bgnn_profiling_enabled) {
    g_profiles[op->kind].name = kNames[op->kind];
    g_profiles[op->kind].total_ms += now_ms() - t0;
    g_profiles[op->kind].calls++;
  }
  if (!ok && !op->run_error[0]) snprintf(op->run_error, sizeof(op->run_error), "%s: out of memory", kNames[op->kind]);
  return ok ? 0 : -1;
}

const char* bgnn_op_run_error(const bgnn_op* op) {
  return op && op->run_error[0] ? op->run_error : "custom op: out of memory";
}
