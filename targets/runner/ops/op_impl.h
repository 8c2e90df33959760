/* Our custom operators, independent of any runtime API: LceQuantize, LceDequantize,
 * LceBconv2d, LceBMaxPool2d, BgnnHammingKnn and the fused DGCNN ops (BgnnL2Knn,
 * BgnnEdgeConv, BgnnEmbedPool; docs/ops/) on plain tensor views. Each runtime's
 * glue (ops/tflite_c_api.c, runtime_litert.c) only converts its tensors into views and
 * reports errors its own way. */
#ifndef BGNN_OPS_OP_IMPL_H
#define BGNN_OPS_OP_IMPL_H
#include <stddef.h>
#include <stdint.h>

enum { BGNN_FLOAT32 = 1, BGNN_INT32 = 2 }; /* TFLite / LiteRt element type codes */
#define BGNN_MAX_RANK 8

typedef struct {
  void* data;
  int type;
  int rank;
  int32_t dims[BGNN_MAX_RANK];
} bgnn_tensor;

typedef enum {
  BGNN_OP_QUANTIZE,
  BGNN_OP_DEQUANTIZE,
  BGNN_OP_BCONV2D,
  BGNN_OP_BMAXPOOL,
  BGNN_OP_KNN,
  BGNN_OP_L2KNN,
  BGNN_OP_EDGECONV,
  BGNN_OP_EMBEDPOOL,
  BGNN_OP_COUNT
} bgnn_op_kind;
typedef struct bgnn_op bgnn_op;

/* "LceBconv2d" or a per-node name "LceBconv2d#7" -> kind; -1 for names we do not implement. */
int bgnn_op_kind_from_name(const char* name);
const char* bgnn_op_name(bgnn_op_kind kind);

/* Parses the custom options; problems are kept and reported by prepare (never NULL
 * except when out of memory). */
bgnn_op* bgnn_op_create(bgnn_op_kind kind, const uint8_t* options, size_t size);
void bgnn_op_destroy(bgnn_op* op);

/* Output dims from input dims (for runtimes that ask the op, like LiteRt). 0 on success. */
int bgnn_op_output_shape(bgnn_op* op, int n_in, const bgnn_tensor* in, bgnn_tensor* out, char* error, size_t size);
/* Checks types, shapes and attributes, sets up kernels and scratch. 0 on success. */
int bgnn_op_prepare(bgnn_op* op, int n_in, const bgnn_tensor* in, const bgnn_tensor* out, char* error, size_t size);
/* 0 on success; -1 on a fault found while running (scratch memory, neighbour indices
 * outside the graph), described by bgnn_op_run_error. */
int bgnn_op_run(bgnn_op* op, const bgnn_tensor* in, bgnn_tensor* out);
const char* bgnn_op_run_error(const bgnn_op* op);

/* Per-op-type wall time of the runs (for --enable_op_profiling). */
typedef struct {
  const char* name;
  double total_ms;
  long calls;
} bgnn_op_profile;
extern int bgnn_profiling_enabled;
int bgnn_op_profiles(bgnn_op_profile** out);
void bgnn_op_profiles_reset(void);

#endif
