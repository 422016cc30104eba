{
  # Node-API addon behind the `batchlab-native` TF.js backend. No system library is needed:
  # the GEMM is our own. Built for baseline x86-64 (no -march=native); the AVX2/AVX-512
  # micro-kernels are compiled per function with __attribute__((target)) and chosen at run time.
  "targets": [
    {
      "target_name": "batchlab_native",
      "sources": [
        "src/addon.cc",
        "src/threadpool.cc",
        "src/workspace.cc",
        "src/gemm.cc",
        "src/gemm_kernels.cc",
        "src/conv.cc",
        "src/pool.cc",
        "src/eltwise.cc",
        "src/train_ops.cc"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags!": ["-O2", "-O0"],
      "cflags_cc!": ["-O2", "-O0", "-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-O3", "-fexceptions", "-std=c++17", "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wno-unused-function"],
      "xcode_settings": {
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17"],
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES"
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "Optimization": 2 }
      }
    }
  ]
}
