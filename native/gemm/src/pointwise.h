// Fused element-wise kernels of the GPT-2 block: GELU and LayerNorm (see pointwise.cc).
#pragma once
#include <cstddef>

namespace gemm {

/** g = gelu_new(u) = u · σ(2·√(2/π)·(u + 0.044715·u³)) (the tanh form, written with σ), n floats. */
void gelu_forward(const float* u, float* g, std::size_t n);
/** du = dg · gelu_new'(u), n floats. */
void gelu_backward(const float* dg, const float* u, float* du, std::size_t n);

/** LayerNorm over the last axis of a row-major (rows, cols) x: xhat = (x − mean)·rstd,
 *  rstd = 1/√(var + eps) (one per row), y = xhat·g + b. */
void layernorm_forward(const float* x, const float* g, const float* b, float* y, float* xhat, float* rstd, std::size_t rows,
                       std::size_t cols, float eps);
/** Its backward pass from the forward's xhat and rstd: dx, and dg, db summed over rows. */
void layernorm_backward(const float* dy, const float* xhat, const float* rstd, const float* g, float* dx, float* dg, float* db,
                        std::size_t rows, std::size_t cols);

}  // namespace gemm
