/* The runtime API a runner drives, behind one interface: the TFLite C API (ai-edge-litert
 * 1.x, aarch64 boards) or the LiteRt CompiledModel API (ai-edge-litert 2.x, x86_64 hosts
 * and aarch64 boards with glibc >= 2.34). main.c knows only this. */
#ifndef BGNN_RUNTIME_H
#define BGNN_RUNTIME_H
#include <stddef.h>

#include "ops/op_impl.h"

/* Return codes of load(): the runner's exit codes for the stage that failed. */
enum { BGNN_OK = 0, BGNN_ERR_RUNTIME = 3, BGNN_ERR_MODEL = 4, BGNN_ERR_PREPARE = 5, BGNN_ERR_INVOKE = 6 };

typedef struct {
  const char* api;
  int (*open)(const char* library, char* error, size_t size);
  int (*load)(const void* model, size_t bytes, int threads, char* error, size_t size);
  int (*num_inputs)(void);
  bgnn_tensor (*input)(int i, size_t* bytes);
  int (*invoke)(char* error, size_t size);
  int (*num_outputs)(void);
  bgnn_tensor (*output)(int i, size_t* bytes, const char** name);
  const char* (*version)(void);
  void (*close)(void);
  /* --enable_op_profiling, before load: have the runtime time each node (node_profile.h).
   * 0, or -1 with why it cannot (the profile then has the op-type split of our ops only). */
  int (*profile_nodes)(char* why, size_t size);
  /* After each run while profiling, outside its timing: moves the runtime's events of that
   * run into node_profile.h (nothing to do where they arrive there as they happen). */
  void (*drain_nodes)(void);
  const char* profile_source; /* what times the nodes, for the JSON's "profile" */
} bgnn_runtime;

extern const bgnn_runtime bgnn_runtime_tflite;
extern const bgnn_runtime bgnn_runtime_litert;

#endif
