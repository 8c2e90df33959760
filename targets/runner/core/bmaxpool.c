#include "bmaxpool.h"

void bgnn_bmaxpool(const bgnn_bmaxpool_params* p, const uint32_t* in, uint32_t* out) {
  for (int n = 0; n < p->batch; ++n)
    for (int oy = 0; oy < p->out_h; ++oy)
      for (int ox = 0; ox < p->out_w; ++ox) {
        uint32_t* y = out + (((size_t)n * p->out_h + oy) * p->out_w + ox) * p->words;
        for (int w = 0; w < p->words; ++w) y[w] = 0xffffffffu;
        for (int fy = 0; fy < p->filter_h; ++fy) {
          const int iy = oy * p->stride_h - p->pad_top + fy;
          if (iy < 0 || iy >= p->in_h) continue;
          for (int fx = 0; fx < p->filter_w; ++fx) {
            const int ix = ox * p->stride_w - p->pad_left + fx;
            if (ix < 0 || ix >= p->in_w) continue;
            const uint32_t* x = in + (((size_t)n * p->in_h + iy) * p->in_w + ix) * p->words;
            for (int w = 0; w < p->words; ++w) y[w] &= x[w];
          }
        }
      }
}
