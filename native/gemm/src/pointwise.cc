// GELU forward and backward in one pass each. Composed from tfjs kernels, gelu_new is 7 element-
// wise passes over a (B·T, 4C) matrix forward and 12 backward, each reading and writing the whole
// matrix; here it is one read and one write, with a vectorised exp on AVX-512.
#include "pointwise.h"

// GCC 12 warns that _mm512_undefined_ps() (inside the max/min/roundscale/scalef intrinsics) "may be
// used uninitialized"; it is the intrinsics' own deliberate undefined pass-through operand.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <cmath>
#include <cstring>
#include <vector>

#include "gemm.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define POINTWISE_X86 1
#endif

namespace gemm {
namespace {

constexpr float kC2 = 2.0f * 0.7978845608028654f;  // 2·√(2/π)
constexpr float kA = 0.044715f;

#ifdef POINTWISE_X86
/** e^x for x in [-87, 88] (clamped), about 2 ulp: Cody–Waite reduction by ln 2 and a degree-6 polynomial. */
__attribute__((target("avx512f"))) inline __m512 exp512(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

/** σ(2·√(2/π)·(u + a·u³)) */
__attribute__((target("avx512f"))) inline __m512 gate512(__m512 u) {
  const __m512 u2 = _mm512_mul_ps(u, u);
  const __m512 z = _mm512_mul_ps(_mm512_mul_ps(u, _mm512_fmadd_ps(u2, _mm512_set1_ps(kA), _mm512_set1_ps(1.0f))), _mm512_set1_ps(kC2));
  const __m512 one = _mm512_set1_ps(1.0f);
  return _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), z))));
}

__attribute__((target("avx512f"))) void gelu_forward_avx512(const float* u, float* g, std::size_t n) {
  for (std::size_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(m, u + i);
    _mm512_mask_storeu_ps(g + i, m, _mm512_mul_ps(x, gate512(x)));
  }
}

__attribute__((target("avx512f"))) void gelu_backward_avx512(const float* dg, const float* u, float* du, std::size_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (std::size_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(m, u + i);
    const __m512 s = gate512(x);
    // d/du [u σ(z)] = σ + u σ (1 − σ) · dz/du,  dz/du = 2c (1 + 3a u²)
    const __m512 dz = _mm512_mul_ps(_mm512_fmadd_ps(_mm512_mul_ps(x, x), _mm512_set1_ps(3.0f * kA), one), _mm512_set1_ps(kC2));
    const __m512 deriv = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_mul_ps(x, s), _mm512_sub_ps(one, s)), dz, s);
    _mm512_mask_storeu_ps(du + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, dg + i), deriv));
  }
}

/** Follows the GEMM's kernel choice (the CPU supports AVX-512 when that is selected), so tests
 *  that switch the GEMM to "avx2" or "portable" exercise the scalar path here too. */
bool has_avx512() { return std::strcmp(current_kernel(), "avx512") == 0; }
#endif

inline float gate(float u) { return 1.0f / (1.0f + std::exp(-kC2 * u * (1.0f + kA * u * u))); }

}  // namespace

void gelu_forward(const float* u, float* g, std::size_t n) {
#ifdef POINTWISE_X86
  if (has_avx512()) return gelu_forward_avx512(u, g, n);
#endif
  for (std::size_t i = 0; i < n; i++) g[i] = u[i] * gate(u[i]);
}

void gelu_backward(const float* dg, const float* u, float* du, std::size_t n) {
#ifdef POINTWISE_X86
  if (has_avx512()) return gelu_backward_avx512(dg, u, du, n);
#endif
  for (std::size_t i = 0; i < n; i++) {
    const float x = u[i], s = gate(x);
    du[i] = dg[i] * (s + x * s * (1.0f - s) * kC2 * (1.0f + 3.0f * kA * x * x));
  }
}

// LayerNorm: tfjs composes the forward from 9 kernels and the backward from ~12, each a full pass
// over (rows, cols); here each is two passes over a row that stays in L1. Row sums accumulate in
// double, as the variance of a row with a large mean needs.
void layernorm_forward(const float* x, const float* g, const float* b, float* y, float* xhat, float* rstd, std::size_t rows,
                       std::size_t cols, float eps) {
  for (std::size_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    double s = 0;
    for (std::size_t j = 0; j < cols; j++) s += xr[j];
    const float mean = static_cast<float>(s / cols);
    double v = 0;
    for (std::size_t j = 0; j < cols; j++) {
      const double c = xr[j] - mean;
      v += c * c;
    }
    const float rs = static_cast<float>(1.0 / std::sqrt(v / cols + eps));
    rstd[r] = rs;
    float* hr = xhat + r * cols;
    float* yr = y + r * cols;
    for (std::size_t j = 0; j < cols; j++) {
      hr[j] = (xr[j] - mean) * rs;
      yr[j] = hr[j] * g[j] + b[j];
    }
  }
}

void layernorm_backward(const float* dy, const float* xhat, const float* rstd, const float* g, float* dx, float* dg, float* db,
                        std::size_t rows, std::size_t cols) {
  std::vector<double> sg(cols, 0.0), sb(cols, 0.0);
  for (std::size_t r = 0; r < rows; r++) {
    const float* dyr = dy + r * cols;
    const float* hr = xhat + r * cols;
    double m1 = 0, m2 = 0;
    for (std::size_t j = 0; j < cols; j++) {
      const float d = dyr[j] * g[j];
      m1 += d;
      m2 += static_cast<double>(d) * hr[j];
      sg[j] += static_cast<double>(dyr[j]) * hr[j];
      sb[j] += dyr[j];
    }
    const float a = static_cast<float>(m1 / cols), c = static_cast<float>(m2 / cols), rs = rstd[r];
    float* dxr = dx + r * cols;
    for (std::size_t j = 0; j < cols; j++) dxr[j] = rs * (dyr[j] * g[j] - a - hr[j] * c);
  }
  for (std::size_t j = 0; j < cols; j++) {
    dg[j] = static_cast<float>(sg[j]);
    db[j] = static_cast<float>(sb[j]);
  }
}

}  // namespace gemm
