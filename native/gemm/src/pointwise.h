// Fused element-wise kernels of the GPT-2 block (see pointwise.cc).
#pragma once
#include <cstddef>

namespace gemm {

/** g = gelu_new(u) = u · σ(2·√(2/π)·(u + 0.044715·u³)) (the tanh form, written with σ), n floats. */
void gelu_forward(const float* u, float* g, std::size_t n);
/** du = dg · gelu_new'(u), n floats. */
void gelu_backward(const float* dg, const float* u, float* du, std::size_t n);

}  // namespace gemm
