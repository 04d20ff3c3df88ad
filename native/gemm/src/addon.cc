// Node-API surface of the GEMM. The operands live in one caller-owned buffer (for tfjs, the
// wasm backend's WebAssembly memory), addressed by byte offsets, so nothing is copied in or
// out and the addon never allocates JS memory. Every region is bounds-checked against the
// buffer before any arithmetic touches it.
#include <node_api.h>

#include <cstdint>
#include <string>

#include "attention.h"
#include "gemm.h"
#include "pointwise.h"

namespace {

#define CHECK_NAPI(env, call)                                      \
  do {                                                             \
    if ((call) != napi_ok) {                                       \
      napi_throw_error((env), nullptr, "Node-API call failed: " #call); \
      return nullptr;                                              \
    }                                                              \
  } while (0)

napi_value throw_range(napi_env env, const std::string& msg) {
  napi_throw_range_error(env, nullptr, msg.c_str());
  return nullptr;
}

bool get_bytes(napi_env env, napi_value v, uint8_t** data, size_t* length) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t count = 0, offset = 0;
    napi_value ab;
    void* p = nullptr;
    if (napi_get_typedarray_info(env, v, &type, &count, &p, &ab, &offset) != napi_ok) return false;
    size_t elem = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: elem = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
      default: elem = 1;
    }
    *data = static_cast<uint8_t*>(p);
    *length = count * elem;
    return true;
  }
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    void* p = nullptr;
    if (napi_get_arraybuffer_info(env, v, &p, length) != napi_ok) return false;
    *data = static_cast<uint8_t*>(p);
    return true;
  }
  return false;
}

/**
 * batchMatMul(heap, aByteOffset, bByteOffset, cByteOffset, batch, m, n, k, transposeA,
 *             transposeB, aBatchStride, bBatchStride)
 *
 * For every b < batch: C_b = op(A_b) · op(B_b), C_b row-major (m, n) at cByteOffset + b·m·n·4.
 * A_b is (m, k) row-major, or (k, m) when transposeA; it starts aBatchStride floats after
 * A_{b-1} (0 broadcasts one matrix over the batch). Likewise B_b, (k, n) or (n, k).
 */
napi_value BatchMatMul(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc != 12) return throw_range(env, "batchMatMul expects 12 arguments, got " + std::to_string(argc));
  uint8_t* heap = nullptr;
  size_t heapBytes = 0;
  if (!get_bytes(env, argv[0], &heap, &heapBytes)) {
    napi_throw_type_error(env, nullptr, "batchMatMul: the first argument must be an ArrayBuffer or a typed array");
    return nullptr;
  }
  int64_t v[11];
  for (int i = 0; i < 11; i++) {
    napi_valuetype t;
    CHECK_NAPI(env, napi_typeof(env, argv[i + 1], &t));
    if (t == napi_boolean) {
      bool bv = false;
      CHECK_NAPI(env, napi_get_value_bool(env, argv[i + 1], &bv));
      v[i] = bv ? 1 : 0;
    } else if (t == napi_number) {
      CHECK_NAPI(env, napi_get_value_int64(env, argv[i + 1], &v[i]));
    } else {
      napi_throw_type_error(env, nullptr, ("batchMatMul: argument " + std::to_string(i + 2) + " must be a number").c_str());
      return nullptr;
    }
    if (v[i] < 0) return throw_range(env, "batchMatMul: argument " + std::to_string(i + 2) + " is negative");
  }
  const int64_t aOff = v[0], bOff = v[1], cOff = v[2], batch = v[3], m = v[4], n = v[5], k = v[6];
  const bool ta = v[7] != 0, tb = v[8] != 0;
  const int64_t aStride = v[9], bStride = v[10];
  const int64_t kMaxDim = int64_t(1) << 30;
  if (m >= kMaxDim || n >= kMaxDim || k >= kMaxDim || batch >= kMaxDim) return throw_range(env, "batchMatMul: dimension too large");
  if (aOff % 4 || bOff % 4 || cOff % 4) return throw_range(env, "batchMatMul: offsets must be multiples of 4 bytes");
  if (batch == 0 || m == 0 || n == 0) return nullptr;
  // last byte touched by each operand, checked before any work
  auto fits = [&](int64_t off, int64_t stride, int64_t elems) {
    const int64_t end = off + ((batch - 1) * stride + elems) * 4;
    return end >= off && static_cast<uint64_t>(end) <= heapBytes;
  };
  if (!fits(aOff, aStride, m * k)) return throw_range(env, "batchMatMul: A lies outside the buffer");
  if (!fits(bOff, bStride, k * n)) return throw_range(env, "batchMatMul: B lies outside the buffer");
  if (!fits(cOff, m * n, m * n)) return throw_range(env, "batchMatMul: C lies outside the buffer");

  const float* a = reinterpret_cast<const float*>(heap + aOff);
  const float* b = reinterpret_cast<const float*>(heap + bOff);
  float* c = reinterpret_cast<float*>(heap + cOff);
  const gemm::idx rsa = ta ? 1 : k, csa = ta ? m : 1;
  const gemm::idx rsb = tb ? 1 : n, csb = tb ? k : 1;
  for (int64_t i = 0; i < batch; i++)
    gemm::sgemm(int(m), int(n), int(k), a + i * aStride, rsa, csa, b + i * bStride, rsb, csb, c + i * m * n, n);
  return nullptr;
}

