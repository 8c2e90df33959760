/* The ~35 functions of the TensorFlow Lite C API the runner uses, declared by hand (no
 * headers ship with the ai-edge-litert wheel) and resolved with dlsym at start-up, so
 * a missing or wrong library is a clear error instead of a loader crash. Signatures
 * follow tensorflow/lite/core/c/{c_api,c_api_opaque,operator}.h. */
#ifndef BGNN_OPS_TFLITE_C_API_H
#define BGNN_OPS_TFLITE_C_API_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct TfLiteModel TfLiteModel;
typedef struct TfLiteInterpreterOptions TfLiteInterpreterOptions;
typedef struct TfLiteInterpreter TfLiteInterpreter;
typedef struct TfLiteTensor TfLiteTensor;
typedef struct TfLiteOperator TfLiteOperator;
typedef struct TfLiteOpaqueContext TfLiteOpaqueContext;
typedef struct TfLiteOpaqueNode TfLiteOpaqueNode;
typedef struct TfLiteOpaqueTensor TfLiteOpaqueTensor;
typedef int TfLiteStatus; /* kTfLiteOk = 0 */
typedef int TfLiteType;   /* 1 float32, 2 int32, 4 int64, 9 int8 */

enum { kTfLiteOk = 0, kTfLiteError = 1 };
enum { kTfLiteFloat32 = 1, kTfLiteInt32 = 2, kTfLiteInt64 = 4, kTfLiteInt8 = 9 };
enum { kTfLiteBuiltinCustom = 32 };

#define BGNN_TFLITE_FUNCTIONS(X)                                                                   \
  X(const char*, TfLiteVersion, (void))                                                            \
  X(TfLiteModel*, TfLiteModelCreate, (const void* data, size_t size))                              \
  X(void, TfLiteModelDelete, (TfLiteModel * model))                                                \
  X(TfLiteInterpreterOptions*, TfLiteInterpreterOptionsCreate, (void))                             \
  X(void, TfLiteInterpreterOptionsDelete, (TfLiteInterpreterOptions * options))                    \
  X(void, TfLiteInterpreterOptionsSetNumThreads, (TfLiteInterpreterOptions * options, int32_t n))  \
  X(void, TfLiteInterpreterOptionsAddOperator, (TfLiteInterpreterOptions * options, TfLiteOperator* op)) \
  X(void, TfLiteInterpreterOptionsSetErrorReporter,                                                \
    (TfLiteInterpreterOptions * options, void (*reporter)(void*, const char*, va_list), void* user))\
  X(TfLiteInterpreter*, TfLiteInterpreterCreate, (const TfLiteModel* model, const TfLiteInterpreterOptions* options)) \
  X(void, TfLiteInterpreterDelete, (TfLiteInterpreter * interpreter))                              \
  X(TfLiteStatus, TfLiteInterpreterAllocateTensors, (TfLiteInterpreter * interpreter))             \
  X(TfLiteStatus, TfLiteInterpreterInvoke, (TfLiteInterpreter * interpreter))                      \
  X(int32_t, TfLiteInterpreterGetInputTensorCount, (const TfLiteInterpreter* interpreter))         \
  X(TfLiteTensor*, TfLiteInterpreterGetInputTensor, (const TfLiteInterpreter* interpreter, int32_t i)) \
  X(int32_t, TfLiteInterpreterGetOutputTensorCount, (const TfLiteInterpreter* interpreter))        \
  X(const TfLiteTensor*, TfLiteInterpreterGetOutputTensor, (const TfLiteInterpreter* interpreter, int32_t i)) \
  X(TfLiteType, TfLiteTensorType, (const TfLiteTensor* tensor))                                    \
  X(int32_t, TfLiteTensorNumDims, (const TfLiteTensor* tensor))                                    \
  X(int32_t, TfLiteTensorDim, (const TfLiteTensor* tensor, int32_t i))                             \
  X(size_t, TfLiteTensorByteSize, (const TfLiteTensor* tensor))                                    \
  X(void*, TfLiteTensorData, (const TfLiteTensor* tensor))                                         \
  X(const char*, TfLiteTensorName, (const TfLiteTensor* tensor))                                   \
  X(TfLiteOperator*, TfLiteOperatorCreate, (int builtin, const char* name, int version, void* user)) \
  X(void, TfLiteOperatorSetInit,                                                                   \
    (TfLiteOperator * op, void* (*init)(TfLiteOpaqueContext*, const char*, size_t)))               \
  X(void, TfLiteOperatorSetFree, (TfLiteOperator * op, void (*fn)(TfLiteOpaqueContext*, void*)))   \
  X(void, TfLiteOperatorSetPrepare,                                                                \
    (TfLiteOperator * op, TfLiteStatus (*fn)(TfLiteOpaqueContext*, TfLiteOpaqueNode*)))            \
  X(void, TfLiteOperatorSetInvoke,                                                                 \
    (TfLiteOperator * op, TfLiteStatus (*fn)(TfLiteOpaqueContext*, TfLiteOpaqueNode*)))            \
  X(void*, TfLiteOpaqueNodeGetUserData, (const TfLiteOpaqueNode* node))                            \
  X(int, TfLiteOpaqueNodeNumberOfInputs, (const TfLiteOpaqueNode* node))                           \
  X(TfLiteStatus, TfLiteOpaqueNodeInputs, (const TfLiteOpaqueNode* node, const int** inputs, int* n)) \
  X(TfLiteStatus, TfLiteOpaqueNodeOutputs, (const TfLiteOpaqueNode* node, const int** outputs, int* n)) \
  X(TfLiteOpaqueTensor*, TfLiteOpaqueContextGetOpaqueTensor, (const TfLiteOpaqueContext* c, int index)) \
  X(TfLiteType, TfLiteOpaqueTensorType, (const TfLiteOpaqueTensor* t))                             \
  X(int32_t, TfLiteOpaqueTensorNumDims, (const TfLiteOpaqueTensor* t))                             \
  X(int32_t, TfLiteOpaqueTensorDim, (const TfLiteOpaqueTensor* t, int32_t i))                      \
  X(void*, TfLiteOpaqueTensorData, (const TfLiteOpaqueTensor* t))                                  \
  X(void, TfLiteOpaqueContextReportError, (TfLiteOpaqueContext * c, const char* fmt, ...))

