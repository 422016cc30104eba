#include "eltwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "threadpool.h"
#include "workspace.h"

namespace bl {
namespace {

constexpr long kParallelElements = 1L << 16;

long tasks_for(long n) { return n < kParallelElements ? 1 : std::min<long>(4L * pool_threads(), n / (kParallelElements / 2)); }

// f(begin, end) over [0, n), in a few tasks when n is large.
template <class F>
void for_range(long n, F&& f) {
  const long tasks = tasks_for(n);
  parallel_tasks(tasks, [&](long task, int) {
    long b, e;
    split_range(n, tasks, task, &b, &e);
    if (b < e) f(b, e);
  });
}

template <int OP>
inline float apply(float a, float b) {
  if (OP == kAdd) return a + b;
  if (OP == kSub) return a - b;
  return a * b;
}

template <int OP>
void binary_op(int mode, const float* a, const float* b, float* out, long n, long inner) {
  switch (mode) {
    case kSame:
      return for_range(n, [&](long s, long e) {
        for (long i = s; i < e; ++i) out[i] = apply<OP>(a[i], b[i]);
      });
    case kScalarA: {
      const float av = a[0];
      return for_range(n, [&](long s, long e) {
        for (long i = s; i < e; ++i) out[i] = apply<OP>(av, b[i]);
      });
    }
    case kScalarB: {
      const float bv = b[0];
      return for_range(n, [&](long s, long e) {
        for (long i = s; i < e; ++i) out[i] = apply<OP>(a[i], bv);
      });
    }
    case kRowA:
    case kRowB: {
      const long rows = inner > 0 ? n / inner : 0;
      return for_range(rows * inner, [&](long s, long e) {
        // Work in whole rows where possible so the inner loop has no modulo.
        for (long r = s / inner; r * inner < e; ++r) {
          const long j0 = std::max(s - r * inner, 0L), j1 = std::min(e - r * inner, inner);
          float* o = out + r * inner;
          if (mode == kRowB) {
            const float* ar = a + r * inner;
            for (long j = j0; j < j1; ++j) o[j] = apply<OP>(ar[j], b[j]);
          } else {
            const float* br = b + r * inner;
            for (long j = j0; j < j1; ++j) o[j] = apply<OP>(a[j], br[j]);
          }
        }
      });
    }
  }
}

// Step (the relu derivative): 1 where x > 0, NaN where x is NaN, else alpha. A plain function: the
// same loop written inside the for_range lambda was not vectorized ("control flow in loop") and, on
// random signs, ran 540 us vs relu's 20 us at 1024 x 256.
void step_range(const float* x, float* out, long s, long e, float alpha) {
  for (long i = s; i < e; ++i) {
    const float v = x[i];
    out[i] = v > 0.f ? 1.f : (v != v ? v : alpha);
  }
}

// dy * step(x) as the cpu backend computes it (Step then Multiply): the product, so -0, inf and NaN
// in dy come out as they would there.
void relu_grad_range(const float* __restrict dy, const float* __restrict x, float* __restrict out, long s, long e) {
  for (long i = s; i < e; ++i) {
    const float v = x[i];
    out[i] = dy[i] * (v > 0.f ? 1.f : (v != v ? v : 0.f));
  }
}

}  // namespace

void relu_grad(const float* dy, const float* x, float* out, long n) {
  for_range(n, [&](long s, long e) { relu_grad_range(dy, x, out, s, e); });
}

void binary(int op, int mode, const float* a, const float* b, float* out, long n, long inner) {
  if (op == kAdd) binary_op<kAdd>(mode, a, b, out, n, inner);
  else if (op == kSub) binary_op<kSub>(mode, a, b, out, n, inner);
  else binary_op<kMul>(mode, a, b, out, n, inner);
}

void unary(int op, const float* x, float* out, long n, float alpha) {
  if (op == kRelu) {
    // Math.max(0, x) semantics of tfjs-cpu: NaN stays NaN, -0 becomes +0.
    for_range(n, [&](long s, long e) {
      for (long i = s; i < e; ++i) out[i] = x[i] > 0.f ? x[i] : (x[i] != x[i] ? x[i] : 0.f);
    });
  } else {
    for_range(n, [&](long s, long e) { step_range(x, out, s, e, alpha); });
  }
}

void reduce_sum(const float* x, float* out, long outer, long inner, bool over_outer) {
  if (!over_outer) {
    for_range(outer, [&](long s, long e) {
      for (long r = s; r < e; ++r) {
        const float* xr = x + r * inner;
        float acc = 0.f;
        for (long j = 0; j < inner; ++j) acc += xr[j];
        out[r] = acc;
      }
    });
    return;
  }
  // Column sums: the rows are cut into `groups` slabs, each summed into its own partial row, and the
  // partials are added in slab order. A slab belongs to a group index, not to whichever thread runs
  // it, so the summation order (and every bit of the result) is the same from run to run.
  const long groups = std::min<long>({tasks_for(outer * inner), std::max(1L, outer), static_cast<long>(kMaxThreads)});
  float* acc[kMaxThreads] = {};
  std::memset(out, 0, sizeof(float) * inner);
  parallel_tasks(groups, [&](long g, int) {
    long s, e;
    split_range(outer, groups, g, &s, &e);
    float* a = g == 0 ? out : workspace(kAcc, static_cast<int>(g), static_cast<size_t>(inner));
    if (g != 0) std::memset(a, 0, sizeof(float) * inner);
    acc[g] = a;
    for (long r = s; r < e; ++r) {
      const float* xr = x + r * inner;
      for (long j = 0; j < inner; ++j) a[j] += xr[j];
    }
  });
  for (long g = 1; g < groups; ++g)
    for (long j = 0; j < inner; ++j) out[j] += acc[g][j];
}

long gather_rows(const float* src, long src_rows, const int* idx, long count, long row_size, float* out) {
  for (long i = 0; i < count; ++i) {
    if (idx[i] < 0 || idx[i] >= src_rows) return i;
  }
  // Split by elements copied, so a few long rows still use every thread.
  for_range(count * row_size, [&](long s, long e) {
    for (long r = s / row_size; r * row_size < e; ++r) {
      const long j0 = std::max(s - r * row_size, 0L), j1 = std::min(e - r * row_size, row_size);
      std::memcpy(out + r * row_size + j0, src + static_cast<long>(idx[r]) * row_size + j0, sizeof(float) * (j1 - j0));
    }
  });
  return -1;
}

}  // namespace bl