/** Reads argv[first..first+n) as non-negative integers (booleans as 0/1); -1 is allowed where
 *  `minusOneOk` (an absent optional operand). Throws and returns false otherwise. */
bool get_ints(napi_env env, const char* fn, napi_value* argv, int first, int n, int64_t* out, int64_t minusOneOk = -1) {
  for (int i = 0; i < n; i++) {
    napi_valuetype t;
    if (napi_typeof(env, argv[first + i], &t) != napi_ok || t != napi_number) {
      napi_throw_type_error(env, nullptr, (std::string(fn) + ": argument " + std::to_string(first + i + 1) + " must be a number").c_str());
      return false;
    }
    if (napi_get_value_int64(env, argv[first + i], &out[i]) != napi_ok) return false;
    if (out[i] < 0 && !(i == minusOneOk && out[i] == -1)) {
      napi_throw_range_error(env, nullptr, (std::string(fn) + ": argument " + std::to_string(first + i + 1) + " is negative").c_str());
      return false;
    }
  }
  return true;
}

/** A (rows × width) matrix at byte offset `off` with row stride `stride` floats lies inside the heap. */
bool matrix_fits(int64_t off, int64_t rows, int64_t stride, int64_t width, size_t heapBytes) {
  if (off % 4 || width > stride) return false;
  const int64_t end = off + ((rows - 1) * stride + width) * 4;
  return end >= off && static_cast<uint64_t>(end) <= heapBytes;
}

/**
 * attentionForward(heap, B, T, heads, kvHeads, headDim, qOff, qStride, kOff, vOff, kvStride,
 *                  biasOff (-1: none), outOff, outStride, probsOff)
 * Byte offsets into heap; strides in floats. See attention.h.
 */
