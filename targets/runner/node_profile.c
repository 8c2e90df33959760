/* The per-node time table of node_profile.h. */
#include "node_profile.h"

#include <stdlib.h>
#include <string.h>

static bgnn_node_time* g_table;
static int g_count, g_capacity, g_next;
static int g_partition = -1, g_last_index;

void bgnn_nodes_reset(void) { g_count = g_next = 0; }

void bgnn_nodes_free(void) {
  free(g_table);
  g_table = NULL;
  g_count = g_capacity = g_next = 0;
}

static int same(const bgnn_node_time* n, int subgraph, int partition, int index) {
  return n->subgraph == subgraph && n->partition == partition && n->index == index;
}

void bgnn_nodes_add(int subgraph, int partition, int index, const char* op, double ms) {
  /* a run calls the entries in the order of the first: the one after the last found is
   * the usual match */
  for (int i = 0; i < g_count; ++i) {
    const int at = (g_next + i) % g_count;
    if (same(&g_table[at], subgraph, partition, index)) {
      g_table[at].total_ms += ms, g_table[at].calls++;
      g_next = at + 1 < g_count ? at + 1 : 0;
      return;
    }
  }
  if (g_count == g_capacity) {
    const int capacity = g_capacity ? 2 * g_capacity : 64;
    bgnn_node_time* grown = realloc(g_table, sizeof(*grown) * (size_t)capacity);
    if (!grown) return; /* the entry goes unlisted: its time stays in "other" */
    g_table = grown, g_capacity = capacity;
  }
  bgnn_node_time* n = &g_table[g_count++];
  memset(n, 0, sizeof(*n));
  n->subgraph = subgraph, n->partition = partition, n->index = index;
  /* "LceBconv2d#3" is LiteRt's name for a node of LceBconv2d (converters/litert_prepare.py) */
  const char* name = op ? op : "";
  size_t len = strcspn(name, "#");
  if (len >= sizeof(n->op)) len = sizeof(n->op) - 1;
  memcpy(n->op, name, len);
  n->op[len] = '\0';
  n->total_ms = ms, n->calls = 1;
  g_next = g_count;
}

int bgnn_nodes(const bgnn_node_time** out) {
  *out = g_table;
  return g_count;
}

void bgnn_partition_start(void) { g_partition = -1, g_last_index = 0; }

int bgnn_partition_of(int index) {
  if (g_partition < 0 || index <= g_last_index) ++g_partition;
  g_last_index = index;
  return g_partition;
}
