#include "flexbuffers.h"

#include <string.h>

enum { FBT_INT = 1, FBT_UINT = 2, FBT_KEY = 4, FBT_STRING = 5, FBT_MAP = 9, FBT_BOOL = 26 };

static int in_range(const bgnn_flexmap* m, size_t pos, size_t n) { return pos <= m->len && n <= m->len - pos; }

static uint64_t read_uint(const uint8_t* p, int width) {
  uint64_t v = 0;
  for (int i = 0; i < width; ++i) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static int64_t read_int(const uint8_t* p, int width) {
  uint64_t v = read_uint(p, width);
  if (width < 8 && (v >> (8 * width - 1)) & 1) v |= ~0ull << (8 * width);
  return (int64_t)v;
}

int bgnn_flexmap_open(const uint8_t* buf, size_t len, bgnn_flexmap* m) {
  memset(m, 0, sizeof(*m));
  m->buf = buf;
  m->len = len;
  if (len < 3) return -1;
  const int root_width = buf[len - 1];
  const uint8_t packed = buf[len - 2];
  if ((packed >> 2) != FBT_MAP || root_width < 1 || root_width > 8 || len < (size_t)root_width + 2) return -1;
  const size_t root = len - 2 - root_width;
  const uint64_t off = read_uint(buf + root, root_width);
  if (off > root) return -1;
  m->values = root - off;
  m->width = 1 << (packed & 3);
  if (m->values < (size_t)3 * m->width) return -1;
  const size_t kfield = m->values - 3 * m->width;
  m->count = read_uint(buf + m->values - m->width, m->width);
  const uint64_t koff = read_uint(buf + kfield, m->width);
  m->key_width = (int)read_uint(buf + m->values - 2 * m->width, m->width);
  if (koff > kfield || m->key_width < 1 || m->key_width > 8) return -1;
  m->keys = kfield - koff;
  /* count <= len first: the products below cannot wrap around */
  if (m->count > len || !in_range(m, m->values, m->count * (m->width + 1)) || !in_range(m, m->keys, m->count * m->key_width))
    return -1;
  return 0;
}

static long find(const bgnn_flexmap* m, const char* key) {
  for (size_t i = 0; i < m->count; ++i) {
    const size_t at = m->keys + i * m->key_width;
    const uint64_t off = read_uint(m->buf + at, m->key_width);
    if (off > at) return -1;
    const char* k = (const char*)m->buf + (at - off);
    if (strncmp(k, key, m->len - (at - off)) == 0) return (long)i;
  }
  return -1;
}

int bgnn_flexmap_int(const bgnn_flexmap* m, const char* key, int64_t* value) {
  const long i = find(m, key);
  if (i < 0) return -1;
  const uint8_t type = m->buf[m->values + m->count * m->width + i] >> 2;
  const uint8_t* p = m->buf + m->values + (size_t)i * m->width;
  if (type == FBT_INT) *value = read_int(p, m->width);
  else if (type == FBT_UINT || type == FBT_BOOL) *value = (int64_t)read_uint(p, m->width);
  else return -1;
  return 0;
}

int bgnn_flexmap_string(const bgnn_flexmap* m, const char* key, const char** value) {
  const long i = find(m, key);
  if (i < 0) return -1;
  const uint8_t type = m->buf[m->values + m->count * m->width + i] >> 2;
  if (type != FBT_STRING && type != FBT_KEY) return -1;
  const size_t at = m->values + (size_t)i * m->width;
  const uint64_t off = read_uint(m->buf + at, m->width);
  if (off > at || !memchr(m->buf + (at - off), '\0', m->len - (at - off))) return -1; /* unterminated */
  *value = (const char*)m->buf + (at - off);
  return 0;
}