napi_value AttentionForward(napi_env env, napi_callback_info info) {
  constexpr int N = 15;
  size_t argc = N;
  napi_value argv[N];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc != N) return throw_range(env, "attentionForward expects 15 arguments, got " + std::to_string(argc));
  uint8_t* heap = nullptr;
  size_t bytes = 0;
  if (!get_bytes(env, argv[0], &heap, &bytes)) {
    napi_throw_type_error(env, nullptr, "attentionForward: the first argument must be an ArrayBuffer or a typed array");
    return nullptr;
  }
  int64_t v[N - 1];
  if (!get_ints(env, "attentionForward", argv, 1, N - 1, v, 10)) return nullptr;
  const int64_t B = v[0], T = v[1], H = v[2], KV = v[3], d = v[4];
  const int64_t qOff = v[5], qs = v[6], kOff = v[7], vOff = v[8], kvs = v[9], biasOff = v[10], oOff = v[11], os = v[12], pOff = v[13];
  const int64_t lim = int64_t(1) << 24;
  if (B < 1 || T < 1 || H < 1 || KV < 1 || d < 1 || B >= lim || T >= lim || H >= lim || d >= lim || H % KV)
    return throw_range(env, "attentionForward: bad shape (need B, T, heads, kvHeads, headDim >= 1 and heads a multiple of kvHeads)");
  const int64_t rows = B * T;
  if (!matrix_fits(qOff, rows, qs, H * d, bytes)) return throw_range(env, "attentionForward: q lies outside the buffer");
  if (!matrix_fits(kOff, rows, kvs, KV * d, bytes)) return throw_range(env, "attentionForward: k lies outside the buffer");
  if (!matrix_fits(vOff, rows, kvs, KV * d, bytes)) return throw_range(env, "attentionForward: v lies outside the buffer");
  if (!matrix_fits(oOff, rows, os, H * d, bytes)) return throw_range(env, "attentionForward: out lies outside the buffer");
  if (!matrix_fits(pOff, B * H * T, T, T, bytes)) return throw_range(env, "attentionForward: probs lies outside the buffer");
  if (biasOff >= 0 && !matrix_fits(biasOff, B * T, T, T, bytes)) return throw_range(env, "attentionForward: bias lies outside the buffer");
  const gemm::AttnShape s{int(B), int(T), int(H), int(KV), int(d), qs, kvs, os, 0, 0};
  auto f = [&](int64_t off) { return reinterpret_cast<float*>(heap + off); };
  gemm::causal_attention_forward(s, f(qOff), f(kOff), f(vOff), biasOff >= 0 ? f(biasOff) : nullptr, f(oOff), f(pOff));
  return nullptr;
}

/**
 * attentionBackward(heap, B, T, heads, kvHeads, headDim, qOff, qStride, kOff, vOff, kvStride,
 *                   probsOff, doutOff, doutStride, dqOff, dqStride, dkOff, dvOff, dkvStride)
 */
napi_value AttentionBackward(napi_env env, napi_callback_info info) {
  constexpr int N = 19;
  size_t argc = N;
  napi_value argv[N];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc != N) return throw_range(env, "attentionBackward expects 19 arguments, got " + std::to_string(argc));
  uint8_t* heap = nullptr;
  size_t bytes = 0;
  if (!get_bytes(env, argv[0], &heap, &bytes)) {
    napi_throw_type_error(env, nullptr, "attentionBackward: the first argument must be an ArrayBuffer or a typed array");
    return nullptr;
  }
  int64_t v[N - 1];
  if (!get_ints(env, "attentionBackward", argv, 1, N - 1, v)) return nullptr;
  const int64_t B = v[0], T = v[1], H = v[2], KV = v[3], d = v[4];
  const int64_t qOff = v[5], qs = v[6], kOff = v[7], vOff = v[8], kvs = v[9], pOff = v[10], doOff = v[11], dos = v[12];
  const int64_t dqOff = v[13], dqs = v[14], dkOff = v[15], dvOff = v[16], dkvs = v[17];
  const int64_t lim = int64_t(1) << 24;
  if (B < 1 || T < 1 || H < 1 || KV < 1 || d < 1 || B >= lim || T >= lim || H >= lim || d >= lim || H % KV)
    return throw_range(env, "attentionBackward: bad shape (need B, T, heads, kvHeads, headDim >= 1 and heads a multiple of kvHeads)");
  const int64_t rows = B * T;
  if (!matrix_fits(qOff, rows, qs, H * d, bytes)) return throw_range(env, "attentionBackward: q lies outside the buffer");
  if (!matrix_fits(kOff, rows, kvs, KV * d, bytes)) return throw_range(env, "attentionBackward: k lies outside the buffer");
  if (!matrix_fits(vOff, rows, kvs, KV * d, bytes)) return throw_range(env, "attentionBackward: v lies outside the buffer");
  if (!matrix_fits(pOff, B * H * T, T, T, bytes)) return throw_range(env, "attentionBackward: probs lies outside the buffer");
  if (!matrix_fits(doOff, rows, dos, H * d, bytes)) return throw_range(env, "attentionBackward: dout lies outside the buffer");
  if (!matrix_fits(dqOff, rows, dqs, H * d, bytes)) return throw_range(env, "attentionBackward: dq lies outside the buffer");
  if (!matrix_fits(dkOff, rows, dkvs, KV * d, bytes)) return throw_range(env, "attentionBackward: dk lies outside the buffer");
  if (!matrix_fits(dvOff, rows, dkvs, KV * d, bytes)) return throw_range(env, "attentionBackward: dv lies outside the buffer");
  const gemm::AttnShape s{int(B), int(T), int(H), int(KV), int(d), qs, kvs, dos, dqs, dkvs};
  auto f = [&](int64_t off) { return reinterpret_cast<float*>(heap + off); };
  gemm::causal_attention_backward(s, f(qOff), f(kOff), f(vOff), f(pOff), f(doOff), f(dqOff), f(dkOff), f(dvOff));
  return nullptr;
}

