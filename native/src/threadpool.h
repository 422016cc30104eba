// Small persistent thread pool with dynamic task claiming. Kernels are short (tens of
// microseconds at small batch sizes), so idle workers spin briefly on an atomic before sleeping,
// and the calling thread claims tasks itself: if a worker is slow to wake (or its core is busy
// with another process) the caller simply does more of the tasks instead of waiting for it.
#pragma once
#include <cstdint>

namespace bl {

// fn(ctx, task, tid): `task` in [0, ntasks); `tid` in [0, pool_threads()) identifies the executing
// thread (for per-thread scratch). A thread runs its claimed tasks one after another.
using TaskFn = void (*)(void* ctx, long task, int tid);

// Number of threads taking part in parallel regions (>= 1).
int pool_threads();
// Resizes the pool (n <= 0: BATCHLAB_THREADS or hardware threads). Not from inside a region.
void pool_set_threads(int n);
// Runs all tasks and returns when they are done. Nested calls run serially on the caller.
void pool_run(long ntasks, TaskFn fn, void* ctx);

// Convenience wrapper for lambdas: f(task, tid).
template <class F>
inline void parallel_tasks(long ntasks, F&& f) {
  pool_run(ntasks, [](void* c, long task, int tid) { (*static_cast<F*>(c))(task, tid); }, &f);
}

// Splits [0, total) into n nearly equal contiguous parts; returns part `i` as [begin, end).
inline void split_range(long total, long n, long i, long* begin, long* end) {
  long base = total / n, rem = total % n;
  *begin = i * base + (i < rem ? i : rem);
  *end = *begin + base + (i < rem ? 1 : 0);
}

}  // namespace bl
