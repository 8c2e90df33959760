/* Per-node wall time of the timed runs (--enable_op_profiling), from what each runtime
 * reports about its nodes: the LiteRt profiler's events (runtime_litert.c) or the TFLite
 * C API's telemetry profiler (runtime_tflite.c). Two kinds of entries:
 *
 * - a node of the interpreter's execution plan (partition -1): a builtin (CONV_2D) or one
 *   of our custom ops (LceBconv2d; LiteRt's per-node names "LceBconv2d#3" lose their
 *   "#3" here), by its node index;
 * - an operator inside a delegate's kernel (partition >= 0), as the delegate names and
 *   times it itself (XNNPACK: "Fully Connected (NC, F32) GEMM", in whole microseconds):
 *   the interpreter then reports no event of its own for that kernel. `partition` counts
 *   the delegate kernels of a run in execution order, `index` is the operator's place in
 *   its kernel (-1: the kernel's own time outside its operators);
 * - the runtime's own work, no node (partition BGNN_RUNTIME_STAGE): LiteRt's stages
 *   around the interpreter's invoke ("LiteRT::Run[buffer registration]") and the
 *   interpreter's between nodes.
 *
 * Entries keep the order of their first call (execution order). main.c prints them and
 * their per-op-type totals. */
#ifndef BGNN_NODE_PROFILE_H
#define BGNN_NODE_PROFILE_H

enum { BGNN_RUNTIME_STAGE = -2 };

typedef struct {
  int subgraph;
  int partition; /* -1: an interpreter node; BGNN_RUNTIME_STAGE */
  int index;
  char op[64];
  double total_ms;
  long calls;
} bgnn_node_time;

/* Forgets every entry (before the timed runs). */
void bgnn_nodes_reset(void);
/* Adds one call of the entry that took `ms`. */
void bgnn_nodes_add(int subgraph, int partition, int index, const char* op, double ms);
/* The entries, in the order of their first call; their count. */
int bgnn_nodes(const bgnn_node_time** out);
/* Frees the table. */
void bgnn_nodes_free(void);

/* Numbers one run's delegate kernels from the events in their order: call
 * bgnn_partition_start() before a run's events, then bgnn_partition_of(index) with each
 * delegate operator's index (a kernel's operators come numbered from 0). */
void bgnn_partition_start(void);
int bgnn_partition_of(int index);

#endif