/** gelu(heap, uOff, gOff, n) and geluBackward(heap, dgOff, uOff, duOff, n): byte offsets, n floats. */
napi_value GeluImpl(napi_env env, napi_callback_info info, bool backward) {
  const char* name = backward ? "geluBackward" : "gelu";
  const int N = backward ? 5 : 4;
  size_t argc = 5;
  napi_value argv[5];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (int(argc) != N) return throw_range(env, std::string(name) + " expects " + std::to_string(N) + " arguments, got " + std::to_string(argc));
  uint8_t* heap = nullptr;
  size_t bytes = 0;
  if (!get_bytes(env, argv[0], &heap, &bytes)) {
    napi_throw_type_error(env, nullptr, (std::string(name) + ": the first argument must be an ArrayBuffer or a typed array").c_str());
    return nullptr;
  }
  int64_t v[4];
  if (!get_ints(env, name, argv, 1, N - 1, v)) return nullptr;
  const int64_t n = v[N - 2];
  for (int i = 0; i < N - 2; i++)
    if (!matrix_fits(v[i], 1, n, n, bytes) && n > 0) return throw_range(env, std::string(name) + ": an operand lies outside the buffer");
  if (n == 0) return nullptr;
  auto f = [&](int64_t off) { return reinterpret_cast<float*>(heap + off); };
  if (backward)
    gemm::gelu_backward(f(v[0]), f(v[1]), f(v[2]), size_t(n));
  else
    gemm::gelu_forward(f(v[0]), f(v[1]), size_t(n));
  return nullptr;
}
napi_value Gelu(napi_env env, napi_callback_info info) { return GeluImpl(env, info, false); }
napi_value GeluBackward(napi_env env, napi_callback_info info) { return GeluImpl(env, info, true); }

/** layerNorm(heap, xOff, gOff, bOff, yOff, xhatOff, rstdOff, rows, cols, eps) */
napi_value LayerNorm(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc != 10) return throw_range(env, "layerNorm expects 10 arguments, got " + std::to_string(argc));
  uint8_t* heap = nullptr;
  size_t bytes = 0;
  if (!get_bytes(env, argv[0], &heap, &bytes)) {
    napi_throw_type_error(env, nullptr, "layerNorm: the first argument must be an ArrayBuffer or a typed array");
    return nullptr;
  }
  int64_t v[8];
  if (!get_ints(env, "layerNorm", argv, 1, 8, v)) return nullptr;
  double eps = 0;
  if (napi_get_value_double(env, argv[9], &eps) != napi_ok || !(eps >= 0)) return throw_range(env, "layerNorm: eps must be a number >= 0");
  const int64_t rows = v[6], cols = v[7];
  if (rows < 1 || cols < 1) return throw_range(env, "layerNorm: rows and cols must be >= 1");
  const bool ok = matrix_fits(v[0], rows, cols, cols, bytes) && matrix_fits(v[1], 1, cols, cols, bytes) && matrix_fits(v[2], 1, cols, cols, bytes) &&
                  matrix_fits(v[3], rows, cols, cols, bytes) && matrix_fits(v[4], rows, cols, cols, bytes) && matrix_fits(v[5], 1, rows, rows, bytes);
  if (!ok) return throw_range(env, "layerNorm: an operand lies outside the buffer");
  auto f = [&](int64_t off) { return reinterpret_cast<float*>(heap + off); };
  gemm::layernorm_forward(f(v[0]), f(v[1]), f(v[2]), f(v[3]), f(v[4]), f(v[5]), size_t(rows), size_t(cols), float(eps));
  return nullptr;
}

