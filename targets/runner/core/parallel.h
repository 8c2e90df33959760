/* Work split over rows (points, edges, output rows) for every kernel, on a small pool of
 * worker threads started once. No runtime types: the runner sets the thread count from
 * its --num_threads and kernels call bgnn_parallel_for over their rows.
 *
 *     static void rows(void* ctx, int begin, int end, int worker) { ... }
 *     bgnn_parallel_for(n_rows, 16, rows, &ctx);   // worker in [0, bgnn_parallel_threads())
 *
 * `worker` indexes per-thread scratch; ranges never overlap and cover [0, n) exactly once.
 * Calls return when every range is done. Not re-entrant: `fn` must not call it again. */
#ifndef BGNN_CORE_PARALLEL_H
#define BGNN_CORE_PARALLEL_H

typedef void (*bgnn_range_fn)(void* ctx, int begin, int end, int worker);

/* Threads used by later calls (>= 1; values above the pool's limit are clamped). */
void bgnn_parallel_set_threads(int threads);
int bgnn_parallel_threads(void);

/* Runs fn over [0, n) in ranges of at least `grain` rows (grain >= 1). */
void bgnn_parallel_for(int n, int grain, bgnn_range_fn fn, void* ctx);

#endif
