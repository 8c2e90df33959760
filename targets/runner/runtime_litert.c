/* bgnn_runtime over the LiteRt CompiledModel API (ai-edge-litert 2.x, libLiteRt.so).
 *
 * LiteRt gives a custom op kernel one user_data for every node of that op name and does
 * not tell Run which node it serves, so bgnn-deploy gives each custom node its own name
 * ("LceBconv2d#3") when it prepares a model for LiteRt (converters/litert_prepare.py);
 * here every such name found in the model gets its own kernel state. The callbacks'
 * return values are ignored by LiteRt, so kernel errors are kept and checked after
 * each run. Functions are declared by hand (no headers ship) after the litert/c headers.
 *
 * Threads: our kernels get theirs from core/parallel.h (main.c sets it); LiteRt's
 * builtins (XNNPACK under the CPU accelerator) get theirs from CPU options. libLiteRt.so
 * 2.3.0 does not export the options builders of litert/c/options/litert_cpu_options.h
 * (LrtCreateCpuOptions, LrtSetCpuOptionsNumThread: a separate library); what it reads is
 * an opaque options entry with identifier "xnnpack" whose payload is a TOML string
 * ("num_threads = N"), what LrtGetOpaqueCpuOptionsData produces. The runner builds that
 * entry itself (LiteRtCreateOpaqueOptions + LiteRtAddOpaqueOptions, litert_opaque_options.h
 * and litert_options.h). Those (and LiteRtDestroyOpaqueOptions) are resolved as optional:
 * a library without them runs one thread and refuses more with a clear error.
 *
 * Per-node profile (--enable_op_profiling): LiteRt's profiler is switched on by another
 * opaque options entry, identifier "runtime_options_string" with the TOML payload
 * "enable_profiling = true" (what LrtGetOpaqueRuntimeOptionsData of
 * litert/c/options/litert_runtime_options.h produces); the compiled model then owns a
 * profiler (LiteRtCompiledModelGetProfiler) that records the interpreter's events. After
 * each run the glue reads them (LiteRtGetProfilerEvents, litert/c/litert_profiler.h; the
 * event layout of litert_profiler_event.h) and starts it again, which empties it: each
 * OPERATOR_INVOKE_EVENT is one node's call (tag: its op name; metadata: node and subgraph
 * index), each DELEGATE_PROFILED_OPERATOR_INVOKE_EVENT one operator that XNNPACK ran and
 * timed inside its kernel (metadata: its index in that kernel), and the DEFAULT events
 * "LiteRT::Run[...]" are LiteRt's own work around the interpreter's (binding and syncing
 * the tensor buffers), all in whole microseconds. The profiler samples the process's
 * memory (getrusage, /proc/self/status, mallinfo2) as each non-operator event begins and
 * ends: that cost is inside the LiteRT::Run stages and the first gap of Invoke, or in
 * "other (unattributed)", and on a loaded machine (each sample makes system calls) it
 * grows. The profiler functions are optional too: without them the profile says
 * why it has no nodes. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_profile.h"
#include "runtime.h"

typedef int LiteRtStatus;
typedef struct LiteRtOpaque* LiteRtEnvironment;
typedef struct LiteRtOpaque* LiteRtModel;
typedef struct LiteRtOpaque* LiteRtOptions;
typedef struct LiteRtOpaque* LiteRtCompiledModel;
typedef struct LiteRtOpaque* LiteRtSignature;
typedef struct LiteRtOpaque* LiteRtTensor;
typedef struct LiteRtOpaque* LiteRtTensorBuffer;
typedef struct LiteRtOpaque* LiteRtOpaqueOptions;
typedef struct LiteRtOpaque* LiteRtProfiler;

typedef struct {
  size_t total_allocated_bytes, in_use_allocated_bytes, private_footprint_bytes;
} LiteRtMemoryUsage;

typedef struct {
  const char* tag; /* owned by the profiler */
  int event_type;  /* LiteRtProfilerEventType */
  uint64_t start_timestamp_us;
  uint64_t elapsed_time_us;
  LiteRtMemoryUsage begin_mem_usage, end_mem_usage;
  uint64_t event_metadata1; /* an operator event's node index */
  uint64_t event_metadata2; /* its subgraph index */
  int event_source;
} ProfiledEventData;

