// Node-API bindings. Every entry point takes Float32Arrays owned by JS (TF.js tensor storage) and
// writes results into an output array the caller allocated, so no tensor data is copied.
// Argument checking is strict: a wrong type or a too-short array throws a JS error instead of
// reading out of bounds.
#include <node_api.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include "conv.h"
#include "eltwise.h"
#include "gemm.h"
#include "pool.h"
#include "threadpool.h"
#include "train_ops.h"
#include "workspace.h"

namespace {

// Kernels may run from several JS threads (workers) in one process; the pool and workspace are
// process-wide, so calls are serialised. Uncontended, this costs a few nanoseconds.
std::mutex g_call_mutex;

struct ArgError {
  std::string msg;
};

class Args {
 public:
  Args(napi_env env, napi_callback_info info, size_t expected) : env_(env) {
    argc_ = kMax;
    napi_get_cb_info(env, info, &argc_, argv_, nullptr, nullptr);
    if (argc_ < expected) throw ArgError{"expected " + std::to_string(expected) + " arguments"};
  }

  // A Float32Array with at least `min_len` elements; nullptr if null/undefined and `optional`.
  float* f32(size_t i, size_t min_len, bool optional = false) {
    napi_valuetype t;
    napi_typeof(env_, argv_[i], &t);
    if (optional && (t == napi_null || t == napi_undefined)) return nullptr;
    bool is_ta = false;
    napi_is_typedarray(env_, argv_[i], &is_ta);
    if (!is_ta) throw ArgError{"argument " + std::to_string(i) + " must be a Float32Array"};
    napi_typedarray_type type;
    size_t len;
    void* data;
    napi_get_typedarray_info(env_, argv_[i], &type, &len, &data, nullptr, nullptr);
    if (type != napi_float32_array) throw ArgError{"argument " + std::to_string(i) + " must be a Float32Array"};
    if (len < min_len)
      throw ArgError{"argument " + std::to_string(i) + " has " + std::to_string(len) + " elements, needs " +
                     std::to_string(min_len)};
    return static_cast<float*>(data);
  }

  // An Int32Array with at least `min_len` elements.
  int* i32(size_t i, size_t min_len) {
    bool is_ta = false;
    napi_is_typedarray(env_, argv_[i], &is_ta);
    napi_typedarray_type type = napi_float32_array;
    size_t len = 0;
    void* data = nullptr;
    if (is_ta) napi_get_typedarray_info(env_, argv_[i], &type, &len, &data, nullptr, nullptr);
    if (!is_ta || type != napi_int32_array) throw ArgError{"argument " + std::to_string(i) + " must be an Int32Array"};
    if (len < min_len) throw ArgError{"argument " + std::to_string(i) + " is too short"};
    return static_cast<int*>(data);
  }

  // A JS array of Float32Arrays: their data pointers and lengths.
  void f32_list(size_t i, std::vector<const float*>* ptrs, std::vector<long>* lens) {
    bool is_array = false;
    napi_is_array(env_, argv_[i], &is_array);
    if (!is_array) throw ArgError{"argument " + std::to_string(i) + " must be an array of Float32Arrays"};
    uint32_t n = 0;
    napi_get_array_length(env_, argv_[i], &n);
    for (uint32_t k = 0; k < n; ++k) {
      napi_value el;
      napi_get_element(env_, argv_[i], k, &el);
      bool is_ta = false;
      napi_is_typedarray(env_, el, &is_ta);
      napi_typedarray_type type = napi_int32_array;
      size_t len = 0;
      void* data = nullptr;
      if (is_ta) napi_get_typedarray_info(env_, el, &type, &len, &data, nullptr, nullptr);
      if (!is_ta || type != napi_float32_array) throw ArgError{"argument " + std::to_string(i) + " must be an array of Float32Arrays"};
      ptrs->push_back(static_cast<const float*>(data));
      lens->push_back(static_cast<long>(len));
    }
  }

