/* Probes of core/parallel.c for the Python tests (tests/targets/test_parallel.py load it
 * with the core kernels through ctypes): which worker ran which row, range sizes, and the
 * cost of one call. */
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "../core/parallel.h"

typedef struct {
  _Atomic int32_t* visits; /* per row: how many times a range covered it */
  int32_t* worker;         /* per row: the worker that ran it */
  _Atomic int32_t min_range, bad_worker, calls;
  int threads;
  volatile uint64_t spin; /* busy work per row, so that workers overlap */
} cover_ctx;

static void cover(void* arg, int begin, int end, int worker) {
  cover_ctx* c = arg;
  atomic_fetch_add(&c->calls, 1);
  if (worker < 0 || worker >= c->threads) atomic_store(&c->bad_worker, 1);
  int32_t len = end - begin, seen = atomic_load(&c->min_range);
  while (len < seen && !atomic_compare_exchange_weak(&c->min_range, &seen, len)) {
  }
  for (int i = begin; i < end; ++i) {
    atomic_fetch_add(&c->visits[i], 1);
    c->worker[i] = worker;
    for (uint64_t s = 0; s < c->spin; ++s) __asm__ __volatile__("" ::: "memory");
  }
}

/* Runs bgnn_parallel_for(n, grain) once; visits/worker have n entries. out[0] = smallest
 * range, out[1] = 1 if a worker index fell outside [0, threads), out[2] = ranges run. */
void bgnn_probe_parallel_cover(int n, int grain, int spin, int32_t* visits, int32_t* worker, int32_t* out) {
  cover_ctx c = {(_Atomic int32_t*)visits, worker, INT32_MAX, 0, 0, bgnn_parallel_threads(), (uint64_t)spin};
  bgnn_parallel_for(n, grain, cover, &c);
  out[0] = atomic_load(&c.min_range), out[1] = atomic_load(&c.bad_worker), out[2] = atomic_load(&c.calls);
}

typedef struct {
  _Atomic int64_t ranges;
  int row_ns; /* busy time per row */
} timed_ctx;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void busy_rows(void* arg, int begin, int end, int worker) {
  timed_ctx* c = arg;
  (void)worker;
  atomic_fetch_add(&c->ranges, 1);
  if (c->row_ns <= 0) return;
  const int64_t until = now_ns() + (int64_t)(end - begin) * c->row_ns;
  while (now_ns() < until) {
  }
}

/* Mean wall time in ns of one bgnn_parallel_for over n rows of row_ns busy time each,
 * over `calls` calls, with gap_ns of idle spinning on the caller between calls (a builtin
 * op running in between). Overhead = this minus n * row_ns / threads. */
double bgnn_probe_parallel_call_ns(int calls, int n, int grain, int row_ns, int gap_ns) {
  timed_ctx c = {0, row_ns};
  double total = 0;
  for (int i = 0; i < calls; ++i) {
    const int64_t a = now_ns();
    bgnn_parallel_for(n, grain, busy_rows, &c);
    const int64_t b = now_ns();
    total += (double)(b - a);
    while (gap_ns > 0 && now_ns() - b < gap_ns) {
    }
  }
  return total / calls;
}