/* LiteRtProfilerEventType: an interpreter node's call, a delegate's operator it timed */
enum { kDefaultEvent = 1, kOperatorInvokeEvent = 1 << 1, kDelegateProfiledOperatorInvokeEvent = 1 << 3 };

typedef struct {
  unsigned int rank : 7;
  unsigned int has_strides : 1;
  int32_t dimensions[8];
  uint32_t strides[8];
} LiteRtLayout;

typedef struct {
  int element_type;
  LiteRtLayout layout;
} LiteRtRankedTensorType;

typedef struct {
  LiteRtStatus (*Init)(void* user_data, const void* init_data, size_t init_data_size);
  LiteRtStatus (*GetOutputLayouts)(void* user_data, size_t num_inputs, const LiteRtLayout* input_layouts,
                                   size_t num_outputs, LiteRtLayout* output_layouts);
  LiteRtStatus (*Run)(void* user_data, size_t num_inputs, const LiteRtTensorBuffer* inputs, size_t num_outputs,
                      LiteRtTensorBuffer* outputs);
  LiteRtStatus (*Destroy)(void* user_data);
} LiteRtCustomOpKernel;

#define LITERT_FUNCTIONS(X)                                                                           \
  X(LiteRtStatus, LiteRtCreateEnvironment, (int n, const void* options, LiteRtEnvironment* env))      \
  X(void, LiteRtDestroyEnvironment, (LiteRtEnvironment env))                                          \
  X(LiteRtStatus, LiteRtCreateModelFromBuffer, (LiteRtEnvironment env, const void* data, size_t size, LiteRtModel* m)) \
  X(void, LiteRtDestroyModel, (LiteRtModel m))                                                        \
  X(LiteRtStatus, LiteRtCreateOptions, (LiteRtOptions * o))                                           \
  X(void, LiteRtDestroyOptions, (LiteRtOptions o))                                                    \
  X(LiteRtStatus, LiteRtSetOptionsHardwareAccelerators, (LiteRtOptions o, int accelerators))          \
  X(LiteRtStatus, LiteRtAddCustomOpKernelOption,                                                      \
    (LiteRtOptions o, const char* name, int version, const LiteRtCustomOpKernel* kernel, void* user))  \
  X(LiteRtStatus, LiteRtCreateCompiledModel, (LiteRtEnvironment env, LiteRtModel m, LiteRtOptions o, LiteRtCompiledModel* c)) \
  X(void, LiteRtDestroyCompiledModel, (LiteRtCompiledModel c))                                        \
  X(LiteRtStatus, LiteRtGetModelSignature, (LiteRtModel m, size_t i, LiteRtSignature* s))             \
  X(LiteRtStatus, LiteRtGetNumSignatureInputs, (LiteRtSignature s, size_t* n))                        \
  X(LiteRtStatus, LiteRtGetNumSignatureOutputs, (LiteRtSignature s, size_t* n))                       \
  X(LiteRtStatus, LiteRtGetSignatureInputTensorByIndex, (LiteRtSignature s, size_t i, LiteRtTensor* t)) \
  X(LiteRtStatus, LiteRtGetSignatureOutputTensorByIndex, (LiteRtSignature s, size_t i, LiteRtTensor* t)) \
  X(LiteRtStatus, LiteRtGetSignatureOutputName, (LiteRtSignature s, size_t i, const char** name))     \
  X(LiteRtStatus, LiteRtGetRankedTensorType, (LiteRtTensor t, LiteRtRankedTensorType* type))          \
  X(LiteRtStatus, LiteRtCreateTensorBufferFromHostMemory,                                             \
    (const LiteRtRankedTensorType* type, void* host, size_t size, void (*dealloc)(void*), LiteRtTensorBuffer* b)) \
  X(void, LiteRtDestroyTensorBuffer, (LiteRtTensorBuffer b))                                          \
  X(LiteRtStatus, LiteRtRunCompiledModel,                                                             \
    (LiteRtCompiledModel c, size_t sig, size_t n_in, LiteRtTensorBuffer* in, size_t n_out, LiteRtTensorBuffer* out)) \
  X(LiteRtStatus, LiteRtGetTensorBufferTensorType, (LiteRtTensorBuffer b, LiteRtRankedTensorType* type)) \
  X(LiteRtStatus, LiteRtGetTensorBufferHostMemory, (LiteRtTensorBuffer b, void** host))