  long i64(size_t i) {
    int64_t v = 0;
    if (napi_get_value_int64(env_, argv_[i], &v) != napi_ok) throw ArgError{"argument " + std::to_string(i) + " must be a number"};
    return static_cast<long>(v);
  }
  long dim(size_t i) {
    long v = i64(i);
    if (v < 0) throw ArgError{"argument " + std::to_string(i) + " must be >= 0"};
    return v;
  }
  double f64(size_t i) {
    double v = 0;
    if (napi_get_value_double(env_, argv_[i], &v) != napi_ok) throw ArgError{"argument " + std::to_string(i) + " must be a number"};
    return v;
  }
  bool boolean(size_t i) {
    bool v = false;
    if (napi_get_value_bool(env_, argv_[i], &v) != napi_ok) throw ArgError{"argument " + std::to_string(i) + " must be a boolean"};
    return v;
  }
  std::string str(size_t i) {
    char buf[64];
    size_t len = 0;
    if (napi_get_value_string_utf8(env_, argv_[i], buf, sizeof buf, &len) != napi_ok)
      throw ArgError{"argument " + std::to_string(i) + " must be a string"};
    return std::string(buf, len);
  }
  size_t count() const { return argc_; }

 private:
  static constexpr size_t kMax = 24;
  napi_env env_;
  size_t argc_;
  napi_value argv_[kMax];
};

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

napi_value number(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

// Runs `body` under the call lock and converts C++ failures into JS exceptions.
template <class F>
napi_value guarded(napi_env env, F&& body) {
  try {
    std::lock_guard<std::mutex> lock(g_call_mutex);
    return body();
  } catch (const ArgError& e) {
    napi_throw_type_error(env, nullptr, e.msg.c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, e.what());
  }
  return nullptr;
}

// matmul(a, b, c, batch, M, N, K, transA, transB, strideA, strideB, bias|null, act)
// a: batchA x (M x K or K x M), b: likewise, c: batch x M x N; strideX = 0 broadcasts X.
napi_value Matmul(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 13);
    const long batch = a.dim(3), M = a.dim(4), N = a.dim(5), K = a.dim(6);
    const bool ta = a.boolean(7), tb = a.boolean(8);
    const long sa = a.dim(9), sb = a.dim(10);
    bl::Gemm g;
    g.M = M, g.N = N, g.K = K, g.transA = ta, g.transB = tb;
    const long la = (batch > 0 ? (batch - 1) * sa : 0) + M * K, lb = (batch > 0 ? (batch - 1) * sb : 0) + K * N;
    g.A = a.f32(0, static_cast<size_t>(la));
    g.B = a.f32(1, static_cast<size_t>(lb));
    g.C = a.f32(2, static_cast<size_t>(batch * M * N));
    g.lda = ta ? M : K;
    g.ldb = tb ? K : N;
    g.ldc = N;
    g.bias = a.f32(11, static_cast<size_t>(N), true);
    g.act = static_cast<int>(a.i64(12));
    bl::gemm_batched(g, batch, sa, sb, M * N, bl::pool_threads());
    return undefined(env);
  });
}

// Reads N,H,W,C,KH,KW,CO,SH,SW,DH,DW,PT,PL,OH,OW starting at argument `i`.
bl::ConvParams conv_params(Args& a, size_t i) {
  bl::ConvParams p;
  long* f[] = {&p.N, &p.H, &p.W, &p.C, &p.KH, &p.KW, &p.CO, &p.SH, &p.SW, &p.DH, &p.DW, &p.PT, &p.PL, &p.OH, &p.OW};
  for (size_t k = 0; k < 15; ++k) *f[k] = a.i64(i + k);
  if (p.N < 0 || p.H < 0 || p.W < 0 || p.C < 0 || p.KH < 1 || p.KW < 1 || p.CO < 0 || p.SH < 1 || p.SW < 1 ||
      p.DH < 1 || p.DW < 1 || p.OH < 0 || p.OW < 0)
    throw ArgError{"invalid convolution parameters"};
  // Every output window must start inside the padded input, or im2col would read out of bounds.
  return p;
}

