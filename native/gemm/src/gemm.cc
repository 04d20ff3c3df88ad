// Cache-blocked GEMM with packed panels (the classic Goto/BLIS loop nest):
//
//   for each NC-wide column block of op(B):
//     for each KC-deep slice of the inner dimension:
//       pack op(B)[KC × NC] into NR-wide panels (zero-padded)
//       for each MC-tall row block of op(A):
//         pack op(A)[MC × KC] into MR-tall panels (zero-padded)
//         for each NR panel, for each MR panel: micro-kernel → an MR × NR tile of C
//
// The micro-kernel keeps the whole C tile in vector registers, loads NR/width vectors of
// packed B and broadcasts MR scalars of packed A per step of k. The first KC slice writes
// C, later slices add to it, so C never needs to be cleared first. Partial tiles at the
// bottom/right edges go through a small scratch tile.
//
// Micro-kernels are compiled with per-function target attributes and picked at run time
// from what the CPU (and OS) support, so one binary runs on any x86-64 and on other
// architectures (portable kernel only).
#include "gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GEMM_X86 1
#endif

namespace gemm {
namespace {

using UKernel = void (*)(int kc, const float* ap, const float* bp, float* c, idx ldc, bool accumulate);

struct Kernel {
  const char* name;
  int mr, nr;
  UKernel fn;
};

// ---------------------------------------------------------------- micro-kernels

#ifdef GEMM_X86
// 12 × 32: 24 zmm accumulators + 2 for B + 1 broadcast of A (of 32 registers).
__attribute__((target("avx512f"))) void ukernel_avx512(int kc, const float* ap, const float* bp, float* c, idx ldc, bool accumulate) {
  constexpr int MR = 12;
  __m512 acc[MR][2];
#pragma GCC unroll 12
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_loadu_ps(bp);
    const __m512 b1 = _mm512_loadu_ps(bp + 16);
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
      const __m512 a = _mm512_set1_ps(ap[r]);
      acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
    }
    ap += MR;
    bp += 32;
  }
#pragma GCC unroll 12
  for (int r = 0; r < MR; r++) {
    float* cr = c + r * ldc;
    if (accumulate) {
      acc[r][0] = _mm512_add_ps(acc[r][0], _mm512_loadu_ps(cr));
      acc[r][1] = _mm512_add_ps(acc[r][1], _mm512_loadu_ps(cr + 16));
    }
    _mm512_storeu_ps(cr, acc[r][0]);
    _mm512_storeu_ps(cr + 16, acc[r][1]);
  }
}

// 6 × 16: 12 ymm accumulators + 2 for B + 1 broadcast of A (of 16 registers).
__attribute__((target("avx2,fma"))) void ukernel_avx2(int kc, const float* ap, const float* bp, float* c, idx ldc, bool accumulate) {
  constexpr int MR = 6;
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_loadu_ps(bp);
    const __m256 b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
      const __m256 a = _mm256_broadcast_ss(ap + r);
      acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
    }
    ap += MR;
    bp += 16;
  }
#pragma GCC unroll 6
  for (int r = 0; r < MR; r++) {
    float* cr = c + r * ldc;
    if (accumulate) {
      acc[r][0] = _mm256_add_ps(acc[r][0], _mm256_loadu_ps(cr));
      acc[r][1] = _mm256_add_ps(acc[r][1], _mm256_loadu_ps(cr + 8));
    }
    _mm256_storeu_ps(cr, acc[r][0]);
    _mm256_storeu_ps(cr + 8, acc[r][1]);
  }
}
#endif

// 4 × 16 in plain C++: the compiler vectorises the inner loop for the baseline ISA.
void ukernel_portable(int kc, const float* ap, const float* bp, float* c, idx ldc, bool accumulate) {
  constexpr int MR = 4, NR = 16;
  float acc[MR][NR] = {};
  for (int k = 0; k < kc; k++) {
    for (int r = 0; r < MR; r++) {
      const float a = ap[r];
      for (int j = 0; j < NR; j++) acc[r][j] += a * bp[j];
    }
    ap += MR;
    bp += NR;
  }
  for (int r = 0; r < MR; r++) {
    float* cr = c + r * ldc;
    for (int j = 0; j < NR; j++) cr[j] = accumulate ? cr[j] + acc[r][j] : acc[r][j];
  }
}

