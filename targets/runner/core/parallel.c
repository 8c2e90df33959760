/* The thread pool behind parallel.h.
 *
 * Workers 1..threads-1 are pthreads started by the first call that needs them and kept
 * for the life of the process; the caller is worker 0 and works too. [0, n) is cut into
 * at most kChunksPerThread chunks per thread, each a whole number of `grain` rows (the
 * last one also takes the remainder), and every thread claims chunks one at a time until
 * none are left. So a worker that wakes late, or is preempted (2 cores shared with other
 * work), leaves its chunks to the others instead of holding the call up: the caller
 * waits only for chunks that were claimed, never for a worker that has not started.
 *
 *   caller: write the job -> claim = (epoch, 0) -> job = (epoch, chunks, participants)
 *           -> wake sleepers -> claim and run chunks -> wait until inflight == 0
 *   worker: sees a new job word -> inflight += 1 -> claim and run chunks of that epoch
 *           (a claim of another epoch fails) -> inflight -= 1
 *
 * A worker counts itself in `inflight` before its first claim, so a caller that has seen
 * every chunk claimed also sees that worker until it is done; a worker whose claim fails
 * never reads the job's fields, which the next call may be rewriting. All of it is
 * seq_cst atomics (the job fields are published by the store of the job word).
 *
 * Waiting: spin a short while (about kSpinNs: CPU pauses, then sched_yield so that
 * other runnable threads, e.g. XNNPACK's, get the core), then sleep on a condition
 * variable (one per worker, so a call wakes only the workers it needs). A sleeper sets
 * its `asleep` flag and the other side takes the mutex to signal only when the flag is
 * set: store-then-load on both sides (Dekker), so no wake-up is lost and the path
 * without sleepers makes no system call. Workers that took no part in the last job
 * (threads lowered) sleep at once.
 *
 * Workers block all signals (the program's own threads handle them) and are never
 * joined: exit() ends them wherever they wait, and no job runs then, since every call
 * waits for its chunks. A fork()ed child starts a fresh pool on its first call.
 */
#include "parallel.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

enum { kMaxThreads = 64, kChunksPerThread = 4 };
/* Spin about 300 us before sleeping: a builtin op or two between two of our ops fits, and
 * waking a sleeping worker costs 10-40 us on this VM. Measured on the demo model (2 threads):
 * 20 us spin 2.16 ms, 100 us 2.08, 300 us 2.02, 1000 us 2.01 (median of 5 clean rounds). */
static const int64_t kSpinNs = 300 * 1000, kPauseNs = 5 * 1000;

/* The job word: epoch << 16 | chunks << 7 | participants (chunks <= 256, participants <= 64). */
#define JOB(epoch, chunks, participants) ((uint64_t)(epoch) << 16 | (uint64_t)(chunks) << 7 | (uint64_t)(participants))
#define JOB_EPOCH(j) ((j) >> 16)
#define JOB_CHUNKS(j) ((int)(((j) >> 7) & 0x1ff))
#define JOB_PARTICIPANTS(j) ((int)((j) & 0x7f))

/* One per worker, on its own cache line: it sleeps on its own condition, so a call
 * wakes only the workers it needs. */
typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t wake;
  _Atomic int asleep;
  uint64_t start_job; /* the job word when the worker was created */
} __attribute__((aligned(64))) worker_slot;

