/* Loader for the TFLite C API and registration of our custom operators. */
#include "tflite_c_api.h"

#include <dlfcn.h>
#include <stdio.h>

#include "ops.h"

bgnn_tflite_api bgnn_tfl;

int bgnn_tflite_load(const char* path, char* error, size_t error_size) {
  void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    snprintf(error, error_size, "cannot load the TFLite runtime library %s: %s", path, dlerror());
    return -1;
  }
#define BGNN_RESOLVE(ret, name, args)                                                           \
  bgnn_tfl.name = (name##_fn)dlsym(lib, #name);                                                 \
  if (!bgnn_tfl.name) {                                                                         \
    snprintf(error, error_size, "%s does not export %s: not a TFLite C API library", path, #name); \
    return -1;                                                                                  \
  }
  BGNN_TFLITE_FUNCTIONS(BGNN_RESOLVE)
#undef BGNN_RESOLVE
  return 0;
}

void bgnn_tflite_register_ops(TfLiteInterpreterOptions* options) {
  for (const bgnn_op_def* def = bgnn_op_defs(); def->name; ++def) {
    TfLiteOperator* op = bgnn_tfl.TfLiteOperatorCreate(kTfLiteBuiltinCustom, def->name, 1, NULL);
    bgnn_tfl.TfLiteOperatorSetInit(op, def->init);
    bgnn_tfl.TfLiteOperatorSetFree(op, def->free);
    bgnn_tfl.TfLiteOperatorSetPrepare(op, def->prepare);
    bgnn_tfl.TfLiteOperatorSetInvoke(op, def->invoke);
    bgnn_tfl.TfLiteInterpreterOptionsAddOperator(options, op);
  }
}
