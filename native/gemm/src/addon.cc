// Node-API surface of the GEMM. The operands live in one caller-owned buffer (for tfjs, the
// wasm backend's WebAssembly memory), addressed by byte offsets, so nothing is copied in or
// out and the addon never allocates JS memory. Every region is bounds-checked against the
// buffer before any arithmetic touches it.
#include <node_api.h>

#include <cstdint>
#include <string>

#include "gemm.h"

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
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

}  // namespace

NAPI_MODULE_INIT() { return Init(env, exports); }
