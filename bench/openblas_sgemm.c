/* Times OpenBLAS cblas_sgemm (row-major) for bench/gemm.ts.
 * Usage: openblas_sgemm M N K transA transB  -> prints median GFLOP/s over 7 windows.
 * Threads come from OPENBLAS_NUM_THREADS (set by the caller). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  if (argc < 6) return 2;
  int M = atoi(argv[1]), N = atoi(argv[2]), K = atoi(argv[3]), ta = atoi(argv[4]), tb = atoi(argv[5]);
  float* A = malloc(sizeof(float) * M * K);
  float* B = malloc(sizeof(float) * K * N);
  float* C = malloc(sizeof(float) * M * N);
  for (long i = 0; i < (long)M * K; i++) A[i] = (float)((i * 7919) % 1000) / 1000.f - 0.5f;
  for (long i = 0; i < (long)K * N; i++) B[i] = (float)((i * 104729) % 1000) / 1000.f - 0.5f;
  const double flops = 2.0 * M * N * K;
  double rates[7];
#define CALL cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, \
                         1.f, A, ta ? M : K, B, tb ? K : N, 0.f, C, N)
  for (int w = 0; w < 3; w++) CALL;
  for (int r = 0; r < 7; r++) {
    long it = 0;
    double t0 = now(), t;
    do {
      CALL;
      it++;
    } while ((t = now()) - t0 < 0.1);
    rates[r] = flops * it / (t - t0) / 1e9;
  }
  qsort(rates, 7, sizeof(double), cmp);
  printf("%.2f\n", rates[3]);
  return 0;
}