/* Optional: a library without the first three still runs one thread; one without the
 * profiler's runs without a per-node profile. */
#define LITERT_OPTIONAL_FUNCTIONS(X)                                                                    \
  X(LiteRtStatus, LiteRtCreateOpaqueOptions,                                                          \
    (const char* identifier, void* payload, void (*destructor)(void*), LiteRtOpaqueOptions* o))        \
  X(void, LiteRtDestroyOpaqueOptions, (LiteRtOpaqueOptions o))                                        \
  X(LiteRtStatus, LiteRtAddOpaqueOptions, (LiteRtOptions o, LiteRtOpaqueOptions opaque))            \
  X(LiteRtStatus, LiteRtCompiledModelGetProfiler, (LiteRtCompiledModel c, LiteRtProfiler * p))         \
  X(LiteRtStatus, LiteRtStartProfiler, (LiteRtProfiler p))                                            \
  X(LiteRtStatus, LiteRtGetNumProfilerEvents, (LiteRtProfiler p, int* n))                             \
  X(LiteRtStatus, LiteRtGetProfilerEvents, (LiteRtProfiler p, int n, ProfiledEventData* events))

#define DECLARE(ret, name, args) typedef ret(*name##_fn) args;
LITERT_FUNCTIONS(DECLARE)
LITERT_OPTIONAL_FUNCTIONS(DECLARE)
#undef DECLARE
static struct {
#define FIELD(ret, name, args) name##_fn name;
  LITERT_FUNCTIONS(FIELD)
  LITERT_OPTIONAL_FUNCTIONS(FIELD)
#undef FIELD
} L;

enum { kCpu = 1, kMaxNodes = 1024, kMaxIo = 8 };

typedef struct {
  char name[64];
  bgnn_op_kind kind;
  bgnn_op* op;
  int prepared;
} node_state;

static node_state g_nodes[kMaxNodes];
static int g_node_count;
static char g_kernel_error[512];
static LiteRtEnvironment g_env;
static LiteRtModel g_model;
static LiteRtOptions g_options;
static LiteRtCompiledModel g_compiled;
static void* g_model_copy;
static size_t g_n_in, g_n_out;
static LiteRtTensorBuffer g_in[kMaxIo], g_out[kMaxIo];
static LiteRtRankedTensorType g_in_type[kMaxIo], g_out_type[kMaxIo];
static void* g_in_mem[kMaxIo];
static void* g_out_mem[kMaxIo];
static size_t g_in_bytes[kMaxIo], g_out_bytes[kMaxIo];
static const char* g_out_names[kMaxIo];
static int g_profile_nodes; /* asked for by profile_nodes() */
static LiteRtProfiler g_profiler;
static ProfiledEventData* g_events;
static int g_events_capacity;

