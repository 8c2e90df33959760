/* A minimal reader for the flexbuffer maps TFLite custom ops carry as options
 * (LCE writes {key: int}; BgnnHammingKnn adds a string). Handles 1/2/4/8-byte widths. */
#ifndef BGNN_FLEXBUFFERS_H
#define BGNN_FLEXBUFFERS_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
  const uint8_t* buf;
  size_t len;
  size_t values;  /* position of the map's value vector */
  int width;      /* byte width of its elements */
  size_t count;
  size_t keys;    /* position of the key vector */
  int key_width;
} bgnn_flexmap;

/* 0 on success, -1 when the bytes are not a flexbuffer map. */
int bgnn_flexmap_open(const uint8_t* buf, size_t len, bgnn_flexmap* map);
/* 0 and *value set when `key` exists with an integer/bool value; -1 otherwise. */
int bgnn_flexmap_int(const bgnn_flexmap* map, const char* key, int64_t* value);
/* 0 and a pointer to the NUL-terminated string; -1 when absent, not a string, or without
 * a NUL before the end of the buffer. */
int bgnn_flexmap_string(const bgnn_flexmap* map, const char* key, const char** value);

#endif
