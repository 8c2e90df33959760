/* Glue for the TFLite C API (ai-edge-litert 1.x, libLiteRtRuntimeCApi.so): loads the
 * library, registers our operators, and adapts opaque tensors to op_impl views. */
#include "tflite_c_api.h"

#include <dlfcn.h>
#include <stdio.h>

#include "op_impl.h"

bgnn_tflite_api bgnn_tfl;

int bgnn_tflite_load(const char* path, char* error, size_t error_size) {
  void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    snprintf(error, error_size, "cannot load the TFLite runtime library %s: %s", path, dlerror());
    return -1;
  }
#define BGNN_RESOLVE(ret, name, args)                                                              \
  bgnn_tfl.name = (name##_fn)dlsym(lib, #name);                                                    \
  if (!bgnn_tfl.name) {                                                                            \
    snprintf(error, error_size, "%s does not export %s: not a TFLite C API library", path, #name); \
    return -1;                                                                                     \
  }
  BGNN_TFLITE_FUNCTIONS(BGNN_RESOLVE)
#undef BGNN_RESOLVE
#define BGNN_RESOLVE_OPTIONAL(ret, name, args) bgnn_tfl.name = (name##_fn)dlsym(lib, #name);
  BGNN_TFLITE_OPTIONAL_FUNCTIONS(BGNN_RESOLVE_OPTIONAL)
#undef BGNN_RESOLVE_OPTIONAL
  return 0;
}

#define MAX_IO 8

/* Views of a node's tensors; an absent optional input (index -1) has data NULL. */
static int views(TfLiteOpaqueContext* c, TfLiteOpaqueNode* n, bgnn_tensor* in, int* n_in, bgnn_tensor* out) {
  const int *ins, *outs;
  int count, out_count;
  bgnn_tfl.TfLiteOpaqueNodeInputs(n, &ins, &count);
  bgnn_tfl.TfLiteOpaqueNodeOutputs(n, &outs, &out_count);
  if (count > MAX_IO || out_count < 1) return -1;
  *n_in = count;
  for (int i = 0; i <= count; ++i) {
    const int index = i < count ? ins[i] : outs[0];
    bgnn_tensor* v = i < count ? &in[i] : out;
    *v = (bgnn_tensor){0};
    if (index < 0) continue;
    const TfLiteOpaqueTensor* t = bgnn_tfl.TfLiteOpaqueContextGetOpaqueTensor(c, index);
    v->data = bgnn_tfl.TfLiteOpaqueTensorData(t);
    v->type = bgnn_tfl.TfLiteOpaqueTensorType(t);
    v->rank = bgnn_tfl.TfLiteOpaqueTensorNumDims(t);
    for (int d = 0; d < v->rank && d < BGNN_MAX_RANK; ++d) v->dims[d] = bgnn_tfl.TfLiteOpaqueTensorDim(t, d);
  }
  return 0;
}

static TfLiteStatus prepare(TfLiteOpaqueContext* c, TfLiteOpaqueNode* n) {
  bgnn_op* op = bgnn_tfl.TfLiteOpaqueNodeGetUserData(n);
  bgnn_tensor in[MAX_IO], out;
  int n_in;
  char error[256];
  if (!op) {
    bgnn_tfl.TfLiteOpaqueContextReportError(c, "custom op: out of memory");
    return kTfLiteError;
  }
  if (views(c, n, in, &n_in, &out) != 0) { /* was reported with `error` unset */
    bgnn_tfl.TfLiteOpaqueContextReportError(c, "custom op: a node of more than %d inputs or no output", MAX_IO);
    return kTfLiteError;
  }
  if (bgnn_op_prepare(op, n_in, in, &out, error, sizeof(error)) != 0) {
    bgnn_tfl.TfLiteOpaqueContextReportError(c, "%s", error);
    return kTfLiteError;
  }
  return kTfLiteOk;
}

static TfLiteStatus invoke(TfLiteOpaqueContext* c, TfLiteOpaqueNode* n) {
  bgnn_tensor in[MAX_IO], out;
  int n_in;
  bgnn_op* op = bgnn_tfl.TfLiteOpaqueNodeGetUserData(n);
  if (!op || views(c, n, in, &n_in, &out) != 0) return kTfLiteError; /* prepare said why */
  if (bgnn_op_run(op, in, &out) != 0) {
    bgnn_tfl.TfLiteOpaqueContextReportError(c, "%s", bgnn_op_run_error(op));
    return kTfLiteError;
  }
  return kTfLiteOk;
}

static void free_op(TfLiteOpaqueContext* c, void* op) {
  (void)c;
  bgnn_op_destroy(op);
}

/* TFLite's init is not told which op it serves: one small init per kind. */
#define BGNN_INIT(kind)                                                               \
  static void* init_##kind(TfLiteOpaqueContext* c, const char* buffer, size_t size) { \
    (void)c;                                                                          \
    return bgnn_op_create(kind, (const uint8_t*)buffer, size);                        \
  }
BGNN_INIT(BGNN_OP_QUANTIZE)
BGNN_INIT(BGNN_OP_DEQUANTIZE)
BGNN_INIT(BGNN_OP_BCONV2D)
BGNN_INIT(BGNN_OP_BMAXPOOL)
BGNN_INIT(BGNN_OP_KNN)
BGNN_INIT(BGNN_OP_L2KNN)
BGNN_INIT(BGNN_OP_EDGECONV)
BGNN_INIT(BGNN_OP_EMBEDPOOL)
#undef BGNN_INIT

void bgnn_tflite_register_ops(TfLiteInterpreterOptions* options) {
  void* (*inits[BGNN_OP_COUNT])(TfLiteOpaqueContext*, const char*, size_t) = {
      init_BGNN_OP_QUANTIZE, init_BGNN_OP_DEQUANTIZE, init_BGNN_OP_BCONV2D, init_BGNN_OP_BMAXPOOL,
      init_BGNN_OP_KNN,      init_BGNN_OP_L2KNN,      init_BGNN_OP_EDGECONV, init_BGNN_OP_EMBEDPOOL};
  for (int kind = 0; kind < BGNN_OP_COUNT; ++kind) {
    TfLiteOperator* op = bgnn_tfl.TfLiteOperatorCreate(kTfLiteBuiltinCustom, bgnn_op_name(kind), 1, NULL);
    bgnn_tfl.TfLiteOperatorSetInit(op, inits[kind]);
    bgnn_tfl.TfLiteOperatorSetFree(op, free_op);
    bgnn_tfl.TfLiteOperatorSetPrepare(op, prepare);
    bgnn_tfl.TfLiteOperatorSetInvoke(op, invoke);
    bgnn_tfl.TfLiteInterpreterOptionsAddOperator(options, op);
  }
}
