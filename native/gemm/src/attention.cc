// Fused causal self-attention, forward and backward, on heads kept in place.
//
// The queries, keys and values of head h are column slices of one row-major matrix (GPT-2's
// fused c_attn output (B·T, 3C), or Llama's separate projections): element (t, j) of Q_h is
// q[t·rs + h·d + j]. Every product below is an sgemm on those strided views, so no head is ever
// split out or merged back by a copy. The causal mask is used, not computed: query rows are
// taken in blocks of RB, and block [i0, i1) only multiplies keys [0, i1), so about half of
// every T×T product (the masked upper triangle) is never done. An optional additive bias
// (B, T, T) (the tree mask of rows that pack several completions of one prompt) is added on
// top of the causal mask; it never unmasks anything above the diagonal.
#include "attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "gemm.h"

namespace gemm {
namespace {

constexpr int RB = 48;  // query rows per block: a multiple of every micro-kernel's MR (4, 6, 12)

std::vector<float>& scratch(std::size_t floats) {
  static thread_local std::vector<float> s;
  if (s.size() < floats) s.resize(floats);
  return s;
}

/** The grouped-query head that serves query head h. */
inline int kvHead(const AttnShape& s, int h) { return h / (s.heads / s.kvHeads); }

}  // namespace

void causal_attention_forward(const AttnShape& s, const float* q, const float* k, const float* v, const float* bias, float* out,
                              float* probs) {
  const int T = s.T, d = s.headDim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (int b = 0; b < s.B; b++) {
    for (int h = 0; h < s.heads; h++) {
      const int g = kvHead(s, h);
      const float* qb = q + static_cast<idx>(b) * T * s.qStride + h * d;
      const float* kb = k + static_cast<idx>(b) * T * s.kvStride + g * d;
      const float* vb = v + static_cast<idx>(b) * T * s.kvStride + g * d;
      float* ob = out + static_cast<idx>(b) * T * s.outStride + h * d;
      float* P = probs + (static_cast<idx>(b) * s.heads + h) * T * T;  // (T, T), row i valid on [0, i]
      const float* bb = bias ? bias + static_cast<idx>(b) * T * T : nullptr;
      for (int i0 = 0; i0 < T; i0 += RB) {
        const int i1 = std::min(T, i0 + RB), rows = i1 - i0;
        // S[i0:i1, 0:i1] = Q[i0:i1] · K[0:i1]ᵀ
        sgemm(rows, i1, d, qb + static_cast<idx>(i0) * s.qStride, s.qStride, 1, kb, 1, s.kvStride, P + static_cast<idx>(i0) * T, T);
        for (int i = i0; i < i1; i++) {
          float* p = P + static_cast<idx>(i) * T;
          const float* br = bb ? bb + static_cast<idx>(i) * T : nullptr;
          float mx = -INFINITY;
          for (int j = 0; j <= i; j++) {
            p[j] = p[j] * scale + (br ? br[j] : 0.f);
            mx = std::max(mx, p[j]);
          }
          float sum = 0.f;
          for (int j = 0; j <= i; j++) {
            p[j] = std::exp(p[j] - mx);
            sum += p[j];
          }
          const float inv = 1.f / sum;
          for (int j = 0; j <= i; j++) p[j] *= inv;
          std::memset(p + i + 1, 0, sizeof(float) * (T - i - 1));  // masked: exactly zero
        }
        // O[i0:i1] = P[i0:i1, 0:i1] · V[0:i1], written into the head's columns of out
        sgemm(rows, d, i1, P + static_cast<idx>(i0) * T, T, 1, vb, s.kvStride, 1, ob + static_cast<idx>(i0) * s.outStride, s.outStride);
      }
    }
  }
}

void causal_attention_backward(const AttnShape& s, const float* q, const float* k, const float* v, const float* probs,
                               const float* dout, float* dq, float* dk, float* dv) {
  const int T = s.T, d = s.headDim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const int rep = s.heads / s.kvHeads;
  std::vector<float>& buf = scratch(static_cast<std::size_t>(T) * T + static_cast<std::size_t>(T) * d * 2);
  float* dS = buf.data();                                   // (T, T)
  float* dKh = dS + static_cast<idx>(T) * T;                // (T, d): one query head's share of dK
  float* dVh = dKh + static_cast<idx>(T) * d;               // (T, d)
  for (int b = 0; b < s.B; b++) {
    for (int g = 0; g < s.kvHeads; g++) {
      const float* kb = k + static_cast<idx>(b) * T * s.kvStride + g * d;
      const float* vb = v + static_cast<idx>(b) * T * s.kvStride + g * d;
      float* dkb = dk + static_cast<idx>(b) * T * s.dkvStride + g * d;
      float* dvb = dv + static_cast<idx>(b) * T * s.dkvStride + g * d;
      for (int r = 0; r < rep; r++) {
        const int h = g * rep + r;
        const float* qb = q + static_cast<idx>(b) * T * s.qStride + h * d;
        const float* dob = dout + static_cast<idx>(b) * T * s.outStride + h * d;
        float* dqb = dq + static_cast<idx>(b) * T * s.dqStride + h * d;
        const float* P = probs + (static_cast<idx>(b) * s.heads + h) * T * T;
        for (int i0 = 0; i0 < T; i0 += RB) {
          const int i1 = std::min(T, i0 + RB), rows = i1 - i0;
          float* dSb = dS + static_cast<idx>(i0) * T;
          // dP[i0:i1, 0:i1] = dO[i0:i1] · V[0:i1]ᵀ
          sgemm(rows, i1, d, dob + static_cast<idx>(i0) * s.outStride, s.outStride, 1, vb, 1, s.kvStride, dSb, T);
          // softmax backward, times the score scale: dS = scale · P ⊙ (dP − Σ_j dP ⊙ P)
          for (int i = i0; i < i1; i++) {
            float* ds = dS + static_cast<idx>(i) * T;
            const float* p = P + static_cast<idx>(i) * T;
            float dot = 0.f;
            for (int j = 0; j <= i; j++) dot += ds[j] * p[j];
            for (int j = 0; j <= i; j++) ds[j] = scale * p[j] * (ds[j] - dot);
            std::memset(ds + i + 1, 0, sizeof(float) * (T - i - 1));
          }
          // dQ[i0:i1] = dS[i0:i1, 0:i1] · K[0:i1]
          sgemm(rows, d, i1, dSb, T, 1, kb, s.kvStride, 1, dqb + static_cast<idx>(i0) * s.dqStride, s.dqStride);
        }
        // key block [j0, j1) is seen by query rows [j0, T) only:
        //   dK[j0:j1] = dS[j0:T, j0:j1]ᵀ · Q[j0:T],  dV[j0:j1] = P[j0:T, j0:j1]ᵀ · dO[j0:T]
        for (int j0 = 0; j0 < T; j0 += RB) {
          const int j1 = std::min(T, j0 + RB), cols = j1 - j0, rows = T - j0;
          float* dKdst = r == 0 ? dkb + static_cast<idx>(j0) * s.dkvStride : dKh;
          float* dVdst = r == 0 ? dvb + static_cast<idx>(j0) * s.dkvStride : dVh;
          const idx ld = r == 0 ? s.dkvStride : d;
          sgemm(cols, d, rows, dS + static_cast<idx>(j0) * T + j0, 1, T, qb + static_cast<idx>(j0) * s.qStride, s.qStride, 1, dKdst, ld);
          sgemm(cols, d, rows, P + static_cast<idx>(j0) * T + j0, 1, T, dob + static_cast<idx>(j0) * s.outStride, s.outStride, 1, dVdst,
                ld);
          if (r > 0)  // later heads of a group add their share to the shared key/value head
            for (int j = 0; j < cols; j++) {
              float* dkr = dkb + static_cast<idx>(j0 + j) * s.dkvStride;
              float* dvr = dvb + static_cast<idx>(j0 + j) * s.dkvStride;
              for (int e = 0; e < d; e++) {
                dkr[e] += dKh[j * d + e];
                dvr[e] += dVh[j * d + e];
              }
            }
        }
      }
    }
  }
}

}  // namespace gemm
