// Single-precision GEMM, row-major: C = op(A) op(B) (+ C when accumulating), with an optional
// epilogue act(C + bias[col]) applied once the full K sum is in C.
//   op(A)(i, p) = transA ? A[p * lda + i] : A[i * lda + p]     (M x K)
//   op(B)(p, j) = transB ? B[j * ldb + p] : B[p * ldb + j]     (K x N)
// Blocked BLIS-style: panels of A (MR rows) and B (NR cols) are packed into contiguous, aligned
// buffers, then an MR x NR register-tile micro-kernel (AVX-512, AVX2+FMA or portable, chosen at
// run time) streams through them. With few rows (M <= 128) an untransposed B whose N is a whole
// number of panels is read in place instead: its packing would cost more than it saves.
#pragma once

namespace bl {

enum Activation { kActNone = 0, kActRelu = 1 };

struct Gemm {
  long M = 0, N = 0, K = 0;
  const float* A = nullptr;
  long lda = 0;
  bool transA = false;
  const float* B = nullptr;
  long ldb = 0;
  bool transB = false;
  float* C = nullptr;
  long ldc = 0;
  bool accumulate = false;       // C += op(A) op(B) instead of C = ...
  const float* bias = nullptr;   // length N, added after the K sum
  int act = kActNone;
};

// One thread, using thread `tid`'s workspace. `reuse_packed_b`: the caller guarantees that B, its
// layout, K and N are identical to this thread's previous gemm_st call, so the packed copy of B
// still in the workspace is reused (im2col convolutions call this once per chunk of rows).
void gemm_st(const Gemm& g, int tid, bool reuse_packed_b = false);
// Splits the output over up to `max_threads` pool threads (no synchronisation inside).
void gemm(const Gemm& g, int max_threads);
// `batch` independent products; stride 0 broadcasts an operand.
void gemm_batched(const Gemm& g, long batch, long strideA, long strideB, long strideC, int max_threads);

// Name of the micro-kernel in use: "avx512", "avx2" or "portable".
const char* gemm_simd();
// Forces a kernel ("avx512", "avx2", "portable", or "auto"); false if the CPU lacks it.
bool gemm_set_simd(const char* name);

}  // namespace bl