size_t x_len(const bl::ConvParams& p) { return static_cast<size_t>(p.N * p.H * p.W * p.C); }
size_t y_len(const bl::ConvParams& p) { return static_cast<size_t>(p.N * p.OH * p.OW * p.CO); }
size_t w_len(const bl::ConvParams& p) { return static_cast<size_t>(p.KH * p.KW * p.C * p.CO); }

// conv2d(x, w, y, bias|null, act, ...params)
napi_value Conv2d(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 20);
    bl::ConvParams p = conv_params(a, 5);
    bl::conv2d(a.f32(0, x_len(p)), a.f32(1, w_len(p)), a.f32(2, y_len(p)), p, a.f32(3, p.CO, true),
               static_cast<int>(a.i64(4)));
    return undefined(env);
  });
}

// conv2dBackpropInput(dy, w, dx, ...params)
napi_value Conv2dBackpropInput(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 18);
    bl::ConvParams p = conv_params(a, 3);
    bl::conv2d_backprop_input(a.f32(0, y_len(p)), a.f32(1, w_len(p)), a.f32(2, x_len(p)), p);
    return undefined(env);
  });
}

// conv2dBackpropFilter(x, dy, dw, ...params)
napi_value Conv2dBackpropFilter(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 18);
    bl::ConvParams p = conv_params(a, 3);
    bl::conv2d_backprop_filter(a.f32(0, x_len(p)), a.f32(1, y_len(p)), a.f32(2, w_len(p)), p);
    return undefined(env);
  });
}

// Reads N,H,W,C,KH,KW,SH,SW,PT,PL,OH,OW starting at argument `i`.
bl::PoolParams pool_params(Args& a, size_t i) {
  bl::PoolParams p;
  long* f[] = {&p.N, &p.H, &p.W, &p.C, &p.KH, &p.KW, &p.SH, &p.SW, &p.PT, &p.PL, &p.OH, &p.OW};
  for (size_t k = 0; k < 12; ++k) *f[k] = a.i64(i + k);
  if (p.N < 0 || p.H < 0 || p.W < 0 || p.C < 0 || p.KH < 1 || p.KW < 1 || p.SH < 1 || p.SW < 1 || p.OH < 0 ||
      p.OW < 0)
    throw ArgError{"invalid pooling parameters"};
  return p;
}

// maxPool(x, y, ...params)
napi_value MaxPool(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 14);
    bl::PoolParams p = pool_params(a, 2);
    bl::max_pool(a.f32(0, p.N * p.H * p.W * p.C), a.f32(1, p.N * p.OH * p.OW * p.C), p);
    return undefined(env);
  });
}

// maxPoolGrad(dy, x, dx, ...params)
napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 15);
    bl::PoolParams p = pool_params(a, 3);
    const size_t nx = p.N * p.H * p.W * p.C;
    bl::max_pool_grad(a.f32(0, p.N * p.OH * p.OW * p.C), a.f32(1, nx), a.f32(2, nx), p);
    return undefined(env);
  });
}

// binary(op, mode, a, b, out, n, inner)
napi_value Binary(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 7);
    const int op = static_cast<int>(a.i64(0)), mode = static_cast<int>(a.i64(1));
    const long n = a.dim(5), inner = a.dim(6);
    if (op < bl::kAdd || op > bl::kMul || mode < bl::kSame || mode > bl::kRowB) throw ArgError{"bad op or mode"};
    if ((mode == bl::kRowA || mode == bl::kRowB) && (inner == 0 || n % inner != 0)) throw ArgError{"bad row broadcast"};
    const size_t la = mode == bl::kScalarA ? 1 : mode == bl::kRowA ? inner : n;
    const size_t lb = mode == bl::kScalarB ? 1 : mode == bl::kRowB ? inner : n;
    bl::binary(op, mode, a.f32(2, la), a.f32(3, lb), a.f32(4, n), n, inner);
    return undefined(env);
  });
}