/* The telemetry profiler of tensorflow/lite/profiling/telemetry/c/profiler.h: the
 * interpreter calls ReportBeginOpInvokeEvent / ReportEndOpInvokeEvent around each node
 * it runs (op_idx: the node index) and ReportOpInvokeEvent for an operator a delegate ran
 * and timed itself (elapsed_time in microseconds). Every callback must be set. */
typedef struct TfLiteTelemetrySettings TfLiteTelemetrySettings;
typedef struct TfLiteTelemetryProfilerStruct {
  void* data;
  void (*ReportTelemetryEvent)(struct TfLiteTelemetryProfilerStruct* p, const char* event_name, uint64_t status);
  void (*ReportTelemetryOpEvent)(struct TfLiteTelemetryProfilerStruct* p, const char* event_name, int64_t op_idx,
                                 int64_t subgraph_idx, uint64_t status);
  void (*ReportSettings)(struct TfLiteTelemetryProfilerStruct* p, const char* setting_name,
                         const TfLiteTelemetrySettings* settings);
  uint32_t (*ReportBeginOpInvokeEvent)(struct TfLiteTelemetryProfilerStruct* p, const char* op_name, int64_t op_idx,
                                       int64_t subgraph_idx);
  void (*ReportEndOpInvokeEvent)(struct TfLiteTelemetryProfilerStruct* p, uint32_t event_handle);
  void (*ReportOpInvokeEvent)(struct TfLiteTelemetryProfilerStruct* p, const char* op_name, uint64_t elapsed_time,
                              int64_t op_idx, int64_t subgraph_idx);
} TfLiteTelemetryProfilerStruct;

/* Optional (tensorflow/lite/core/c/c_api_experimental.h): NULL where the library lacks them. */
#define BGNN_TFLITE_OPTIONAL_FUNCTIONS(X)                                                          \
  X(void, TfLiteInterpreterOptionsSetTelemetryProfiler,                                            \
    (TfLiteInterpreterOptions * options, TfLiteTelemetryProfilerStruct* profiler))

#define BGNN_DECLARE(ret, name, args) typedef ret(*name##_fn) args;
BGNN_TFLITE_FUNCTIONS(BGNN_DECLARE)
BGNN_TFLITE_OPTIONAL_FUNCTIONS(BGNN_DECLARE)
#undef BGNN_DECLARE

typedef struct {
#define BGNN_FIELD(ret, name, args) name##_fn name;
  BGNN_TFLITE_FUNCTIONS(BGNN_FIELD)
  BGNN_TFLITE_OPTIONAL_FUNCTIONS(BGNN_FIELD)
#undef BGNN_FIELD
} bgnn_tflite_api;

extern bgnn_tflite_api bgnn_tfl;

/* Loads `path` and resolves every function (the optional ones where they exist); on
 * failure returns -1 with a message. */
int bgnn_tflite_load(const char* path, char* error, size_t error_size);
/* Registers our custom operators on the options. */
void bgnn_tflite_register_ops(TfLiteInterpreterOptions* options);

#endif
