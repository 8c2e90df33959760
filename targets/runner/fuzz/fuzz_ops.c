/* libFuzzer harness for what a model file controls in our ops: the custom options
 * (flexbuffers.c through bgnn_op_create) and the tensors each op is given
 * (bgnn_op_output_shape, bgnn_op_prepare, then bgnn_op_run when prepare accepted them).
 * Every tensor buffer is allocated exactly as its dims say, so AddressSanitizer reports
 * any read or write outside it; the harness aborts when an op accepts a rank outside
 * [0, BGNN_MAX_RANK] (its dims would be read past the view).
 *
 * Input layout (bytes; a short input ends the decoding early, what is missing is 0):
 *   kind        % BGNN_OP_COUNT
 *   n_in        % (MAX_IO + 1)
 *   flags       bit 0: the output view is the one bgnn_op_output_shape gave (when it
 *               succeeded) instead of the decoded one; bit 1: two worker threads
 *   opt_len     u16 little-endian, then opt_len bytes of custom options
 *   n_in + 1 tensor descriptors (the inputs, then the output), each:
 *     type      1 float32, 2 int32, others as they are
 *     rank      % 10 - 1, so -1..8
 *     const     bit 0: the data is visible to prepare (a constant of the model)
 *     dims      rank bytes, each a signed int8
 *   the rest    fills every buffer, cyclically (zeros when empty)
 * Tensors above MAX_ELEMENTS elements are rejected (keeps runs fast).
 *
 * FUZZ_OPS_VERBOSE=1 prints what each input reached (the op's error message, or "ran").
 *
 * Built by `make fuzz` / `make sanitize` with clang -fsanitize=fuzzer,address,undefined;
 * the binary replays files given as arguments (the committed corpus and regressions). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/dispatch.h"
#include "../core/parallel.h"
#include "../ops/op_impl.h"

enum { MAX_IO = 8, MAX_ELEMENTS = 4096 };

typedef struct {
  const uint8_t* p;
  size_t n;
} reader;

static uint8_t byte(reader* r) {
  if (!r->n) return 0;
  --r->n;
  return *r->p++;
}

/* Elements a view's dims say it has: 0 for a negative dim or rank, -1 above the cap. */
static long elements(const bgnn_tensor* t) {
  if (t->rank < 0) return 0;
  long n = 1;
  for (int d = 0; d < t->rank && d < BGNN_MAX_RANK; ++d) {
    if (t->dims[d] < 0) return 0;
    n *= t->dims[d];
    if (n > MAX_ELEMENTS) return -1;
  }
  return n;
}

static int decode_tensor(reader* r, bgnn_tensor* t, int* constant) {
  memset(t, 0, sizeof(*t));
  t->type = byte(r);
  t->rank = byte(r) % 10 - 1;
  *constant = byte(r) & 1;
  for (int d = 0; d < t->rank; ++d) t->dims[d] = (int8_t)byte(r);
  return elements(t) >= 0;
}

/* A buffer of exactly `t`'s elements (4 bytes each), filled from the pool. */
static void* make_buffer(const bgnn_tensor* t, const uint8_t* pool, size_t pool_size) {
  const size_t bytes = (size_t)elements(t) * 4;
  uint8_t* b = malloc(bytes ? bytes : 1);
  if (!b) abort();
  for (size_t i = 0; i < bytes; ++i) b[i] = pool_size ? pool[i % pool_size] : 0;
  return b;
}

static void check_ranks(int n_in, const bgnn_tensor* in, const bgnn_tensor* out) {
  for (int i = 0; i <= n_in; ++i) {
    const bgnn_tensor* t = i < n_in ? &in[i] : out;
    if (t->rank < 0 || t->rank > BGNN_MAX_RANK) abort(); /* accepted a rank it cannot read */
  }
}

static int g_verbose;

int LLVMFuzzerInitialize(int* argc, char*** argv) {
  (void)argc;
  (void)argv;
  bgnn_dispatch_init();
  g_verbose = getenv("FUZZ_OPS_VERBOSE") != NULL;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  reader r = {data, size};
  const bgnn_op_kind kind = (bgnn_op_kind)(byte(&r) % BGNN_OP_COUNT);
  const int n_in = byte(&r) % (MAX_IO + 1);
  const uint8_t flags = byte(&r);
  size_t opt_len = byte(&r);
  opt_len |= (size_t)byte(&r) << 8;
  if (opt_len > r.n) opt_len = r.n;
  /* a copy of exactly opt_len bytes: reads past the options are caught */
  uint8_t* options = malloc(opt_len ? opt_len : 1);
  if (!options) abort();
  memcpy(options, r.p, opt_len);
  r.p += opt_len;
  r.n -= opt_len;

  bgnn_tensor in[MAX_IO], out, shaped;
  int constant[MAX_IO + 1];
  int ok = 1;
  for (int i = 0; i < n_in; ++i) ok &= decode_tensor(&r, &in[i], &constant[i]);
  ok &= decode_tensor(&r, &out, &constant[n_in]);
  const uint8_t* pool = r.p;
  const size_t pool_size = r.n;
  if (!ok) {
    free(options);
    return -1; /* too large: not kept in the corpus */
  }
  bgnn_parallel_set_threads(flags & 2 ? 2 : 1);

  bgnn_op* op = bgnn_op_create(kind, options, opt_len);
  if (!op) abort();
  char error[256];
  if (bgnn_op_output_shape(op, n_in, in, &shaped, error, sizeof(error)) == 0) {
    check_ranks(n_in, in, &shaped);
    if ((flags & 1) && elements(&shaped) >= 0) out = shaped;
  }
  void* buffers[MAX_IO + 1] = {0};
  for (int i = 0; i < n_in; ++i) {
    buffers[i] = make_buffer(&in[i], pool, pool_size);
    in[i].data = constant[i] ? buffers[i] : NULL;
  }
  buffers[n_in] = make_buffer(&out, pool, pool_size);
  if (bgnn_op_prepare(op, n_in, in, &out, error, sizeof(error)) == 0) {
    check_ranks(n_in, in, &out);
    for (int i = 0; i < n_in; ++i) in[i].data = buffers[i];
    out.data = buffers[n_in];
    const int rc = bgnn_op_run(op, in, &out);
    if (bgnn_op_run(op, in, &out) != rc) abort(); /* a second run reuses what the first set up */
    if (g_verbose) fprintf(stderr, "%s: %s\n", bgnn_op_name(kind), rc ? bgnn_op_run_error(op) : "ran");
  } else if (g_verbose) {
    fprintf(stderr, "%s\n", error);
  }
  bgnn_op_destroy(op);
  for (int i = 0; i <= n_in; ++i) free(buffers[i]);
  free(options);
  return 0;
}
