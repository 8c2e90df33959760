/* bgnn-runner: run a .tflite with our custom ops through the TFLite C API and print one
 * JSON object of timings and memory, modelled on LiteRT's benchmark_model.
 *
 *   bgnn-runner --graph model.tflite --runtime LIBRARY [--runtime_api tflite-c|litert] [--num_runs 50]
 *               [--warmup_runs 1] [--num_threads 1] [--max_secs 0] [--min_secs 0] [--input x.raw]
 *               [--output y.raw] [--enable_op_profiling] [--emulated]
 *
 * --min_secs keeps the timed runs going past --num_runs until that much time has passed, so
 * an energy sampler next to the runner sees enough samples; "timed_window_boottime_s" gives
 * the timed runs' start and end on CLOCK_BOOTTIME, the clock of /proc/uptime that the
 * sampler stamps its samples with. Counts are whole integers (--num_runs and --warmup_runs
 * up to 10^7, --num_threads 1..1024), seconds finite numbers in [0, 86400]; --graph and
 * --input must be regular files. Every exit, failed or not, releases what the run took.
 *
 * Exit codes: 0 ok, 2 bad arguments or input file, 3 runtime library not usable,
 * 4 model invalid, 5 op unsupported / tensors could not be allocated, 6 inference failed.
 * On failure the JSON object has "error" and "stage".
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/dispatch.h"
#include "core/parallel.h"
#include "node_profile.h"
#include "runtime.h"

#if defined(__aarch64__)
#define BGNN_ARCH "aarch64"
#elif defined(__x86_64__)
#define BGNN_ARCH "x86_64"
#else
#define BGNN_ARCH "unknown"
#endif

static void json_string(FILE* f, const char* s) {
  fputc('"', f);
  for (; s && *s; ++s) {
    if (*s == '"' || *s == '\\') fputc('\\', f), fputc(*s, f);
    else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
    else fputc(*s, f);
  }
  fputc('"', f);
}

/* What main holds; fail() releases it, as the end of a run does, so that a failed run
 * frees everything it took (LeakSanitizer checks both). */
static struct {
  const bgnn_runtime* rt; /* set once the runtime library is open */
  void* model;
  void* input;
  double* times;
  double* in_order;
} g;

static void release(void) {
  if (g.rt) g.rt->close();
  free(g.model);
  free(g.input);
  free(g.times);
  free(g.in_order);
  bgnn_nodes_free();
  memset(&g, 0, sizeof(g));
}

static int fail(const char* stage, int code, const char* fmt, ...) {
  char msg[1536];
  va_list args;
  va_start(args, fmt);
  vsnprintf(msg, sizeof(msg), fmt, args);
  va_end(args);
  printf("{\"error\": ");
  json_string(stdout, msg);
  printf(", \"stage\": \"%s\", \"exit_code\": %d, \"arch\": \"%s\"}\n", stage, code, BGNN_ARCH);
  fprintf(stderr, "bgnn-runner: %s: %s\n", stage, msg);
  release();
  return code;
}

/* The whole of `v` as an integer in [lo, hi] (atoi took "5x" as 5 and overflowed on
 * "9999999999"); 0, or -1 after printing the error. */
static int parse_int(const char* name, const char* v, long lo, long hi, int* out) {
  char* end;
  errno = 0;
  const long x = strtol(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi)
    return fail("arguments", 2, "%s must be an integer from %ld to %ld, not '%s'", name, lo, hi, v), -1;
  *out = (int)x;
  return 0;
}

/* Seconds in [0, 86400]: a nan --min_secs ran forever (no time is >= nan). */
static int parse_secs(const char* name, const char* v, double* out) {
  char* end;
  errno = 0;
  const double x = strtod(v, &end);
  if (errno || end == v || *end || !(x >= 0 && x <= 86400))
    return fail("arguments", 2, "%s must be a number of seconds from 0 to 86400, not '%s'", name, v), -1;
  *out = x;
  return 0;
}

