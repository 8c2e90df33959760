/* The float form of BgnnEdgeConv (real inputs: the first layer), called by edgeconv.c;
 * the math is in edgeconv.h. Kept apart from the ±1 form so that each can change alone.
 *
 * Two plans, chosen per run:
 * - fast, when every |x| is at most the bound init derived from the weights (so every
 *   u, v and y = u + v is finite): modes 0 and 1 from max_j u_j and min_j u_j, each
 *   reduced only for the 8-channel vectors where some channel's bound needs it (a
 *   channel whose hi is infinite or NaN gives the same answer for every finite max, and
 *   likewise lo for the min); modes 2 and 3 edge by edge;
 * - exact, otherwise (NaN, infinities, values that could overflow): every channel edge by
 *   edge, as the spec reads.
 * Either way the output equals the spec's for every input. */
#ifndef BGNN_CORE_EDGECONV_FLOAT_H
#define BGNN_CORE_EDGECONV_FLOAT_H
#include "edgeconv.h"

/* The float part of bgnn_edgeconv_init (after it set the shapes and e->mode): weights
 * float [Cout][2C], bounds float [Cout][2]. 0 when out of memory. Preconditions
 * (asserted): points, k, channels_in, channels_out >= 1; run's idx in [0, points). */
int bgnn_edgeconv_float_init(bgnn_edgeconv* e, const float* weights, const float* bounds);
void bgnn_edgeconv_float_free(bgnn_edgeconv* e);
void bgnn_edgeconv_float_run(bgnn_edgeconv* e, const float* x, const int32_t* idx, uint32_t* out);

#endif
