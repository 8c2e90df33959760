/* bgnn_runtime over the TFLite C API. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ops/tflite_c_api.h"
#include "runtime.h"

static TfLiteModel* g_model;
static TfLiteInterpreterOptions* g_options;
static TfLiteInterpreter* g_interp;
static char g_last_error[1024];

/* Keeps every message of a failure, most specific (our op's) first. */
static void reporter(void* user, const char* fmt, va_list args) {
  (void)user;
  size_t used = strlen(g_last_error);
  if (used && used + 2 < sizeof(g_last_error)) {
    strcat(g_last_error, "; ");
    used += 2;
  }
  if (used < sizeof(g_last_error)) vsnprintf(g_last_error + used, sizeof(g_last_error) - used, fmt, args);
}

static int t_open(const char* library, char* error, size_t size) {
  return bgnn_tflite_load(library, error, size) == 0 ? BGNN_OK : BGNN_ERR_RUNTIME;
}

static int t_load(const void* model, size_t bytes, int threads, char* error, size_t size) {
  g_model = bgnn_tfl.TfLiteModelCreate(model, bytes);
  if (!g_model) {
    snprintf(error, size, "the runtime rejected the model (truncated or invalid)");
    return BGNN_ERR_MODEL;
  }
  g_options = bgnn_tfl.TfLiteInterpreterOptionsCreate();
  bgnn_tfl.TfLiteInterpreterOptionsSetNumThreads(g_options, threads);
  bgnn_tfl.TfLiteInterpreterOptionsSetErrorReporter(g_options, reporter, NULL);
  bgnn_tflite_register_ops(g_options);
  g_interp = bgnn_tfl.TfLiteInterpreterCreate(g_model, g_options);
  if (!g_interp || bgnn_tfl.TfLiteInterpreterAllocateTensors(g_interp) != kTfLiteOk) {
    snprintf(error, size, "%s", g_last_error[0] ? g_last_error : "tensor allocation failed");
    return BGNN_ERR_PREPARE;
  }
  return BGNN_OK;
}

static bgnn_tensor view(const TfLiteTensor* t, size_t* bytes) {
  bgnn_tensor v = {bgnn_tfl.TfLiteTensorData(t), bgnn_tfl.TfLiteTensorType(t), bgnn_tfl.TfLiteTensorNumDims(t), {0}};
  for (int d = 0; d < v.rank && d < BGNN_MAX_RANK; ++d) v.dims[d] = bgnn_tfl.TfLiteTensorDim(t, d);
  *bytes = bgnn_tfl.TfLiteTensorByteSize(t);
  return v;
}

static int t_num_inputs(void) { return bgnn_tfl.TfLiteInterpreterGetInputTensorCount(g_interp); }
static bgnn_tensor t_input(int i, size_t* bytes) { return view(bgnn_tfl.TfLiteInterpreterGetInputTensor(g_interp, i), bytes); }
static int t_num_outputs(void) { return bgnn_tfl.TfLiteInterpreterGetOutputTensorCount(g_interp); }

static bgnn_tensor t_output(int i, size_t* bytes, const char** name) {
  const TfLiteTensor* t = bgnn_tfl.TfLiteInterpreterGetOutputTensor(g_interp, i);
  *name = bgnn_tfl.TfLiteTensorName(t);
  return view(t, bytes);
}

static int t_invoke(char* error, size_t size) {
  g_last_error[0] = '\0';
  if (bgnn_tfl.TfLiteInterpreterInvoke(g_interp) == kTfLiteOk) return BGNN_OK;
  snprintf(error, size, "%s", g_last_error);
  return BGNN_ERR_INVOKE;
}

static const char* t_version(void) { return bgnn_tfl.TfLiteVersion(); }

static void t_close(void) {
  if (g_interp) bgnn_tfl.TfLiteInterpreterDelete(g_interp);
  if (g_options) bgnn_tfl.TfLiteInterpreterOptionsDelete(g_options);
  if (g_model) bgnn_tfl.TfLiteModelDelete(g_model);
}

const bgnn_runtime bgnn_runtime_tflite = {"tflite-c", t_open, t_load, t_num_inputs, t_input, t_invoke,
                                          t_num_outputs, t_output, t_version, t_close};