static int l_open(const char* library, char* error, size_t size) {
  void* lib = dlopen(library, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    snprintf(error, size, "cannot load the LiteRt runtime library %s: %s", library, dlerror());
    return BGNN_ERR_RUNTIME;
  }
#define RESOLVE(ret, name, args)                                                            \
  L.name = (name##_fn)dlsym(lib, #name);                                                    \
  if (!L.name) {                                                                            \
    snprintf(error, size, "%s does not export %s: not a LiteRt 2.x library", library, #name); \
    return BGNN_ERR_RUNTIME;                                                                \
  }
  LITERT_FUNCTIONS(RESOLVE)
#undef RESOLVE
#define RESOLVE_OPTIONAL(ret, name, args) L.name = (name##_fn)dlsym(lib, #name);
  LITERT_OPTIONAL_FUNCTIONS(RESOLVE_OPTIONAL)
#undef RESOLVE_OPTIONAL
  return BGNN_OK;
}

static bgnn_tensor layout_view(const LiteRtLayout* layout, int type, void* data) {
  bgnn_tensor v = {data, type, (int)layout->rank, {0}};
  for (int d = 0; d < v.rank && d < BGNN_MAX_RANK; ++d) v.dims[d] = layout->dimensions[d];
  return v;
}

static LiteRtStatus k_init(void* user, const void* data, size_t size) {
  node_state* n = user;
  bgnn_op_destroy(n->op);
  n->op = bgnn_op_create(n->kind, data, size);
  n->prepared = 0;
  return 0;
}

static LiteRtStatus k_layouts(void* user, size_t n_in, const LiteRtLayout* in, size_t n_out, LiteRtLayout* out) {
  node_state* n = user;
  bgnn_tensor views[kMaxIo], result;
  char error[sizeof(g_kernel_error)];
  if (n_in > kMaxIo) { /* op_impl would read views past the ones filled */
    if (!g_kernel_error[0]) snprintf(g_kernel_error, sizeof(g_kernel_error), "a custom node has more than %d inputs", kMaxIo);
    return 1;
  }
  for (size_t i = 0; i < n_in; ++i) views[i] = layout_view(&in[i], 0, NULL);
  if (!n->op || n_out < 1 || bgnn_op_output_shape(n->op, (int)n_in, views, &result, error, sizeof(error)) != 0) {
    /* LiteRt may ask again with other layouts after a failure: the first reason is the one */
    if (!g_kernel_error[0]) snprintf(g_kernel_error, sizeof(g_kernel_error), "%s", n->op ? error : "no op");
    return 1;
  }
  memset(&out[0], 0, sizeof(out[0]));
  out[0].rank = (unsigned)result.rank;
  for (int d = 0; d < result.rank; ++d) out[0].dimensions[d] = result.dims[d];
  return 0;
}

static int buffer_view(LiteRtTensorBuffer b, bgnn_tensor* v) {
  LiteRtRankedTensorType type;
  void* host = NULL;
  if (L.LiteRtGetTensorBufferTensorType(b, &type) || L.LiteRtGetTensorBufferHostMemory(b, &host)) return -1;
  *v = layout_view(&type.layout, type.element_type, host);
  return 0;
}

static LiteRtStatus k_run(void* user, size_t n_in, const LiteRtTensorBuffer* in, size_t n_out, LiteRtTensorBuffer* out) {
  node_state* n = user;
  bgnn_tensor views[kMaxIo], result;
  if (n_in > kMaxIo || n_out < 1) return 1;
  for (size_t i = 0; i < n_in; ++i)
    if (buffer_view(in[i], &views[i])) return 1;
  if (buffer_view(out[0], &result)) return 1;
  if (!n->prepared) {
    if (g_kernel_error[0]) return 1;
    if (bgnn_op_prepare(n->op, (int)n_in, views, &result, g_kernel_error, sizeof(g_kernel_error)) != 0) return 1;
    n->prepared = 1;
  }
  if (bgnn_op_run(n->op, views, &result) != 0) {
    snprintf(g_kernel_error, sizeof(g_kernel_error), "%s", bgnn_op_run_error(n->op));
    return 1;
  }
  return 0;
}

static LiteRtStatus k_destroy(void* user) {
  node_state* n = user;
  bgnn_op_destroy(n->op);
  n->op = NULL;
  return 0;
}

static const LiteRtCustomOpKernel kKernel = {k_init, k_layouts, k_run, k_destroy};

/* Every per-node custom op name ("LceBconv2d#3", NUL-terminated) in the flatbuffer's
 * bytes. Nothing past the buffer is read: bgnn_op_kind_from_name (strncmp) did, for a
 * model whose last bytes began an op's name. */
static void find_node_names(const char* data, size_t size) {
  for (size_t i = 0; i + 1 < size && g_node_count < kMaxNodes; ++i) {
    if (data[i] != 'L' && data[i] != 'B') continue;
    for (int kind = 0; kind < BGNN_OP_COUNT; ++kind) {
      const char* op = bgnn_op_name((bgnn_op_kind)kind);
      const size_t n = strlen(op);
      if (size - i < n + 2 || memcmp(data + i, op, n) != 0 || data[i + n] != '#') continue;
      size_t end = i + n + 1;
      while (end < size && data[end] >= '0' && data[end] <= '9') ++end;
      if (end == i + n + 1 || end >= size || data[end] != '\0' || end - i >= sizeof(g_nodes[0].name)) break;
      node_state* node = &g_nodes[g_node_count++];
      memcpy(node->name, data + i, end - i);
      node->name[end - i] = '\0';
      node->kind = (bgnn_op_kind)kind;
      i = end;
      break;
    }
  }
}

/* Bytes of one element of a LiteRt element type (the TfLiteType codes); 0 if unknown. */
static size_t element_bytes(int type) {
  switch (type) {
    case 1: case 2: case 16: return 4;          /* float32, int32, uint32 */
    case 4: case 11: case 13: case 8: return 8; /* int64, float64, uint64, complex64 */
    case 3: case 6: case 9: return 1;           /* uint8, bool, int8 */
    case 7: case 10: case 17: case 19: return 2; /* int16, float16, uint16, bfloat16 */
    case 12: return 16;                         /* complex128 */
    default: return 0;
  }
}

/* The tensor's bytes, or 0 if that is above `limit` (the product is checked at each step:
 * eight dims of 2^31 - 1 wrap a size_t). Dims are >= 1 and rank <= 8 here. */
static size_t packed_bytes(const LiteRtRankedTensorType* t, size_t limit) {
  size_t n = element_bytes(t->element_type);
  for (unsigned d = 0; d < t->layout.rank; ++d) {
    const size_t dim = (size_t)t->layout.dimensions[d];
    if (n > limit / dim) return 0;
    n *= dim;
  }
  return n <= limit ? n : 0;
}

static int make_buffers(LiteRtSignature sig, int output, char* error, size_t size) {
  size_t count = 0;
  if ((output ? L.LiteRtGetNumSignatureOutputs : L.LiteRtGetNumSignatureInputs)(sig, &count)) {
    snprintf(error, size, "the model's signature has no %s", output ? "outputs" : "inputs");
    return BGNN_ERR_MODEL;
  }
  if (count > kMaxIo) {
    snprintf(error, size, "more than %d model %s", kMaxIo, output ? "outputs" : "inputs");
    return BGNN_ERR_MODEL;
  }
  for (size_t i = 0; i < count; ++i) {
    LiteRtTensor tensor = NULL;
    LiteRtRankedTensorType* type = output ? &g_out_type[i] : &g_in_type[i];
    if ((output ? L.LiteRtGetSignatureOutputTensorByIndex : L.LiteRtGetSignatureInputTensorByIndex)(sig, i, &tensor) ||
        L.LiteRtGetRankedTensorType(tensor, type)) {
      snprintf(error, size, "unranked model %s %zu", output ? "output" : "input", i);
      return BGNN_ERR_MODEL;
    }
    if (type->layout.rank > BGNN_MAX_RANK) { /* a 7-bit field; dimensions[] holds 8 */
      snprintf(error, size, "model %s %zu has rank %u (at most %d)", output ? "output" : "input", i,
               (unsigned)type->layout.rank, BGNN_MAX_RANK);
      return BGNN_ERR_MODEL;
    }
    if (!element_bytes(type->element_type)) {
      snprintf(error, size, "model %s %zu has element type %d, which the runner cannot hold",
               output ? "output" : "input", i, type->element_type);
      return BGNN_ERR_MODEL;
    }
    /* A dynamic dimension (-1, e.g. a Keras model's batch) runs at 1, as the TFLite
     * interpreter does; any other dimension below 1 or a size past 2^40 is the model's. */
    for (unsigned d = 0; d < type->layout.rank; ++d) {
      if (type->layout.dimensions[d] == -1) type->layout.dimensions[d] = 1;
      if (type->layout.dimensions[d] < 1) {
        snprintf(error, size, "model %s %zu has dimension %u of size %d", output ? "output" : "input", i, d,
                 (int)type->layout.dimensions[d]);
        return BGNN_ERR_MODEL;
      }
    }
    const size_t bytes = packed_bytes(type, (size_t)1 << 37);
    if (!bytes) {
      snprintf(error, size, "model %s %zu needs more than 2^37 bytes", output ? "output" : "input", i);
      return BGNN_ERR_MODEL;
    }
    void* mem = NULL;
    if (posix_memalign(&mem, 64, bytes ? bytes : 64)) {
      snprintf(error, size, "allocation of %zu bytes for model %s %zu failed", bytes, output ? "output" : "input", i);
      return BGNN_ERR_PREPARE;
    }
    memset(mem, 0, bytes);
    LiteRtTensorBuffer* b = output ? &g_out[i] : &g_in[i];
    if (L.LiteRtCreateTensorBufferFromHostMemory(type, mem, bytes, NULL, b)) {
      snprintf(error, size, "cannot create a tensor buffer");
      return BGNN_ERR_PREPARE;
    }
    if (output) {
      g_out_mem[i] = mem, g_out_bytes[i] = bytes;
      L.LiteRtGetSignatureOutputName(sig, i, &g_out_names[i]);
    } else {
      g_in_mem[i] = mem, g_in_bytes[i] = bytes;
    }
  }
  *(output ? &g_n_out : &g_n_in) = count;
  return BGNN_OK;
}

/* The CPU accelerator's thread count (XNNPACK and the interpreter's builtins), as the
 * opaque "xnnpack" options entry described at the top. Returns 0, or -1 with `error`. */
static int set_cpu_threads(LiteRtOptions options, int threads, char* error, size_t size) {
  if (!L.LiteRtCreateOpaqueOptions || !L.LiteRtDestroyOpaqueOptions || !L.LiteRtAddOpaqueOptions) {
    if (threads == 1) return 0; /* the default */
    snprintf(error, size,
             "this LiteRt library cannot set the CPU thread count for %d threads (it exports no "
             "LiteRtAddOpaqueOptions): run with 1 thread",
             threads);
    return -1;
  }
  char* toml = malloc(32);
  if (!toml) return snprintf(error, size, "allocation failed"), -1;
  snprintf(toml, 32, "num_threads = %d\n", threads);
  LiteRtOpaqueOptions cpu = NULL;
  if (L.LiteRtCreateOpaqueOptions("xnnpack", toml, free, &cpu)) {
    free(toml);
    return snprintf(error, size, "cannot create the CPU options (%d threads)", threads), -1;
  }
  if (L.LiteRtAddOpaqueOptions(options, cpu)) { /* on success, options own cpu */
    L.LiteRtDestroyOpaqueOptions(cpu);
    return snprintf(error, size, "cannot add the CPU options (%d threads)", threads), -1;
  }
  return 0;
}

static int l_profile_nodes(char* why, size_t size) {
  if (!L.LiteRtCreateOpaqueOptions || !L.LiteRtAddOpaqueOptions || !L.LiteRtDestroyOpaqueOptions ||
      !L.LiteRtCompiledModelGetProfiler || !L.LiteRtStartProfiler ||
      !L.LiteRtGetNumProfilerEvents || !L.LiteRtGetProfilerEvents) {
    snprintf(why, size, "this LiteRt library exports no profiler (LiteRtCompiledModelGetProfiler and "
                        "LiteRtGetProfilerEvents)");
    return -1;
  }
  g_profile_nodes = 1;
  return 0;
}

/* The runtime options entry that gives the compiled model a profiler; 0 or -1. */
static int enable_profiler(LiteRtOptions options) {
  static const char kToml[] = "enable_profiling = true\n";
  char* toml = malloc(sizeof(kToml));
  if (!toml) return -1;
  memcpy(toml, kToml, sizeof(kToml));
  LiteRtOpaqueOptions runtime = NULL;
  if (L.LiteRtCreateOpaqueOptions("runtime_options_string", toml, free, &runtime)) return free(toml), -1;
  if (L.LiteRtAddOpaqueOptions(options, runtime)) return L.LiteRtDestroyOpaqueOptions(runtime), -1;
  return 0;
}

/* The compiled model's profiler, started; on failure the profile has no nodes, and says why. */
static void start_profiler(void) {
  if (L.LiteRtCompiledModelGetProfiler(g_compiled, &g_profiler) || !g_profiler ||
      L.LiteRtStartProfiler(g_profiler))
    g_profiler = NULL;
}

/* A number for each LiteRt stage's name, its entry in the node table. */
static int stage_index(const char* tag) {
  static char names[8][64];
  int i = 0;
  for (; i < 8 && names[i][0]; ++i)
    if (strncmp(names[i], tag, sizeof(names[i]) - 1) == 0) return i;
  if (i == 8) return 8; /* a ninth and later stages share one entry (9: attribute_gaps) */
  snprintf(names[i], sizeof(names[i]), "%s", tag);
  return i;
}

/* The time inside the interpreter's "Invoke" event that no node event covers, from the
 * events' begin timestamps: a gap in which XNNPACK reported operators is its kernel's own
 * work outside them (the interpreter reports no event for a kernel whose delegate times
 * its operators), any other gap the interpreter's between nodes. Delegate operators are
 * added when their kernel ends, so they come between the nodes around it. */
static void attribute_gaps(const ProfiledEventData* events, int n) {
  const ProfiledEventData* invoke = NULL;
  for (int i = 0; i < n && !invoke; ++i)
    if (events[i].event_type == kDefaultEvent && events[i].tag && strcmp(events[i].tag, "Invoke") == 0)
      invoke = &events[i];
  if (!invoke) return;
  const double end = (double)invoke->start_timestamp_us + (double)invoke->elapsed_time_us;
  double cursor = (double)invoke->start_timestamp_us, inside = 0;
  int kernel = -1, kernels = 0;
  for (int i = 0; i <= n; ++i) {
    const ProfiledEventData* e = i < n ? &events[i] : NULL;
    if (e && e->event_type == kDelegateProfiledOperatorInvokeEvent) {
      if (kernel < 0) kernel = kernels++;
      inside += (double)e->elapsed_time_us;
      continue;
    }
    if (e && e->event_type != kOperatorInvokeEvent) continue;
    if (e && (double)e->start_timestamp_us < cursor) continue; /* before this Invoke */
    const double at = e ? (double)e->start_timestamp_us : end;
    const double gap = at > cursor ? at - cursor : 0;
    if (kernel >= 0)
      bgnn_nodes_add(0, kernel, -1, "delegate kernel (outside its operators)", gap > inside ? (gap - inside) / 1e3 : 0);
    else
      bgnn_nodes_add(0, BGNN_RUNTIME_STAGE, 9, "interpreter (between nodes)", gap / 1e3);
    kernel = -1, inside = 0;
    if (e) cursor = at + (double)e->elapsed_time_us;
  }
}

static void l_drain_nodes(void) {
  int n = 0;
  if (!g_profiler || L.LiteRtGetNumProfilerEvents(g_profiler, &n) || n <= 0) return;
  if (n > g_events_capacity) {
    ProfiledEventData* grown = realloc(g_events, sizeof(*grown) * (size_t)n);
    if (!grown) return;
    g_events = grown, g_events_capacity = n;
  }
  memset(g_events, 0, sizeof(*g_events) * (size_t)n);
  bgnn_partition_start();
  if (L.LiteRtGetProfilerEvents(g_profiler, n, g_events) == 0)
    for (int i = 0; i < n; ++i) {
      const ProfiledEventData* e = &g_events[i];
      const int index = (int)e->event_metadata1, subgraph = (int)e->event_metadata2;
      if (e->event_type == kOperatorInvokeEvent)
        bgnn_nodes_add(subgraph, -1, index, e->tag, e->elapsed_time_us / 1e3);
      else if (e->event_type == kDelegateProfiledOperatorInvokeEvent)
        bgnn_nodes_add(subgraph, bgnn_partition_of(index), index, e->tag, e->elapsed_time_us / 1e3);
      else if (e->event_type == kDefaultEvent && e->tag && strncmp(e->tag, "LiteRT::Run[", 12) == 0)
        bgnn_nodes_add(0, BGNN_RUNTIME_STAGE, stage_index(e->tag), e->tag, e->elapsed_time_us / 1e3);
    }
  attribute_gaps(g_events, n);
  L.LiteRtStartProfiler(g_profiler); /* empties it (a reset would also stop it) */
}

static int l_load(const void* model, size_t bytes, int threads, char* error, size_t size) {
  /* Constant tensors reach kernels without a copy and must be 64-byte aligned: the model
   * must be too (bgnn-deploy aligns its buffers when it prepares it for LiteRt). */
  if (posix_memalign(&g_model_copy, 64, bytes)) return BGNN_ERR_PREPARE;
  memcpy(g_model_copy, model, bytes);
  if (L.LiteRtCreateEnvironment(0, NULL, &g_env)) {
    snprintf(error, size, "cannot create the LiteRt environment");
    return BGNN_ERR_RUNTIME;
  }
  if (L.LiteRtCreateModelFromBuffer(g_env, g_model_copy, bytes, &g_model)) {
    snprintf(error, size, "the runtime rejected the model (truncated or invalid)");
    return BGNN_ERR_MODEL;
  }
  find_node_names(g_model_copy, bytes);
  L.LiteRtCreateOptions(&g_options);
  L.LiteRtSetOptionsHardwareAccelerators(g_options, kCpu);
  if (set_cpu_threads(g_options, threads, error, size)) return BGNN_ERR_RUNTIME;
  if (g_profile_nodes && enable_profiler(g_options)) {
    snprintf(error, size, "cannot add the runtime options that enable LiteRt's profiler");
    return BGNN_ERR_RUNTIME;
  }
  for (int i = 0; i < g_node_count; ++i)
    L.LiteRtAddCustomOpKernelOption(g_options, g_nodes[i].name, 1, &kKernel, &g_nodes[i]);
  if (L.LiteRtCreateCompiledModel(g_env, g_model, g_options, &g_compiled)) {
    snprintf(error, size, "compiling the model failed%s%s (custom ops need the LiteRt preparation step)",
             g_kernel_error[0] ? ": " : "", g_kernel_error);
    return BGNN_ERR_PREPARE;
  }
  if (g_profile_nodes) start_profiler();
  LiteRtSignature sig;
  if (L.LiteRtGetModelSignature(g_model, 0, &sig)) {
    snprintf(error, size, "the model has no signature");
    return BGNN_ERR_MODEL;
  }
  int rc = make_buffers(sig, 0, error, size);
  return rc ? rc : make_buffers(sig, 1, error, size);
}

static int l_num_inputs(void) { return (int)g_n_in; }
static int l_num_outputs(void) { return (int)g_n_out; }

static bgnn_tensor l_input(int i, size_t* bytes) {
  *bytes = g_in_bytes[i];
  return layout_view(&g_in_type[i].layout, g_in_type[i].element_type, g_in_mem[i]);
}

static bgnn_tensor l_output(int i, size_t* bytes, const char** name) {
  *bytes = g_out_bytes[i];
  *name = g_out_names[i];
  return layout_view(&g_out_type[i].layout, g_out_type[i].element_type, g_out_mem[i]);
}

static int l_invoke(char* error, size_t size) {
  const LiteRtStatus status = L.LiteRtRunCompiledModel(g_compiled, 0, g_n_in, g_in, g_n_out, g_out);
  if (status || g_kernel_error[0]) {
    snprintf(error, size, "%s", g_kernel_error[0] ? g_kernel_error : "LiteRt failed to run the model");
    return BGNN_ERR_INVOKE;
  }
  return BGNN_OK;
}

static const char* l_version(void) { return "LiteRt CompiledModel API (ai-edge-litert 2.x)"; }

static void l_close(void) {
  for (size_t i = 0; i < g_n_in; ++i) L.LiteRtDestroyTensorBuffer(g_in[i]), free(g_in_mem[i]);
  for (size_t i = 0; i < g_n_out; ++i) L.LiteRtDestroyTensorBuffer(g_out[i]), free(g_out_mem[i]);
  if (g_compiled) L.LiteRtDestroyCompiledModel(g_compiled);
  if (g_options) L.LiteRtDestroyOptions(g_options);
  if (g_model) L.LiteRtDestroyModel(g_model);
  if (g_env) L.LiteRtDestroyEnvironment(g_env);
  free(g_model_copy);
  free(g_events);
}

const bgnn_runtime bgnn_runtime_litert = {"litert",        l_open,          l_load,         l_num_inputs,
                                          l_input,         l_invoke,        l_num_outputs,  l_output,
                                          l_version,       l_close,         l_profile_nodes, l_drain_nodes,
                                          "litert-profiler"};