// unary(op, x, out, n, alpha)
napi_value Unary(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 5);
    const long n = a.dim(3);
    bl::unary(static_cast<int>(a.i64(0)), a.f32(1, n), a.f32(2, n), n, static_cast<float>(a.f64(4)));
    return undefined(env);
  });
}

// reluGrad(dy, x, out, n)
napi_value ReluGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 4);
    const long n = a.dim(3);
    bl::relu_grad(a.f32(0, n), a.f32(1, n), a.f32(2, n), n);
    return undefined(env);
  });
}

// reduceSum(x, out, outer, inner, overOuter)
napi_value ReduceSum(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 5);
    const long outer = a.dim(2), inner = a.dim(3);
    const bool over_outer = a.boolean(4);
    bl::reduce_sum(a.f32(0, outer * inner), a.f32(1, over_outer ? inner : outer), outer, inner, over_outer);
    return undefined(env);
  });
}

// sumSquares([x0, x1, ...]): sum of squares of every element of every array, as a double.
napi_value SumSquares(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 1);
    std::vector<const float*> ptrs;
    std::vector<long> lens;
    a.f32_list(0, &ptrs, &lens);
    return number(env, bl::sum_squares(ptrs.data(), lens.data(), static_cast<int>(ptrs.size())));
  });
}

// sgdUpdate(w, g, wOut, n, lr)
napi_value SgdUpdate(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 5);
    const long n = a.dim(3);
    bl::sgd_update(a.f32(0, n), a.f32(1, n), a.f32(2, n), n, static_cast<float>(a.f64(4)));
    return undefined(env);
  });
}

// momentumUpdate(w, buf, g, wOut, bufOut, n, lr, mu)
napi_value MomentumUpdate(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 8);
    const long n = a.dim(5);
    bl::momentum_update(a.f32(0, n), a.f32(1, n), a.f32(2, n), a.f32(3, n), a.f32(4, n), n,
                        static_cast<float>(a.f64(6)), static_cast<float>(a.f64(7)));
    return undefined(env);
  });
}

// adamUpdate(w, m, v, g, wOut, mOut, vOut, n, lr, beta1, beta2, c1, c2, eps)
napi_value AdamUpdate(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 14);
    const long n = a.dim(7);
    const double b1 = a.f64(9), b2 = a.f64(10);
    // The TF.js chain multiplies by scalar tensors, i.e. by these constants rounded to fp32.
    const bl::AdamConsts k{static_cast<float>(a.f64(8)), static_cast<float>(b1), static_cast<float>(1 - b1),
                           static_cast<float>(b2), static_cast<float>(1 - b2), static_cast<float>(a.f64(11)),
                           static_cast<float>(a.f64(12)), static_cast<float>(a.f64(13))};
    bl::adam_update(a.f32(0, n), a.f32(1, n), a.f32(2, n), a.f32(3, n), a.f32(4, n), a.f32(5, n), a.f32(6, n), n, k);
    return undefined(env);
  });
}

// gatherRows(src, srcRows, idx, count, rowSize, out): -1, or the position of the first bad index (nothing copied).
napi_value GatherRows(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 6);
    const long src_rows = a.dim(1), count = a.dim(3), row_size = a.dim(4);
    return number(env, static_cast<double>(bl::gather_rows(a.f32(0, src_rows * row_size), src_rows, a.i32(2, count), count,
                                                            row_size, a.f32(5, count * row_size))));
  });
}

// softmaxXent(logits, labels, probs, rows, classes): fills probs, returns the mean loss.
napi_value SoftmaxXent(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 5);
    const long rows = a.dim(3), classes = a.dim(4);
    const double loss = bl::softmax_xent(a.f32(0, rows * classes), a.i32(1, rows), a.f32(2, rows * classes), rows, classes);
    return number(env, loss);
  });
}

// softmaxXentGrad(probs, labels, dy, dlogits, rows, classes)
napi_value SoftmaxXentGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 6);
    const long rows = a.dim(4), classes = a.dim(5);
    bl::softmax_xent_grad(a.f32(0, rows * classes), a.i32(1, rows), static_cast<float>(a.f64(2)),
                          a.f32(3, rows * classes), rows, classes);
    return undefined(env);
  });
}

