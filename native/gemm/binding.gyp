{
  "targets": [
    {
      "target_name": "gemm",
      "sources": ["src/gemm.cc", "src/attention.cc", "src/pointwise.cc", "src/addon.cc"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-math-errno"],
      "cflags_cc!": ["-fno-rtti"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
