#include "gemm_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#define BL_X86 1
#ifndef BL_AVX512_MR
#define BL_AVX512_MR 8
#endif
#include <immintrin.h>
#endif

namespace bl {
namespace {

// Portable fallback: the compiler vectorises this with baseline SSE2 (x86-64) or NEON.
template <int MR, int NR>
void ukr_portable(long kc, const float* a, const float* b, long ldb, float* c, long ldc, bool add) {
  float acc[MR][NR] = {};
  for (long p = 0; p < kc; ++p) {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
    a += MR;
    b += ldb;
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) c[i * ldc + j] = add ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

#ifdef BL_X86
// AVX2 + FMA: 6 x 16 tile = 12 ymm accumulators + 2 for B + 1 broadcast (of 16 registers).
template <int MR>
__attribute__((target("avx2,fma"))) void ukr_avx2(long kc, const float* a, const float* b, long ldb, float* c,
                                                   long ldc, bool add) {
  __m256 c0[MR], c1[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) c0[i] = c1[i] = _mm256_setzero_ps();
  for (long p = 0; p < kc; ++p) {
    __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      __m256 ai = _mm256_broadcast_ss(a + i);
      c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
    }
    a += MR;
    b += ldb;
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    float* ci = c + i * ldc;
    if (add) {
      c0[i] = _mm256_add_ps(c0[i], _mm256_loadu_ps(ci));
      c1[i] = _mm256_add_ps(c1[i], _mm256_loadu_ps(ci + 8));
    }
    _mm256_storeu_ps(ci, c0[i]);
    _mm256_storeu_ps(ci + 8, c1[i]);
  }
}

// AVX-512: MR x 32 tile, 2*MR zmm accumulators; each k step loads two B vectors and broadcasts
// MR values of A straight from memory into the FMAs.
template <int MR>
__attribute__((target("avx512f,fma"))) void ukr_avx512(long kc, const float* a, const float* b, long ldb,
                                                        float* c, long ldc, bool add) {
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
  for (long p = 0; p < kc; ++p) {
    __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      __m512 ai = _mm512_set1_ps(a[i]);
      c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
    }
    a += MR;
    b += ldb;
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    float* ci = c + i * ldc;
    if (add) {
      c0[i] = _mm512_add_ps(c0[i], _mm512_loadu_ps(ci));
      c1[i] = _mm512_add_ps(c1[i], _mm512_loadu_ps(ci + 16));
    }
    _mm512_storeu_ps(ci, c0[i]);
    _mm512_storeu_ps(ci + 16, c1[i]);
  }
}

const MicroKernel kAvx512{"avx512", BL_AVX512_MR, 32, 256, 192, 4096, ukr_avx512<BL_AVX512_MR>};
const MicroKernel kAvx2{"avx2", 6, 16, 256, 192, 4096, ukr_avx2<6>};
#endif

const MicroKernel kPortable{"portable", 4, 8, 256, 192, 4096, ukr_portable<4, 8>};

}  // namespace

#ifdef BL_X86
const MicroKernel* kernel_avx512() { return &kAvx512; }
const MicroKernel* kernel_avx2() { return &kAvx2; }
bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}
bool cpu_has_avx2_fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
const MicroKernel* kernel_avx512() { return nullptr; }
const MicroKernel* kernel_avx2() { return nullptr; }
bool cpu_has_avx512() { return false; }
bool cpu_has_avx2_fma() { return false; }
#endif
const MicroKernel* kernel_portable() { return &kPortable; }

}  // namespace bl
