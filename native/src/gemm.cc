#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "gemm_kernels.h"
#include "threadpool.h"
#include "workspace.h"

#ifndef BL_DIRECT_B_MAX_ROWS
#define BL_DIRECT_B_MAX_ROWS 128
#endif

namespace bl {
namespace {

const MicroKernel* best_kernel() {
  if (cpu_has_avx512() && kernel_avx512()) return kernel_avx512();
  if (cpu_has_avx2_fma() && kernel_avx2()) return kernel_avx2();
  return kernel_portable();
}

std::atomic<const MicroKernel*> g_kernel{nullptr};

const MicroKernel& kernel() {
  const MicroKernel* k = g_kernel.load(std::memory_order_acquire);
  if (!k) {
    k = best_kernel();
    g_kernel.store(k, std::memory_order_release);
  }
  return *k;
}

inline long ceil_div(long a, long b) { return (a + b - 1) / b; }
inline long round_up(long a, long b) { return ceil_div(a, b) * b; }

// Splits `total` into blocks of at most `cap`, all nearly the same size (multiple of `align`),
// so that no block is a sliver (a K of 784 gives 4 x 196 rather than 3 x 256 + 16).
long balanced_block(long total, long cap, long align) {
  long blocks = ceil_div(total, cap);
  return std::min(cap, round_up(ceil_div(total, blocks), align));
}

// Below this many rows of C, an untransposed B is read in place instead of packed. Each packed B
// panel serves ceil(M / MR) register tiles; with few of them, packing (a read and a write of all of B)
// costs more than the strided reads it saves: the MLP's forward pass at B = 64 packs its 784 x 256
// weights for 64 rows.
constexpr long kDirectBMaxRows = BL_DIRECT_B_MAX_ROWS;

// Whether B can be read in place: untransposed, and N a whole number of NR-column panels (so no panel
// reads past the last column).
bool use_direct_b(const Gemm& g, int NR) { return !g.transB && g.N % NR == 0 && g.M <= kDirectBMaxRows; }

// Packs rows [i0, i0+mc) x cols [p0, p0+kc) of op(A) as MR-row panels: dst[p*MR + i], zero-padded.
void pack_a(const Gemm& g, long i0, long mc, long p0, long kc, int MR, float* dst) {
  for (long ir = 0; ir < mc; ir += MR, dst += MR * kc) {
    const long mr = std::min<long>(MR, mc - ir);
    if (g.transA) {
      const float* src = g.A + p0 * g.lda + i0 + ir;
      for (long p = 0; p < kc; ++p, src += g.lda) {
        float* d = dst + p * MR;
        long i = 0;
        for (; i < mr; ++i) d[i] = src[i];
        for (; i < MR; ++i) d[i] = 0.f;
      }
    } else if (mr == MR && MR == 8) {
      // Eight rows read in lockstep; each k step writes one contiguous group of 8.
      const float* r[8];
      for (int i = 0; i < 8; ++i) r[i] = g.A + (i0 + ir + i) * g.lda + p0;
      for (long p = 0; p < kc; ++p)
        for (int i = 0; i < 8; ++i) dst[p * 8 + i] = r[i][p];
    } else {
      for (long i = 0; i < MR; ++i) {
        if (i < mr) {
          const float* src = g.A + (i0 + ir + i) * g.lda + p0;
          for (long p = 0; p < kc; ++p) dst[p * MR + i] = src[p];
        } else {
          for (long p = 0; p < kc; ++p) dst[p * MR + i] = 0.f;
        }
      }
    }
  }
}

// Packs rows [p0, p0+kc) x cols [j0, j0+nc) of op(B) as NR-column panels: dst[p*NR + j], zero-padded.
void pack_b(const Gemm& g, long p0, long kc, long j0, long nc, int NR, float* dst) {
  for (long jr = 0; jr < nc; jr += NR, dst += NR * kc) {
    const long nr = std::min<long>(NR, nc - jr);
    if (!g.transB) {
      const float* src = g.B + p0 * g.ldb + j0 + jr;
      for (long p = 0; p < kc; ++p, src += g.ldb) {
        float* d = dst + p * NR;
        if (nr == NR) {
          std::memcpy(d, src, sizeof(float) * NR);
        } else {
          long j = 0;
          for (; j < nr; ++j) d[j] = src[j];
          for (; j < NR; ++j) d[j] = 0.f;
        }
      }
    } else {
      for (long j = 0; j < NR; ++j) {
        if (j < nr) {
          const float* src = g.B + (j0 + jr + j) * g.ldb + p0;
          for (long p = 0; p < kc; ++p) dst[p * NR + j] = src[p];
        } else {
          for (long p = 0; p < kc; ++p) dst[p * NR + j] = 0.f;
        }
      }
    }
  }
}

void epilogue(float* c, long ldc, long mr, long nr, const float* bias, int act) {
  for (long i = 0; i < mr; ++i) {
    float* ci = c + i * ldc;
    if (bias)
      for (long j = 0; j < nr; ++j) ci[j] += bias[j];
    if (act == kActRelu)
      for (long j = 0; j < nr; ++j) ci[j] = ci[j] > 0.f ? ci[j] : 0.f;
  }
}

// K == 0: the product is zero; only the (optional) accumulate and epilogue remain.
void gemm_empty_k(const Gemm& g) {
  for (long i = 0; i < g.M; ++i) {
    float* ci = g.C + i * g.ldc;
    if (!g.accumulate) std::memset(ci, 0, sizeof(float) * g.N);
  }
  if (g.bias || g.act) epilogue(g.C, g.ldc, g.M, g.N, g.bias, g.act);
}

}  // namespace

const char* gemm_simd() { return kernel().name; }

bool gemm_set_simd(const char* name) {
  const MicroKernel* k = nullptr;
  if (!std::strcmp(name, "auto")) k = best_kernel();
  else if (!std::strcmp(name, "avx512") && cpu_has_avx512()) k = kernel_avx512();
  else if (!std::strcmp(name, "avx2") && cpu_has_avx2_fma()) k = kernel_avx2();
  else if (!std::strcmp(name, "portable")) k = kernel_portable();
  if (!k) return false;
  g_kernel.store(k, std::memory_order_release);
  return true;
}

namespace {

// Packs all of op(B), block by block ([jc][pc] panels: block (jc, pc) at pb + jc*K + pc*nc_pad,
// NR-column panel jr of it at + jr*kc), restricted to the NR panels [q0, q1) of the whole of op(B).
void pack_b_all(const Gemm& g, long KC, long NC, int NR, long q0, long q1, float* pb) {
  for (long jc = 0; jc < g.N; jc += NC) {
    const long nc = std::min(NC, g.N - jc), nc_pad = round_up(nc, NR);
    // Panels of this block that fall in [q0, q1), as column offsets within the block.
    const long a = std::max(q0 * NR, jc) - jc, b = std::min(q1 * NR, jc + nc) - jc;
    if (a >= b) continue;
    for (long pc = 0; pc < g.K; pc += KC) {
      const long kc = std::min(KC, g.K - pc);
      pack_b(g, pc, kc, jc + a, b - a, NR, pb + jc * g.K + pc * nc_pad + a * kc);
    }
  }
}

// C rows [r0, r1) x columns [c0, c1) (c0 a multiple of NR) from the packed op(B) `pb` laid out by
// pack_b_all over the whole problem. The K sum of every element runs in the same order (the same
// KC blocks, one after another) whatever the rectangle, so results do not depend on the split.
void gemm_packed(const Gemm& g, const float* pb, long r0, long r1, long c0, long c1, int tid, bool direct_b = false) {
  const MicroKernel& k = kernel();
  const int MR = k.mr, NR = k.nr;
  const long KC = balanced_block(g.K, k.kc, 8);
  const long MC = balanced_block(r1 - r0, k.mc, MR);
  const long NC = k.nc;
  float* pa = workspace(kPackA, tid, static_cast<size_t>(MC * KC));
  alignas(64) float tile[16 * 64];

  for (long jc = 0; jc < g.N; jc += NC) {
    const long nc = std::min(NC, g.N - jc), nc_pad = round_up(nc, NR);
    const long ja = std::max(c0, jc) - jc, jb = std::min(c1, jc + nc) - jc;
    if (ja >= jb) continue;
    for (long pc = 0; pc < g.K; pc += KC) {
      const long kc = std::min(KC, g.K - pc);
      const bool add = g.accumulate || pc > 0;
      const bool last = pc + kc == g.K;
      const float* pbk = direct_b ? nullptr : pb + jc * g.K + pc * nc_pad;
      for (long ic = r0; ic < r1; ic += MC) {
        const long mc = std::min(MC, r1 - ic);
        pack_a(g, ic, mc, pc, kc, MR, pa);
        for (long jr = ja; jr < jb; jr += NR) {
          const long nr = std::min<long>(NR, jb - jr);
          // Direct: NR columns of B itself, row stride ldb (use_direct_b guarantees whole panels).
          const float* bp = direct_b ? g.B + pc * g.ldb + jc + jr : pbk + jr * kc;
          const long ldbp = direct_b ? g.ldb : NR;
          for (long ir = 0; ir < mc; ir += MR) {
            const long mr = std::min<long>(MR, mc - ir);
            const float* ap = pa + ir * kc;
            float* cp = g.C + (ic + ir) * g.ldc + jc + jr;
            if (mr == MR && nr == NR) {
              k.fn(kc, ap, bp, ldbp, cp, g.ldc, add);
            } else {
              // Edge tile: compute the full tile into a scratch tile, copy the valid part.
              k.fn(kc, ap, bp, ldbp, tile, NR, false);
              for (long i = 0; i < mr; ++i)
                for (long j = 0; j < nr; ++j)
                  cp[i * g.ldc + j] = add ? cp[i * g.ldc + j] + tile[i * NR + j] : tile[i * NR + j];
            }
            if (last && (g.bias || g.act))
              epilogue(cp, g.ldc, mr, nr, g.bias ? g.bias + jc + jr : nullptr, g.act);
          }
        }
      }
    }
  }
}

}  // namespace

void gemm_st(const Gemm& g, int tid, bool reuse_packed_b) {
  if (g.M <= 0 || g.N <= 0) return;
  if (g.K <= 0) return gemm_empty_k(g);
  const MicroKernel& k = kernel();
  const long KC = balanced_block(g.K, k.kc, 8);
  if (use_direct_b(g, k.nr)) return gemm_packed(g, nullptr, 0, g.M, 0, g.N, tid, true);
  const long n_pad = round_up(g.N, k.nr);
  // All of op(B) is packed up front, so a caller can reuse it.
  float* pb = workspace(kPackB, tid, static_cast<size_t>(g.K * n_pad));
  if (!reuse_packed_b) pack_b_all(g, KC, k.nc, k.nr, 0, ceil_div(g.N, k.nr), pb);
  gemm_packed(g, pb, 0, g.M, 0, g.N, tid);
}

namespace {

// Sub-problem of rows [r0, r1) and columns [c0, c1) of C.
Gemm sub_gemm(const Gemm& g, long r0, long r1, long c0, long c1) {
  Gemm s = g;
  s.M = r1 - r0;
  s.N = c1 - c0;
  s.A = g.transA ? g.A + r0 : g.A + r0 * g.lda;
  s.B = g.transB ? g.B + c0 * g.ldb : g.B + c0;
  s.C = g.C + r0 * g.ldc + c0;
  if (g.bias) s.bias = g.bias + c0;
  return s;
}

// Below this many FLOPs a fork/join costs more than it saves.
constexpr double kMinParallelFlops = 2.5e5;

}  // namespace

void gemm(const Gemm& g, int max_threads) {
  const MicroKernel& k = kernel();
  const double flops = 2.0 * g.M * g.N * g.K;
  int T = std::min(max_threads, pool_threads());
  if (flops < kMinParallelFlops) T = 1;
  const long mp = ceil_div(g.M, k.mr), np = ceil_div(g.N, k.nr);
  // Two tasks per thread for big products, so that a thread whose core is busy elsewhere
  // delays the call by at most a small task (tasks are claimed dynamically).
  long Q = std::min<long>(static_cast<long>(T) * (flops > 8e6 ? 2 : 1), mp * np);
  if (T <= 1 || Q <= 1) return gemm_st(g, 0);

  // Each task gets an independent rectangle of C (tM x tN grid), and either packs the columns of
  // op(B) it needs itself (redundantly when tM > 1; cheap when K is small) or, `shared`, op(B) is
  // packed once into a shared buffer by all threads first (a second fork/join). Pick the grid and
  // mode minimising one thread's compute plus its packing; packing a float costs about as much as
  // 32 multiply-adds, a fork/join about as much as packing 16k floats.
  const double tasks_per_thread = static_cast<double>(ceil_div(Q, T));
  const double pack_b_share = static_cast<double>(np * k.nr) * g.K / T + 16384.0;
  long best_tm = 0;
  bool shared = false;
  double best_cost = 1e300;
  for (long tm = 1; tm <= Q; ++tm) {
    if (Q % tm) continue;
    const long tn = Q / tm;
    if (tm > mp || tn > np) continue;
    const double rows = ceil_div(mp, tm) * k.mr, cols = ceil_div(np, tn) * k.nr;
    const double task = rows * cols * g.K / 32.0 + rows * g.K;
    const double own = tasks_per_thread * (task + cols * g.K);
    if (own < best_cost) best_cost = own, best_tm = tm, shared = false;
    const double with_shared = tasks_per_thread * task + pack_b_share;
    if (tm > 1 && with_shared < best_cost) best_cost = with_shared, best_tm = tm, shared = true;
  }
  if (best_tm == 0) return gemm_st(g, 0);
  const long tm = best_tm, tn = Q / tm;
  // Task q computes the rectangle (row block q % tm, column block q / tm) of the tm x tn grid.
  auto on_grid = [&](auto&& rect) {
    parallel_tasks(Q, [&](long task, int tid) {
      long pr0, pr1, pc0, pc1;
      split_range(mp, tm, task % tm, &pr0, &pr1);
      split_range(np, tn, task / tm, &pc0, &pc1);
      const long r0 = pr0 * k.mr, r1 = std::min(g.M, pr1 * k.mr);
      const long c0 = pc0 * k.nr, c1 = std::min(g.N, pc1 * k.nr);
      if (r0 < r1 && c0 < c1) rect(r0, r1, c0, c1, tid);
    });
  };
  if (use_direct_b(g, k.nr)) {
    // B is read in place: no packing, so no shared copy either (the grid above still balances the work).
    return on_grid([&](long r0, long r1, long c0, long c1, int tid) { gemm_packed(g, nullptr, r0, r1, c0, c1, tid, true); });
  }
  if (!shared) return on_grid([&](long r0, long r1, long c0, long c1, int tid) { gemm_st(sub_gemm(g, r0, r1, c0, c1), tid); });
  const long KC = balanced_block(g.K, k.kc, 8);
  float* pb = workspace(kPackBShared, 0, static_cast<size_t>(g.K * np * k.nr));
  parallel_tasks(T, [&](long part, int) {
    long q0, q1;
    split_range(np, T, part, &q0, &q1);
    pack_b_all(g, KC, k.nc, k.nr, q0, q1, pb);
  });
  on_grid([&](long r0, long r1, long c0, long c1, int tid) { gemm_packed(g, pb, r0, r1, c0, c1, tid); });
}

void gemm_batched(const Gemm& g, long batch, long strideA, long strideB, long strideC, int max_threads) {
  auto item = [&](long b) {
    Gemm s = g;
    s.A = g.A + b * strideA;
    s.B = g.B + b * strideB;
    s.C = g.C + b * strideC;
    return s;
  };
  const int T = std::min(max_threads, pool_threads());
  if (batch >= 2 * T || (batch >= T && 2.0 * g.M * g.N * g.K < 4 * kMinParallelFlops)) {
    parallel_tasks(batch, [&](long b, int tid) { gemm_st(item(b), tid); });
  } else {
    for (long b = 0; b < batch; ++b) gemm(item(b), max_threads);
  }
}

}  // namespace bl