static double boottime_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Peak resident set (VmHWM) in kB from /proc/self/status; -1 if unreadable. */
static long peak_rss_kb(void) {
  FILE* f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof(line), f))
    if (strncmp(line, "VmHWM:", 6) == 0) kb = strtol(line + 6, NULL, 10);
  fclose(f);
  return kb;
}

/* Reads a regular file into *data (malloc'd); NULL, or what is wrong as a format for its
 * path. A directory opens, and ftell at its end gave 2^63 - 1 on ext4, which was then
 * passed to malloc. */
static const char* read_file(const char* path, void** data, size_t* size) {
  *data = NULL;
  *size = 0;
  FILE* f = fopen(path, "rb");
  if (!f) return "cannot read %s";
  struct stat st;
  const char* why = NULL;
  if (fstat(fileno(f), &st) != 0) why = "cannot read %s";
  else if (!S_ISREG(st.st_mode)) why = "%s is not a regular file";
  else if (st.st_size == 0) why = "%s is empty";
  else if (st.st_size > ((off_t)1 << 32)) why = "%s is larger than 4 GiB";
  else if (!(*data = malloc((size_t)st.st_size))) why = "no memory to read %s";
  else if (fread(*data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) why = "cannot read %s";
  else *size = (size_t)st.st_size;
  fclose(f);
  if (why) {
    free(*data);
    *data = NULL;
  }
  return why;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static double percentile(const double* sorted, int n, double q) {
  if (n == 0) return 0;
  double pos = q * (n - 1);
  int lo = (int)pos;
  int hi = lo + 1 < n ? lo + 1 : lo;
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/* Seeded uniform values in [-1, 1) for float inputs, so runs are repeatable. */
static void fill_random(float* x, size_t n) {
  uint64_t s = 0x2545f4914f6cdd1dull;
  for (size_t i = 0; i < n; ++i) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    x[i] = (float)((s >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
  }
}

/* The "ops", "nodes" and "profile" fields of --enable_op_profiling. With the runtime's
 * per-node times, "ops" sums them by op type (with the runtime's own stages that it
 * reports), and "other (unattributed)" is what of the mean latency nothing reported
 * covers (the runtime's work outside its reported stages, the profiler's own cost);
 * without them, "ops" has our ops as their kernels timed them and
 * "builtin (LiteRT)" the rest of the mean. Either way the entries of "ops" add up to the
 * mean latency. */
static void print_profile(const bgnn_runtime* rt, int runs, double mean, int node_events, char* why) {
  const bgnn_node_time* nodes;
  const int n_nodes = node_events ? bgnn_nodes(&nodes) : 0;
  if (node_events && !n_nodes) snprintf(why, 256, "the runtime reported no operator events");
  double covered = 0;
  printf(", \"ops\": {");
  if (n_nodes) {
    int printed = 0;
    for (int i = 0; i < n_nodes; ++i) {
      int seen = 0; /* each op type once, at its first node */
      for (int j = 0; j < i && !seen; ++j) seen = strcmp(nodes[j].op, nodes[i].op) == 0;
      if (seen) continue;
      double ms = 0;
      long calls = 0;
      for (int j = i; j < n_nodes; ++j)
        if (strcmp(nodes[j].op, nodes[i].op) == 0) ms += nodes[j].total_ms, calls += nodes[j].calls;
      covered += ms / runs;
      printf("%s", printed++ ? ", " : "");
      json_string(stdout, nodes[i].op[0] ? nodes[i].op : "?");
      printf(": {\"ms_per_run\": %.4f, \"calls_per_run\": %.2f}", ms / runs, (double)calls / runs);
    }
    printf(", \"other (unattributed)\": {\"ms_per_run\": %.4f}}", mean - covered > 0 ? mean - covered : 0);
    printf(", \"nodes\": [");
    for (int i = 0, printed = 0; i < n_nodes; ++i) {
      if (nodes[i].partition == BGNN_RUNTIME_STAGE) continue; /* in "ops" only */
      printf("%s{\"subgraph\": %d, \"index\": %d, ", printed++ ? ", " : "", nodes[i].subgraph, nodes[i].index);
      if (nodes[i].partition >= 0) printf("\"delegate_kernel\": %d, ", nodes[i].partition);
      printf("\"op\": ");
      json_string(stdout, nodes[i].op[0] ? nodes[i].op : "?");
      printf(", \"ms_per_run\": %.4f, \"calls_per_run\": %.2f}", nodes[i].total_ms / runs,
             (double)nodes[i].calls / runs);
    }
    printf("], \"profile\": {\"source\": \"%s\"}", rt->profile_source);
    return;
  }
  bgnn_op_profile* profiles;
  const int n_prof = bgnn_op_profiles(&profiles);
  for (int p = 0; p < n_prof; ++p) {
    const double per_run = profiles[p].total_ms / runs;
    covered += per_run;
    printf("%s\"%s\": {\"ms_per_run\": %.4f, \"calls_per_run\": %.2f}", p ? ", " : "", profiles[p].name, per_run,
           (double)profiles[p].calls / runs);
  }
  printf("%s\"builtin (LiteRT)\": {\"ms_per_run\": %.4f}}", n_prof ? ", " : "", mean - covered > 0 ? mean - covered : 0);
  printf(", \"profile\": {\"source\": \"runner\", \"unavailable\": ");
  json_string(stdout, why);
  printf("}");
}

enum { kMaxRuns = 10000000, kMaxThreads = 1024, kMaxTimedRuns = 1 << 30 };

int main(int argc, char** argv) {
  const char *graph = NULL, *runtime = NULL, *input_path = NULL, *output_path = NULL, *api = "tflite-c";
  int num_runs = 50, warmup_runs = 1, num_threads = 1, profiling = 0, emulated = 0;
  double max_secs = 0, min_secs = 0;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (strcmp(a, name) == 0 && v && (++i, 1))
    if (OPT("--graph")) graph = v;
    else if (OPT("--runtime")) runtime = v;
    else if (OPT("--runtime_api")) api = v;
    else if (OPT("--num_runs")) { if (parse_int(a, v, 1, kMaxRuns, &num_runs)) return 2; }
    else if (OPT("--warmup_runs")) { if (parse_int(a, v, 0, kMaxRuns, &warmup_runs)) return 2; }
    else if (OPT("--num_threads")) { if (parse_int(a, v, 1, kMaxThreads, &num_threads)) return 2; }
    else if (OPT("--max_secs")) { if (parse_secs(a, v, &max_secs)) return 2; }
    else if (OPT("--min_secs")) { if (parse_secs(a, v, &min_secs)) return 2; }
    else if (OPT("--input")) input_path = v;
    else if (OPT("--output")) output_path = v;
    else if (OPT("--use_xnnpack")) {
      if (strcmp(v, "true") != 0)
        return fail("arguments", 2, "this runtime applies XNNPACK to float ops itself; it cannot be turned off");
    } else if (strcmp(a, "--enable_op_profiling") == 0) profiling = 1;
    else if (strcmp(a, "--emulated") == 0) emulated = 1;
    else if (OPT("--tag")) { /* names this process for bgnn-deploy (to stop it on Ctrl-C) */ }
    else return fail("arguments", 2, "unknown or incomplete argument '%s'", a);
#undef OPT
  }
  if (!graph || !runtime) return fail("arguments", 2, "--graph and --runtime are required");

  const bgnn_runtime* rt = strcmp(api, "litert") == 0 ? &bgnn_runtime_litert
                           : strcmp(api, "tflite-c") == 0 ? &bgnn_runtime_tflite
                                                          : NULL;
  if (!rt) return fail("arguments", 2, "--runtime_api must be tflite-c or litert, not '%s'", api);
  const bgnn_isa isa = bgnn_dispatch_init();
  char error[1024] = "";
  int rc = rt->open(runtime, error, sizeof(error));
  if (rc) return fail("runtime", rc, "%s", error);
  g.rt = rt;
  bgnn_profiling_enabled = profiling;
  /* per-node times where the runtime can give them; else why not */
  char nodes_why[256] = "";
  int node_events = 0;
  if (profiling) {
    if (!rt->profile_nodes) snprintf(nodes_why, sizeof(nodes_why), "the %s glue has no per-node profiler", rt->api);
    else node_events = rt->profile_nodes(nodes_why, sizeof(nodes_why)) == 0;
  }

  size_t model_size = 0;
  const char* why = read_file(graph, &g.model, &model_size);
  if (why) return fail("model", 4, why, graph);
  const void* model_data = g.model;
  if (model_size < 8 || memcmp((const char*)model_data + 4, "TFL3", 4) != 0)
    return fail("model", 4, "%s is not a TFLite flatbuffer", graph);

  /* our kernels split rows over this many threads; the runtime's builtins get the same
   * count from load() */
  bgnn_parallel_set_threads(num_threads);
  const double t_init = now_ms();
  rc = rt->load(model_data, model_size, num_threads, error, sizeof(error));
  if (rc) return fail(rc == BGNN_ERR_MODEL ? "model" : rc == BGNN_ERR_RUNTIME ? "runtime" : "prepare", rc, "%s", error);
  const double init_ms = now_ms() - t_init;
  const long rss_init = peak_rss_kb();

  /* inputs: from --input (raw little-endian, all inputs back to back) or seeded */
  size_t in_size = 0;
  if (input_path && (why = read_file(input_path, &g.input, &in_size))) return fail("input", 2, why, input_path);
  const char* in_data = g.input;
  size_t offset = 0;
  for (int i = 0; i < rt->num_inputs(); ++i) {
    size_t bytes;
    bgnn_tensor t = rt->input(i, &bytes);
    if (in_data) {
      if (offset + bytes > in_size) return fail("input", 2, "%s has %zu bytes, the model needs more", input_path, in_size);
      memcpy(t.data, in_data + offset, bytes);
      offset += bytes;
    } else if (t.type == BGNN_FLOAT32) {
      fill_random(t.data, bytes / sizeof(float));
    } else {
      memset(t.data, 0, bytes);
    }
  }
  if (in_data && offset != in_size)
    return fail("input", 2, "%s has %zu bytes, the model takes %zu", input_path, in_size, offset);

  double t0 = now_ms();
  if (rt->invoke(error, sizeof(error))) return fail("invoke", 6, "%s", error);
  const double first_ms = now_ms() - t0;
  if (node_events) rt->drain_nodes();

  /* outputs of the first run (deterministic), for parity checks */
  const int n_out = rt->num_outputs();
  if (output_path) {
    FILE* f = fopen(output_path, "wb");
    if (!f) return fail("output", 2, "cannot write %s: %s", output_path, strerror(errno));
    int written = 1;
    for (int i = 0; i < n_out; ++i) {
      size_t bytes;
      const char* name;
      bgnn_tensor t = rt->output(i, &bytes, &name);
      written = written && fwrite(t.data, 1, bytes, f) == bytes;
    }
    /* a full disk shows only here, when the buffer is flushed (was a success with an
     * empty file) */
    written = written && fflush(f) == 0;
    const int err = errno;
    if (fclose(f) != 0 || !written)
      return fail("output", 2, "cannot write %s: %s", output_path, strerror(written ? errno : err));
  }

  t0 = now_ms();
  for (int r = 0; r < warmup_runs; ++r)
    if (rt->invoke(error, sizeof(error))) return fail("invoke", 6, "%s", error);
  const double warmup_ms = warmup_runs ? (now_ms() - t0) / warmup_runs : 0;
  if (node_events) rt->drain_nodes();

  /* timed runs; profiles count only these */
  bgnn_op_profiles_reset();
  bgnn_nodes_reset();
  size_t capacity = (size_t)num_runs;
  double* times = g.times = malloc(sizeof(double) * capacity);
  if (!times) return fail("invoke", 6, "out of memory for %zu timings", capacity);
  int runs = 0;
  const double window_start = boottime_s();
  const double start = now_ms();
  for (;; ++runs) {
    const double elapsed = now_ms() - start;
    if (runs >= num_runs && elapsed >= min_secs * 1e3) break;
    if (max_secs > 0 && runs > 0 && elapsed > max_secs * 1e3) break;
    if (runs == kMaxTimedRuns) break; /* an int's worth of runs within --min_secs */
    if ((size_t)runs == capacity) {
      capacity *= 2;
      double* grown = realloc(times, sizeof(double) * capacity);
      if (!grown) return fail("invoke", 6, "out of memory for %zu timings", capacity);
      times = g.times = grown;
    }
    t0 = now_ms();
    if (rt->invoke(error, sizeof(error))) return fail("invoke", 6, "%s", error);
    times[runs] = now_ms() - t0;
    if (node_events) rt->drain_nodes(); /* untimed: the next run's clock starts after it */
  }
  const double window_end = boottime_s();
  /* the runs' times in run order, before sorting: every run, or past 2000 runs 2000 evenly
   * spaced over the whole timed window (a sample the bootstrap and the plots can trust) */
  const int kept = runs < 2000 ? runs : 2000;
  double* in_order = g.in_order = malloc(sizeof(double) * (size_t)(kept ? kept : 1));
  if (!in_order) return fail("invoke", 6, "out of memory for %d timings", kept);
  for (int r = 0; r < kept; ++r) in_order[r] = times[(long long)r * runs / kept];
  double sum = 0, sq = 0;
  for (int r = 0; r < runs; ++r) sum += times[r];
  const double mean = sum / runs;
  for (int r = 0; r < runs; ++r) sq += (times[r] - mean) * (times[r] - mean);
  qsort(times, (size_t)runs, sizeof(double), cmp_double);

  printf("{\"runtime\": ");
  json_string(stdout, rt->version());
  printf(", \"runtime_api\": \"%s\", \"arch\": \"%s\", \"isa\": \"%s\", \"emulated\": %s",
         rt->api, BGNN_ARCH, bgnn_isa_name(isa), emulated ? "true" : "false");
  printf(", \"graph\": ");
  json_string(stdout, graph);
  printf(", \"model_bytes\": %zu, \"num_threads\": %d, \"init_ms\": %.4f, \"first_ms\": %.4f, \"warmup_ms\": %.4f",
         model_size, num_threads, init_ms, first_ms, warmup_ms);
  printf(", \"latency_ms\": {\"min\": %.4f, \"median\": %.4f, \"mean\": %.4f, \"std\": %.4f, \"p90\": %.4f, "
         "\"p95\": %.4f, \"p99\": %.4f, \"max\": %.4f, \"runs\": %d}",
         times[0], percentile(times, runs, 0.5), mean, runs > 1 ? sqrt(sq / (runs - 1)) : 0.0,
         percentile(times, runs, 0.9), percentile(times, runs, 0.95), percentile(times, runs, 0.99),
         times[runs - 1], runs);
  printf(", \"runs_ms\": [");
  for (int r = 0; r < kept; ++r) printf("%s%.4f", r ? ", " : "", in_order[r]);
  printf("]");
  printf(", \"timed_window_boottime_s\": [%.6f, %.6f]", window_start, window_end);
  printf(", \"peak_rss_kb_after_init\": %ld, \"peak_rss_kb\": %ld", rss_init, peak_rss_kb());
  printf(", \"outputs\": [");
  for (int i = 0; i < n_out; ++i) {
    size_t bytes;
    const char* name;
    bgnn_tensor t = rt->output(i, &bytes, &name);
    printf("%s{\"name\": ", i ? ", " : "");
    json_string(stdout, name);
    printf(", \"type\": %d, \"bytes\": %zu, \"shape\": [", t.type, bytes);
    for (int d = 0; d < t.rank; ++d) printf("%s%d", d ? ", " : "", t.dims[d]);
    printf("]}");
  }
  printf("]");
  if (profiling) print_profile(rt, runs, mean, node_events, nodes_why);
  printf("}\n");
  release();
  return 0;
}