const Kernel kPortable{"portable", 4, 16, ukernel_portable};
#ifdef GEMM_X86
const Kernel kAvx512{"avx512", 12, 32, ukernel_avx512};
const Kernel kAvx2{"avx2", 6, 16, ukernel_avx2};
#endif

struct Registry {
  const Kernel* kernels[3];
  const char* names[3];
  int count = 0;
  const Kernel* current = nullptr;

  Registry() {
#ifdef GEMM_X86
    __builtin_cpu_init();
    // libgcc's feature bits include the OS check (XGETBV) for the AVX/AVX-512 register state
    if (__builtin_cpu_supports("avx512f")) add(&kAvx512);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) add(&kAvx2);
#endif
    add(&kPortable);
    current = kernels[0];
  }
  void add(const Kernel* k) {
    kernels[count] = k;
    names[count] = k->name;
    count++;
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

// ---------------------------------------------------------------- packing

/** One full MR-tall panel of a row-major A (rows contiguous in k), k outermost. */
template <int MR>
void pack_a_rows(int kc, const float* s, idx rsa, float* d) {
  for (int k = 0; k < kc; k++) {
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) d[k * MR + r] = s[r * rsa + k];
  }
}

/** Packs op(A)[mc × kc] (top-left at a) into MR-tall panels: panel p holds, for each k, MR
 *  consecutive rows' values. Rows past mc are zero. */
void pack_a(int mc, int kc, const float* a, idx rsa, idx csa, int mr, float* dst) {
  for (int r0 = 0; r0 < mc; r0 += mr) {
    const int rows = std::min(mr, mc - r0);
    float* d = dst + static_cast<idx>(r0) * kc;
    if (csa == 1 && rows == mr) {
      // rows of A are contiguous in k. Walking k outermost writes the panel sequentially
      // (mr loads from mr row streams, one contiguous store run); writing it row by row
      // instead scatters every store mr floats apart across a block larger than L1, which
      // cost ~30% of the whole product when n is small (n = 256: A is packed once for only
      // 2·n flops per element).
      const float* s = a + r0 * rsa;
      if (mr == 12) pack_a_rows<12>(kc, s, rsa, d);
      else if (mr == 6) pack_a_rows<6>(kc, s, rsa, d);
      else if (mr == 4) pack_a_rows<4>(kc, s, rsa, d);
      else
        for (int k = 0; k < kc; k++)
          for (int r = 0; r < mr; r++) d[k * mr + r] = s[r * rsa + k];
    } else if (csa == 1) {
      // a partial bottom panel: rows of A are contiguous in k, read along them
      for (int r = 0; r < rows; r++) {
        const float* s = a + (r0 + r) * rsa;
        for (int k = 0; k < kc; k++) d[k * mr + r] = s[k];
      }
    } else {
      for (int k = 0; k < kc; k++) {
        const float* s = a + k * csa + r0 * rsa;
        for (int r = 0; r < rows; r++) d[k * mr + r] = s[r * rsa];
      }
    }
    if (rows < mr)
      for (int k = 0; k < kc; k++)
        for (int r = rows; r < mr; r++) d[k * mr + r] = 0.f;
  }
}

/** Packs op(B)[kc × nc] (top-left at b) into NR-wide panels: panel p holds, for each k, NR
 *  consecutive columns' values. Columns past nc are zero. */
