/* A probe of core/parallel.c for the Python tests (tests/targets/test_parallel.py load it
 * with the core kernels through ctypes): which worker ran which row, and range sizes.
 * (The pool's per-call cost is a measurement, not a test: see the benchmarks.) */
#include <stdatomic.h>
#include <stdint.h>

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