napi_value Info(napi_env env, napi_callback_info) {
  return guarded(env, [&] {
    napi_value obj, simd;
    napi_create_object(env, &obj);
    napi_create_string_utf8(env, bl::gemm_simd(), NAPI_AUTO_LENGTH, &simd);
    napi_set_named_property(env, obj, "simd", simd);
    napi_set_named_property(env, obj, "threads", number(env, bl::pool_threads()));
    return obj;
  });
}

// setThreads(n): n <= 0 restores the default (BATCHLAB_THREADS or hardware threads).
napi_value SetThreads(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 1);
    bl::pool_set_threads(static_cast<int>(a.i64(0)));
    return number(env, bl::pool_threads());
  });
}

// setSimd(name): "avx512" | "avx2" | "portable" | "auto"; returns false if unsupported here.
napi_value SetSimd(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, 1);
    napi_value r;
    napi_get_boolean(env, bl::gemm_set_simd(a.str(0).c_str()), &r);
    return r;
  });
}

napi_value MemoryBytes(napi_env env, napi_callback_info) {
  return guarded(env, [&] { return number(env, static_cast<double>(bl::workspace_bytes())); });
}

// Frees the GEMM scratch and gives the heap's free memory back to the system (malloc_trim also
// releases free pages inside the heap, not only at its top): tune_malloc keeps freed blocks in the heap
// for speed, so without this a process's resident size stays at its largest run's (lab/run/worker.ts
// resets VmHWM between runs and needs the next run to start from what is really in use).
napi_value ReleaseScratch(napi_env env, napi_callback_info) {
  return guarded(env, [&] {
    bl::workspace_release();
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
    return undefined(env);
  });
}

// TF.js allocates a fresh Float32Array for every kernel output; V8 gets them from calloc, and
// glibc serves big blocks by mmap and unmaps them on free, so every large activation costs one
// page fault per 4 KiB when first written (measured: 3.5x slower CNN steps at B = 256). Keeping
// freed memory in the heap instead makes reuse cost a memset. Opt out: BATCHLAB_NATIVE_MALLOC=default.
void tune_malloc() {
#if defined(__GLIBC__)
  const char* mode = std::getenv("BATCHLAB_NATIVE_MALLOC");
  if (mode && !std::strcmp(mode, "default")) return;
  mallopt(M_MMAP_MAX, 0);                  // never mmap: big blocks come from (and return to) the heap
  mallopt(M_TRIM_THRESHOLD, 1 << 30);      // keep up to 1 GiB of freed top-of-heap memory
  mallopt(M_TOP_PAD, 64 << 20);            // grow the heap in 64 MiB steps
#endif
}

napi_value Init(napi_env env, napi_value exports) {
  tune_malloc();
  // Honour BATCHLAB_SIMD at load time so a forced kernel needs no code change.
  if (const char* s = std::getenv("BATCHLAB_SIMD")) bl::gemm_set_simd(s);
  const napi_property_descriptor props[] = {
      {"matmul", nullptr, Matmul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2d", nullptr, Conv2d, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropInput", nullptr, Conv2dBackpropInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropFilter", nullptr, Conv2dBackpropFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPool", nullptr, MaxPool, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolGrad", nullptr, MaxPoolGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binary", nullptr, Binary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unary", nullptr, Unary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reduceSum", nullptr, ReduceSum, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumSquares", nullptr, SumSquares, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sgdUpdate", nullptr, SgdUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"momentumUpdate", nullptr, MomentumUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamUpdate", nullptr, AdamUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reluGrad", nullptr, ReluGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gatherRows", nullptr, GatherRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmaxXent", nullptr, SoftmaxXent, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmaxXentGrad", nullptr, SoftmaxXentGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setSimd", nullptr, SetSimd, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"memoryBytes", nullptr, MemoryBytes, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"releaseScratch", nullptr, ReleaseScratch, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
