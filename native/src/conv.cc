#include "conv.h"

#include <algorithm>
#include <cstring>

#include "gemm.h"
#include "threadpool.h"
#include "workspace.h"

namespace bl {
namespace {

long patch_size(const ConvParams& p) { return p.KH * p.KW * p.C; }

// Rows of im2col per chunk: about 256 KiB of columns, so the chunk is still in L2 when packed.
long chunk_rows(const ConvParams& p) {
  long rows = 65536 / std::max(1L, patch_size(p));
  return std::clamp(rows, 64L, 4096L) / 8 * 8;
}

// Below this, splitting a convolution into tasks costs more than it saves.
bool tiny(double flops) { return flops < 5e5; }

long ceil_div(long a, long b) { return (a + b - 1) / b; }

// Writes the patches of output pixels [r0, r1) (flat over n, oh, ow) as rows of `col`.
void im2col(const float* x, const ConvParams& p, long r0, long r1, float* col) {
  const long K = patch_size(p), rowc = p.KW * p.C;
  for (long r = r0; r < r1; ++r, col += K) {
    const long n = r / (p.OH * p.OW), oh = (r / p.OW) % p.OH, ow = r % p.OW;
    const long ih0 = oh * p.SH - p.PT, iw0 = ow * p.SW - p.PL;
    float* dst = col;
    for (long kh = 0; kh < p.KH; ++kh, dst += rowc) {
      const long ih = ih0 + kh * p.DH;
      if (ih < 0 || ih >= p.H) {
        std::memset(dst, 0, sizeof(float) * rowc);
        continue;
      }
      const float* src = x + ((n * p.H + ih) * p.W) * p.C;
      if (p.DW == 1 && iw0 >= 0 && iw0 + p.KW <= p.W) {
        std::memcpy(dst, src + iw0 * p.C, sizeof(float) * rowc);  // whole filter row in bounds
        continue;
      }
      for (long kw = 0; kw < p.KW; ++kw) {
        const long iw = iw0 + kw * p.DW;
        if (iw < 0 || iw >= p.W) std::memset(dst + kw * p.C, 0, sizeof(float) * p.C);
        else std::memcpy(dst + kw * p.C, src + iw * p.C, sizeof(float) * p.C);
      }
    }
  }
}

// Adds the patch-gradient rows of output pixels [r0, r1) back into dx (the adjoint of im2col).
void col2im_add(const float* col, const ConvParams& p, long r0, long r1, float* dx) {
  const long K = patch_size(p);
  for (long r = r0; r < r1; ++r, col += K) {
    const long n = r / (p.OH * p.OW), oh = (r / p.OW) % p.OH, ow = r % p.OW;
    const long ih0 = oh * p.SH - p.PT, iw0 = ow * p.SW - p.PL;
    const float* src = col;
    for (long kh = 0; kh < p.KH; ++kh) {
      const long ih = ih0 + kh * p.DH;
      if (ih < 0 || ih >= p.H) {
        src += p.KW * p.C;
        continue;
      }
      float* row = dx + ((n * p.H + ih) * p.W) * p.C;
      for (long kw = 0; kw < p.KW; ++kw, src += p.C) {
        const long iw = iw0 + kw * p.DW;
        if (iw < 0 || iw >= p.W) continue;
        float* d = row + iw * p.C;
        for (long c = 0; c < p.C; ++c) d[c] += src[c];
      }
    }
  }
}

bool is_pointwise(const ConvParams& p) {
  return p.KH == 1 && p.KW == 1 && p.SH == 1 && p.SW == 1 && p.PT == 0 && p.PL == 0 && p.OH == p.H && p.OW == p.W;
}

}  // namespace

void conv2d(const float* x, const float* w, float* y, const ConvParams& p, const float* bias, int act) {
  const long R = p.N * p.OH * p.OW, K = patch_size(p);
  if (R == 0 || p.CO == 0) return;
  Gemm g;
  g.N = p.CO, g.K = K, g.B = w, g.ldb = p.CO, g.ldc = p.CO, g.bias = bias, g.act = act;
  if (is_pointwise(p)) {  // 1x1 convolution: the input already is the column matrix
    g.M = R, g.A = x, g.lda = p.C, g.C = y;
    return gemm(g, pool_threads());
  }
  const long chunk = chunk_rows(p), tasks = ceil_div(R, chunk);
  bool packed[kMaxThreads] = {};  // whether thread t already holds the packed filter
  float* cols[kMaxThreads] = {};
  parallel_tasks(tiny(2.0 * R * K * p.CO) ? 1 : tasks, [&](long task, int tid) {
    const long r0 = tiny(2.0 * R * K * p.CO) ? 0 : task * chunk;
    const long r1 = tiny(2.0 * R * K * p.CO) ? R : std::min(R, r0 + chunk);
    if (!cols[tid]) cols[tid] = workspace(kCol, tid, static_cast<size_t>(std::min(chunk, R) * K));
    for (long r = r0; r < r1; r += chunk) {
      const long rows = std::min(chunk, r1 - r);
      im2col(x, p, r, r + rows, cols[tid]);
      Gemm s = g;
      s.M = rows, s.A = cols[tid], s.lda = K, s.C = y + r * p.CO;
      gemm_st(s, tid, packed[tid]);  // the filter is packed once per thread, then reused
      packed[tid] = true;
    }
  });
}

void conv2d_backprop_input(const float* dy, const float* w, float* dx, const ConvParams& p) {
  const long K = patch_size(p), per_image = p.OH * p.OW;
  std::memset(dx, 0, sizeof(float) * p.N * p.H * p.W * p.C);
  if (per_image == 0 || K == 0) return;
  Gemm g;  // dcol[rows, K] = dy[rows, CO] * w^T  (w is [K, CO])
  g.N = K, g.K = p.CO, g.B = w, g.ldb = p.CO, g.transB = true, g.lda = p.CO, g.ldc = K;
  if (is_pointwise(p)) {
    g.M = p.N * per_image, g.A = dy, g.C = dx;
    return gemm(g, pool_threads());
  }
  const long chunk = chunk_rows(p);
  // Tasks own whole images: patches of neighbouring pixels overlap in dx, images never do.
  const long tasks = tiny(2.0 * p.N * per_image * K * p.CO) ? 1 : std::min(p.N, 4L * pool_threads());
  bool packed[kMaxThreads] = {};
  float* cols[kMaxThreads] = {};
  parallel_tasks(tasks, [&](long task, int tid) {
    long n0, n1;
    split_range(p.N, tasks, task, &n0, &n1);
    const long r0 = n0 * per_image, r1 = n1 * per_image;
    if (!cols[tid]) cols[tid] = workspace(kCol, tid, static_cast<size_t>(std::min(chunk, p.N * per_image) * K));
    for (long r = r0; r < r1; r += chunk) {
      const long rows = std::min(chunk, r1 - r);
      Gemm s = g;
      s.M = rows, s.A = dy + r * p.CO, s.C = cols[tid];
      gemm_st(s, tid, packed[tid]);
      packed[tid] = true;
      col2im_add(cols[tid], p, r, r + rows, dx);
    }
  });
}

void conv2d_backprop_filter(const float* x, const float* dy, float* dw, const ConvParams& p) {
  const long R = p.N * p.OH * p.OW, K = patch_size(p), size = K * p.CO;
  std::memset(dw, 0, sizeof(float) * size);
  if (R == 0) return;
  const long chunk = chunk_rows(p), tasks = tiny(2.0 * R * K * p.CO) ? 1 : ceil_div(R, chunk);
  // The row chunks are dealt to `groups` fixed groups of consecutive chunks; each group sums into its own
  // partial dw (group 0: dw itself) and the partials are added in group order. A chunk belongs to a
  // group, not to whichever thread claims it, so the result is bitwise the same from run to run.
  const long groups = std::min<long>({tasks, static_cast<long>(pool_threads()), static_cast<long>(kMaxThreads)});
  float* acc[kMaxThreads] = {};
  parallel_tasks(groups, [&](long g, int tid) {
    long t0, t1;
    split_range(tasks, groups, g, &t0, &t1);
    float* a = g == 0 ? dw : workspace(kAcc, static_cast<int>(g), static_cast<size_t>(size));
    if (g != 0) std::memset(a, 0, sizeof(float) * size);
    acc[g] = a;
    float* col = workspace(kCol, tid, static_cast<size_t>(std::min(chunk, R) * K));
    const long r0 = tasks == 1 ? 0 : t0 * chunk, r1 = tasks == 1 ? R : std::min(R, t1 * chunk);
    for (long r = r0; r < r1; r += chunk) {
      const long rows = std::min(chunk, r1 - r);
      im2col(x, p, r, r + rows, col);
      Gemm s;  // acc[K, CO] += col^T[K, rows] * dy[rows, CO]
      s.M = K, s.N = p.CO, s.K = rows;
      s.A = col, s.lda = K, s.transA = true;
      s.B = dy + r * p.CO, s.ldb = p.CO;
      s.C = a, s.ldc = p.CO, s.accumulate = true;
      gemm_st(s, tid);
    }
  });
  for (long g = 1; g < groups; ++g)
    for (long i = 0; i < size; ++i) dw[i] += acc[g][i];
}

}  // namespace bl