void pack_b(int kc, int nc, const float* b, idx rsb, idx csb, int nr, float* dst) {
  for (int c0 = 0; c0 < nc; c0 += nr) {
    const int cols = std::min(nr, nc - c0);
    float* d = dst + static_cast<idx>(c0) * kc;
    if (csb == 1) {
      for (int k = 0; k < kc; k++) {
        std::memcpy(d + k * nr, b + k * rsb + c0, sizeof(float) * cols);
        if (cols < nr) std::memset(d + k * nr + cols, 0, sizeof(float) * (nr - cols));
      }
    } else {
      // columns of op(B) are contiguous in k (a transposed B): read along them
      for (int c = 0; c < cols; c++) {
        const float* s = b + (c0 + c) * csb;
        for (int k = 0; k < kc; k++) d[k * nr + c] = s[k * rsb];
      }
      if (cols < nr)
        for (int k = 0; k < kc; k++) std::memset(d + k * nr + cols, 0, sizeof(float) * (nr - cols));
    }
  }
}

// ---------------------------------------------------------------- driver

constexpr int KC = 256;
constexpr int MC_PANELS = 8;  // MC = 8 · MR rows of A per block (96 rows for avx512)
constexpr int NC = 1024;

/** Grow-only 64-byte-aligned scratch, one per thread (worker threads each get their own). */
struct Scratch {
  float* p = nullptr;
  std::size_t n = 0;
  float* get(std::size_t floats) {
    if (floats > n) {
      std::free(p);
      p = static_cast<float*>(std::aligned_alloc(64, ((floats * sizeof(float) + 63) / 64) * 64));
      n = p ? floats : 0;
    }
    return p;
  }
  ~Scratch() { std::free(p); }
};

}  // namespace

const char* const* available_kernels(int* count) {
  *count = registry().count;
  return registry().names;
}

const char* current_kernel() { return registry().current->name; }

bool select_kernel(const char* name) {
  Registry& r = registry();
  for (int i = 0; i < r.count; i++)
    if (std::strcmp(r.kernels[i]->name, name) == 0) {
      r.current = r.kernels[i];
      return true;
    }
  return false;
}

void sgemm(int m, int n, int k, const float* a, idx rsa, idx csa, const float* b, idx rsb, idx csb, float* c, idx ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int i = 0; i < m; i++) std::memset(c + i * ldc, 0, sizeof(float) * n);
    return;
  }
  const Kernel& kr = *registry().current;
  const int mr = kr.mr, nr = kr.nr;
  const int mcMax = MC_PANELS * mr;
  const int ncMax = (std::min(NC, n) + nr - 1) / nr * nr;  // a partial last panel is padded
  const int kcMax = std::min(KC, k);
  static thread_local Scratch bufA, bufB;
  float* pa = bufA.get(static_cast<std::size_t>(mcMax) * kcMax);
  float* pb = bufB.get(static_cast<std::size_t>(ncMax) * kcMax);
  if (!pa || !pb) std::abort();  // out of memory for a few hundred KB: nothing sensible to do
  alignas(64) float tile[16 * 32];

  for (int jc = 0; jc < n; jc += NC) {
    const int nc = std::min(NC, n - jc);
    for (int pc = 0; pc < k; pc += KC) {
      const int kc = std::min(KC, k - pc);
      const bool accumulate = pc > 0;
      pack_b(kc, nc, b + pc * rsb + jc * csb, rsb, csb, nr, pb);
      for (int ic = 0; ic < m; ic += mcMax) {
        const int mc = std::min(mcMax, m - ic);
        pack_a(mc, kc, a + ic * rsa + pc * csa, rsa, csa, mr, pa);
        for (int jr = 0; jr < nc; jr += nr) {
          const int cols = std::min(nr, nc - jr);
          const float* bp = pb + static_cast<idx>(jr) * kc;
          for (int ir = 0; ir < mc; ir += mr) {
            const int rows = std::min(mr, mc - ir);
            const float* ap = pa + static_cast<idx>(ir) * kc;
            float* ct = c + (ic + ir) * ldc + jc + jr;
            if (rows == mr && cols == nr) {
              kr.fn(kc, ap, bp, ct, ldc, accumulate);
            } else {
              kr.fn(kc, ap, bp, tile, nr, false);
              for (int r = 0; r < rows; r++)
                for (int j = 0; j < cols; j++)
                  ct[r * ldc + j] = accumulate ? ct[r * ldc + j] + tile[r * nr + j] : tile[r * nr + j];
            }
          }
        }
      }
    }
  }
}

}  // namespace gemm
