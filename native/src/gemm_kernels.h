// Register-tile micro-kernels: c[MR x NR] (=|+=) sum_p a[p*MR + i] * b[p*ldb + j] over kc steps,
// `a` a packed panel, `b` a packed panel (ldb = NR) or NR columns of an unpacked row-major B (ldb its
// row stride). c has row stride ldc.
#pragma once

namespace bl {

using MicroKernelFn = void (*)(long kc, const float* a, const float* b, long ldb, float* c, long ldc, bool add);

struct MicroKernel {
  const char* name;
  int mr, nr;          // register tile
  int kc, mc, nc;      // cache blocking: kc x nr panel of B in L1, mc x kc block of A in L2
  MicroKernelFn fn;
};

const MicroKernel* kernel_avx512();   // nullptr when not compiled for this architecture
const MicroKernel* kernel_avx2();
const MicroKernel* kernel_portable();
bool cpu_has_avx512();
bool cpu_has_avx2_fma();

}  // namespace bl
