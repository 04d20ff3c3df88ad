// Fused causal self-attention on heads kept in place (see attention.cc).
#pragma once
#include "gemm.h"

namespace gemm {

/** Shapes and row strides (in floats) of the operands. Head h of q, out, dq starts at column
 *  h·headDim; key/value head g = h / (heads / kvHeads) of k, v, dk, dv at column g·headDim. */
struct AttnShape {
  int B, T, heads, kvHeads, headDim;
  idx qStride, kvStride, outStride, dqStride, dkvStride;
};

/** out (B·T rows) = softmax(Q·Kᵀ/√d + causal mask + bias)·V per head; probs (B, heads, T, T)
 *  receives the probabilities (exact zeros above the diagonal) for the backward pass.
 *  bias: (B, T, T) additive or null. */
void causal_attention_forward(const AttnShape& s, const float* q, const float* k, const float* v, const float* bias, float* out,
                              float* probs);

/** Gradients w.r.t. q, k, v (written, not accumulated) from dout and the forward's probs. */
void causal_attention_backward(const AttnShape& s, const float* q, const float* k, const float* v, const float* probs,
                               const float* dout, float* dq, float* dk, float* dv);

}  // namespace gemm