/** layerNormBackward(heap, dyOff, xhatOff, rstdOff, gOff, dxOff, dgOff, dbOff, rows, cols) */
napi_value LayerNormBackward(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc != 10) return throw_range(env, "layerNormBackward expects 10 arguments, got " + std::to_string(argc));
  uint8_t* heap = nullptr;
  size_t bytes = 0;
  if (!get_bytes(env, argv[0], &heap, &bytes)) {
    napi_throw_type_error(env, nullptr, "layerNormBackward: the first argument must be an ArrayBuffer or a typed array");
    return nullptr;
  }
  int64_t v[9];
  if (!get_ints(env, "layerNormBackward", argv, 1, 9, v)) return nullptr;
  const int64_t rows = v[7], cols = v[8];
  if (rows < 1 || cols < 1) return throw_range(env, "layerNormBackward: rows and cols must be >= 1");
  const bool ok = matrix_fits(v[0], rows, cols, cols, bytes) && matrix_fits(v[1], rows, cols, cols, bytes) && matrix_fits(v[2], 1, rows, rows, bytes) &&
                  matrix_fits(v[3], 1, cols, cols, bytes) && matrix_fits(v[4], rows, cols, cols, bytes) && matrix_fits(v[5], 1, cols, cols, bytes) &&
                  matrix_fits(v[6], 1, cols, cols, bytes);
  if (!ok) return throw_range(env, "layerNormBackward: an operand lies outside the buffer");
  auto f = [&](int64_t off) { return reinterpret_cast<float*>(heap + off); };
  gemm::layernorm_backward(f(v[0]), f(v[1]), f(v[2]), f(v[3]), f(v[4]), f(v[5]), f(v[6]), size_t(rows), size_t(cols));
  return nullptr;
}

napi_value Kernel(napi_env env, napi_callback_info) {
  napi_value s;
  CHECK_NAPI(env, napi_create_string_utf8(env, gemm::current_kernel(), NAPI_AUTO_LENGTH, &s));
  return s;
}

napi_value Kernels(napi_env env, napi_callback_info) {
  int count = 0;
  const char* const* names = gemm::available_kernels(&count);
  napi_value arr;
  CHECK_NAPI(env, napi_create_array_with_length(env, count, &arr));
  for (int i = 0; i < count; i++) {
    napi_value s;
    CHECK_NAPI(env, napi_create_string_utf8(env, names[i], NAPI_AUTO_LENGTH, &s));
    CHECK_NAPI(env, napi_set_element(env, arr, i, s));
  }
  return arr;
}

napi_value SetKernel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  char name[32] = {0};
  size_t len = 0;
  if (argc != 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, nullptr, "setKernel expects a kernel name");
    return nullptr;
  }
  if (!gemm::select_kernel(name)) return throw_range(env, std::string("setKernel: \"") + name + "\" is not available on this CPU");
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"batchMatMul", nullptr, BatchMatMul, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"kernel", nullptr, Kernel, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"kernels", nullptr, Kernels, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"setKernel", nullptr, SetKernel, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"attentionForward", nullptr, AttentionForward, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"attentionBackward", nullptr, AttentionBackward, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"gelu", nullptr, Gelu, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"geluBackward", nullptr, GeluBackward, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"layerNorm", nullptr, LayerNorm, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"layerNormBackward", nullptr, LayerNormBackward, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

}  // namespace

NAPI_MODULE_INIT() { return Init(env, exports); }
