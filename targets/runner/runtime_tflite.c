/* bgnn_runtime over the TFLite C API.
 *
 * Per-node profile (--enable_op_profiling): a telemetry profiler (ops/tflite_c_api.h) set
 * on the interpreter options, whose begin/end callbacks time each node the interpreter
 * runs, on CLOCK_MONOTONIC, and whose ReportOpInvokeEvent takes the operators XNNPACK
 * timed inside its kernels. Only outermost begin/end pairs are nodes: an event opened
 * inside another is that node's work, already in its time. A library without
 * TfLiteInterpreterOptionsSetTelemetryProfiler runs without a per-node profile. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "node_profile.h"
#include "ops/tflite_c_api.h"
#include "runtime.h"

static TfLiteModel* g_model;
static TfLiteInterpreterOptions* g_options;
static TfLiteInterpreter* g_interp;
static char g_last_error[1024];
static int g_profile_nodes;

/* The events begun and not yet ended (at most kMaxOpen nested); handles index them. */
enum { kMaxOpen = 16 };
static struct {
  double start_ms;
  const char* op;
  int index, subgraph;
} g_open[kMaxOpen];
static int g_depth;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void no_event(TfLiteTelemetryProfilerStruct* p, const char* name, uint64_t status) {
  (void)p, (void)name, (void)status;
}
static void no_op_event(TfLiteTelemetryProfilerStruct* p, const char* name, int64_t op, int64_t sub, uint64_t status) {
  (void)p, (void)name, (void)op, (void)sub, (void)status;
}
static void no_settings(TfLiteTelemetryProfilerStruct* p, const char* name, const TfLiteTelemetrySettings* s) {
  (void)p, (void)name, (void)s;
}

static uint32_t begin_op(TfLiteTelemetryProfilerStruct* p, const char* op, int64_t index, int64_t subgraph) {
  (void)p;
  if (g_depth == kMaxOpen) return UINT32_MAX; /* uncounted: in its parent's time */
  g_open[g_depth].op = op, g_open[g_depth].index = (int)index, g_open[g_depth].subgraph = (int)subgraph;
  g_open[g_depth].start_ms = now_ms();
  return (uint32_t)g_depth++;
}

static void end_op(TfLiteTelemetryProfilerStruct* p, uint32_t handle) {
  (void)p;
  const double end = now_ms();
  if (handle == UINT32_MAX || (int)handle >= g_depth) return;
  g_depth = (int)handle; /* closes it and anything left open inside it */
  if (handle == 0)
    bgnn_nodes_add(g_open[0].subgraph, -1, g_open[0].index, g_open[0].op, end - g_open[0].start_ms);
}

static void delegate_op(TfLiteTelemetryProfilerStruct* p, const char* op, uint64_t us, int64_t index, int64_t subgraph) {
  (void)p;
  bgnn_nodes_add((int)subgraph, bgnn_partition_of((int)index), (int)index, op, us / 1e3);
}

static TfLiteTelemetryProfilerStruct g_telemetry = {NULL,     no_event, no_op_event, no_settings,
                                                    begin_op, end_op,   delegate_op};

static int t_profile_nodes(char* why, size_t size) {
  if (!bgnn_tfl.TfLiteInterpreterOptionsSetTelemetryProfiler) {
    snprintf(why, size, "this TFLite library exports no TfLiteInterpreterOptionsSetTelemetryProfiler");
    return -1;
  }
  g_profile_nodes = 1;
  return 0;
}

static void t_drain_nodes(void) { g_depth = 0; } /* events arrive as they happen */

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
  if (g_profile_nodes) bgnn_tfl.TfLiteInterpreterOptionsSetTelemetryProfiler(g_options, &g_telemetry);
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
  if (g_profile_nodes) bgnn_partition_start();
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
                                          t_num_outputs, t_output, t_version, t_close, t_profile_nodes, t_drain_nodes,
                                          "tflite-telemetry"};
