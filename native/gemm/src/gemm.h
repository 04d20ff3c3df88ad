// Single-threaded float32 GEMM: C = op(A) · op(B), written (not accumulated) into C.
// Operands are described by element strides, so a transposed operand is just a swapped pair
// of strides: element (i, k) of op(A) is a[i * rsa + k * csa]; (k, j) of op(B) is
// b[k * rsb + j * csb]; C is row-major with leading dimension ldc.
#pragma once
#include <cstddef>

namespace gemm {

using idx = std::ptrdiff_t;

/** Names of the micro-kernels this CPU can run, fastest first (the first is the default). */
const char* const* available_kernels(int* count);
/** The micro-kernel in use. */
const char* current_kernel();
/** Selects a micro-kernel by name; false if unknown or not supported by this CPU. */
bool select_kernel(const char* name);

void sgemm(int m, int n, int k, const float* a, idx rsa, idx csa, const float* b, idx rsb, idx csb, float* c, idx ldc);

}  // namespace gemm