static struct {
  pthread_mutex_t mu; /* the caller's side: it sleeps on `done` */
  pthread_cond_t done;
  _Atomic uint64_t job;      /* see JOB */
  _Atomic uint64_t claim;    /* epoch << 32 | next chunk */
  _Atomic int inflight;      /* workers (not the caller) between joining and leaving a job */
  _Atomic int caller_asleep; /* the caller sleeps on `done` */
  _Atomic int busy;          /* a call is in progress (another one runs inline) */
  int started;               /* workers 1..started run */
  worker_slot slot[kMaxThreads]; /* slot[0] unused: the caller */
  /* the job, written by the caller before it stores the job word */
  bgnn_range_fn fn;
  void* ctx;
  int n, grain, units;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static _Atomic int g_threads = 1;

void bgnn_parallel_set_threads(int threads) {
  atomic_store(&g_threads, threads < 1 ? 1 : threads > kMaxThreads ? kMaxThreads : threads);
}

int bgnn_parallel_threads(void) { return atomic_load(&g_threads); }

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spins while *word == old, for about kSpinNs; returns the value last seen. */
static uint64_t spin_while_equal(_Atomic uint64_t* word, uint64_t old) {
  const int64_t start = now_ns();
  for (unsigned i = 1;; ++i) {
    const uint64_t v = atomic_load(word);
    if (v != old) return v;
    if (i < 64) {
      cpu_relax();
      continue;
    }
    const int64_t t = now_ns() - start;
    if (t > kSpinNs) return v;
    if (t < kPauseNs) cpu_relax();
    else sched_yield();
  }
}

static void spin_while_inflight(void) {
  const int64_t start = now_ns();
  for (unsigned i = 1; atomic_load(&g.inflight) != 0; ++i) {
    if (i < 64) {
      cpu_relax();
      continue;
    }
    const int64_t t = now_ns() - start;
    if (t > kSpinNs) {
      pthread_mutex_lock(&g.mu);
      atomic_store(&g.caller_asleep, 1);
      while (atomic_load(&g.inflight) != 0) pthread_cond_wait(&g.done, &g.mu);
      atomic_store(&g.caller_asleep, 0);
      pthread_mutex_unlock(&g.mu);
      return;
    }
    if (t < kPauseNs) cpu_relax();
    else sched_yield();
  }
}

/* Claims and runs chunks of `epoch` (chunk c: units [c*units/chunks, (c+1)*units/chunks)
 * of `grain` rows, the last one up to n) until none are left. */
static void run_chunks(uint64_t epoch, int chunks, int worker) {
  uint64_t claim = atomic_load(&g.claim);
  for (;;) {
    if (claim >> 32 != (epoch & 0xffffffffu) || (int)(uint32_t)claim >= chunks) return;
    if (!atomic_compare_exchange_weak(&g.claim, &claim, claim + 1)) continue;
    const int c = (int)(uint32_t)claim;
    const int begin = (int)((int64_t)c * g.units / chunks) * g.grain;
    const int end = c + 1 == chunks ? g.n : (int)((int64_t)(c + 1) * g.units / chunks) * g.grain;
    g.fn(g.ctx, begin, end, worker);
    claim = atomic_load(&g.claim);
  }
}

static void* worker_main(void* arg) {
  const int self = (int)(intptr_t)arg;
  worker_slot* me = &g.slot[self];
  uint64_t seen = me->start_job; /* not the current word: the first job may be out already */
  int spin = 1;
  for (;;) {
    uint64_t job = spin ? spin_while_equal(&g.job, seen) : seen;
    if (job == seen) {
      pthread_mutex_lock(&me->mu);
      atomic_store(&me->asleep, 1);
      while ((job = atomic_load(&g.job)) == seen) pthread_cond_wait(&me->wake, &me->mu);
      atomic_store(&me->asleep, 0);
      pthread_mutex_unlock(&me->mu);
    }
    seen = job;
    spin = self < JOB_PARTICIPANTS(job);
    if (!spin) continue;
    atomic_fetch_add(&g.inflight, 1);
    run_chunks(JOB_EPOCH(job), JOB_CHUNKS(job), self);
    if (atomic_fetch_sub(&g.inflight, 1) == 1 && atomic_load(&g.caller_asleep)) {
      pthread_mutex_lock(&g.mu);
      pthread_cond_signal(&g.done);
      pthread_mutex_unlock(&g.mu);
    }
  }
  return NULL;
}

static void after_fork_in_child(void) {
  /* the workers did not survive the fork, and the mutex and conditions may be mid-use */
  pthread_mutex_init(&g.mu, NULL);
  pthread_cond_init(&g.done, NULL);
  g.started = 0;
  atomic_store(&g.inflight, 0);
  atomic_store(&g.caller_asleep, 0);
  atomic_store(&g.busy, 0);
}

/* Starts workers up to 1..want-1; returns how many run. */
static int ensure_workers(int want) {
  static int fork_handler;
  if (!fork_handler) fork_handler = pthread_atfork(NULL, NULL, after_fork_in_child) == 0;
  if (g.started >= want - 1) return g.started;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 2 << 20);
  while (g.started < want - 1) {
    pthread_t t;
    worker_slot* slot = &g.slot[g.started + 1];
    pthread_mutex_init(&slot->mu, NULL);
    pthread_cond_init(&slot->wake, NULL);
    atomic_store(&slot->asleep, 0);
    slot->start_job = atomic_load(&g.job);
    if (pthread_create(&t, &attr, worker_main, (void*)(intptr_t)(g.started + 1)) != 0) break;
    g.started++;
  }
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return g.started;
}

void bgnn_parallel_for(int n, int grain, bgnn_range_fn fn, void* ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const int threads = bgnn_parallel_threads(), units = n / grain;
  if (threads == 1 || units < 2 || atomic_exchange(&g.busy, 1)) {
    fn(ctx, 0, n, 0);
    return;
  }
  int participants = threads < units ? threads : units;
  const int running = ensure_workers(participants);
  if (running + 1 < participants) participants = running + 1; /* pthread_create failed */
  if (participants < 2) {
    atomic_store(&g.busy, 0);
    fn(ctx, 0, n, 0);
    return;
  }
  const int max_chunks = participants * kChunksPerThread, chunks = units < max_chunks ? units : max_chunks;
  g.fn = fn, g.ctx = ctx, g.n = n, g.grain = grain, g.units = units;
  const uint64_t epoch = JOB_EPOCH(atomic_load(&g.job)) + 1;
  atomic_store(&g.claim, (epoch & 0xffffffffu) << 32);
  atomic_store(&g.job, JOB(epoch, chunks, participants)); /* publishes the job */
  for (int w = 1; w < participants; ++w) {
    worker_slot* slot = &g.slot[w];
    if (!atomic_load(&slot->asleep)) continue;
    pthread_mutex_lock(&slot->mu);
    pthread_cond_signal(&slot->wake);
    pthread_mutex_unlock(&slot->mu);
  }
  run_chunks(epoch, chunks, 0);
  spin_while_inflight();
  atomic_store(&g.busy, 0);
}
