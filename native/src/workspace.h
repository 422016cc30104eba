// Addon-owned scratch memory (packed GEMM panels, im2col columns, per-thread partial sums).
// Buffers are grow-only and reused across calls so that a kernel call allocates nothing on the
// hot path; `workspace_release` frees them all (leak tests, or to return memory after a run).
#pragma once
#include <cstddef>

namespace bl {

// kPackBShared: op(B) packed once by all threads of a parallel gemm (thread 0's slot only).
enum Slot { kPackA = 0, kPackB, kPackBShared, kCol, kAcc, kSlotCount };
constexpr int kMaxThreads = 64;

// Buffer of at least `count` floats for (slot, thread), 64-byte aligned; contents undefined.
float* workspace(Slot slot, int tid, size_t count);
size_t workspace_bytes();
void workspace_release();

}  // namespace bl
