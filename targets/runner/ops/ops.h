/* Our custom operators for the TFLite C API: LceQuantize, LceDequantize, LceBconv2d,
 * LceBMaxPool2d and BgnnHammingKnn. Each reads its tensors and options, checks them in
 * Prepare (failing with the op and attribute named), and calls a core/ kernel. */
#ifndef BGNN_OPS_OPS_H
#define BGNN_OPS_OPS_H
#include "tflite_c_api.h"

typedef struct {
  const char* name;
  void* (*init)(TfLiteOpaqueContext*, const char*, size_t);
  void (*free)(TfLiteOpaqueContext*, void*);
  TfLiteStatus (*prepare)(TfLiteOpaqueContext*, TfLiteOpaqueNode*);
  TfLiteStatus (*invoke)(TfLiteOpaqueContext*, TfLiteOpaqueNode*);
} bgnn_op_def;

/* Terminated by an entry with name == NULL. */
const bgnn_op_def* bgnn_op_defs(void);

#endif
