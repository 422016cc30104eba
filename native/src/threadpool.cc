#include "threadpool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#define BL_PAUSE() _mm_pause()
#else
#define BL_PAUSE() std::this_thread::yield()
#endif

namespace bl {
namespace {

// How long an idle worker keeps spinning before it sleeps: long enough to cover the JS gap
// between two kernels of a training step, short enough not to burn a core when idle.
constexpr auto kSpin = std::chrono::microseconds(200);

struct Pool {
  std::vector<std::thread> workers;
  int nthreads = 1;
  // Job claim word: generation in the high 32 bits, next task index in the low 32. A worker can
  // only claim a task by CAS on this word, so a late worker can never claim from a finished job.
  std::atomic<uint64_t> claim{0};
  // The job's fields live in one of two slots, by generation parity. The caller fills the slot of
  // the next generation while the word still shows the finished current one, so a worker that read
  // the current word (index == ntasks) always reads the current job's ntasks and stops; with one
  // set of fields it could read the next job's larger ntasks, claim a task from the old word, and
  // run a task of the next job twice (and overshoot `done`, hanging the caller).
  struct Job {
    std::atomic<TaskFn> fn{nullptr};
    std::atomic<void*> ctx{nullptr};
    std::atomic<long> ntasks{0};
  };
  Job jobs[2];
  std::atomic<long> done{0};
  std::atomic<int> sleepers{0};
  std::atomic<bool> stop{false};
  uint32_t gen = 0;
  std::mutex mu;
  std::condition_variable cv;
  static thread_local bool in_region;

  // Claims and runs tasks of the current job until none is left.
  void drain(int tid) {
    for (;;) {
      uint64_t v = claim.load(std::memory_order_acquire);
      const Job& job = jobs[(v >> 32) & 1];
      TaskFn f = job.fn.load(std::memory_order_relaxed);
      void* c = job.ctx.load(std::memory_order_relaxed);
      const long n = job.ntasks.load(std::memory_order_relaxed);
      const long task = static_cast<long>(v & 0xffffffffu);
      if (task >= n) return;
      if (!claim.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel)) continue;
      // The CAS succeeded on an unchanged word: the job read above is still the current one.
      f(c, task, tid);
      done.fetch_add(1, std::memory_order_acq_rel);
    }
  }

  void worker(int tid) {
    uint64_t seen_gen = claim.load() >> 32;
    in_region = true;  // nested pool_run calls from a task run serially
    for (;;) {
      auto t0 = std::chrono::steady_clock::now();
      int spins = 0;
      while ((claim.load(std::memory_order_acquire) >> 32) == seen_gen && !stop.load(std::memory_order_relaxed)) {
        BL_PAUSE();
        if (++spins % 128 == 0 && std::chrono::steady_clock::now() - t0 > kSpin) {
          std::unique_lock<std::mutex> lk(mu);
          sleepers.fetch_add(1);
          cv.wait(lk, [&] { return (claim.load() >> 32) != seen_gen || stop.load(); });
          sleepers.fetch_sub(1);
        }
      }
      if (stop.load()) return;
      seen_gen = claim.load(std::memory_order_acquire) >> 32;
      drain(tid);
    }
  }

  void start(int n) {
    nthreads = std::max(1, n);
    stop = false;
    for (int t = 1; t < nthreads; ++t) workers.emplace_back([this, t] { worker(t); });
  }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stop = true;
    }
    cv.notify_all();
    for (auto& w : workers) w.join();
    workers.clear();
  }

  void run(long n, TaskFn f, void* c) {
    if (n <= 0) return;
    if (n == 1 || nthreads == 1 || in_region) {
      for (long t = 0; t < n; ++t) f(c, t, 0);
      return;
    }
    ++gen;
    Job& job = jobs[gen & 1];
    job.fn.store(f, std::memory_order_relaxed);
    job.ctx.store(c, std::memory_order_relaxed);
    job.ntasks.store(n, std::memory_order_relaxed);
    done.store(0, std::memory_order_relaxed);
    {
      // Publish under the mutex so that a worker about to sleep cannot miss the wake-up.
      std::lock_guard<std::mutex> lk(mu);
      claim.store(static_cast<uint64_t>(gen) << 32, std::memory_order_release);
    }
    if (sleepers.load() > 0) cv.notify_all();
    in_region = true;
    drain(0);
    in_region = false;
    while (done.load(std::memory_order_acquire) != n) BL_PAUSE();
  }
};

thread_local bool Pool::in_region = false;

int default_threads() {
  if (const char* env = std::getenv("BATCHLAB_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return std::min(n, 64);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min(hw, 64u));
}

Pool& pool() {
  // Leaked on purpose: joining threads from a static destructor at process exit can deadlock.
  static Pool* p = [] {
    auto* q = new Pool();
    q->start(default_threads());
    return q;
  }();
  return *p;
}

}  // namespace

int pool_threads() { return pool().nthreads; }

void pool_set_threads(int n) {
  Pool& p = pool();
  int want = n <= 0 ? default_threads() : std::min(n, 64);
  if (want == p.nthreads) return;
  p.shutdown();
  p.start(want);
}

void pool_run(long ntasks, TaskFn fn, void* ctx) { pool().run(ntasks, fn, ctx); }

}  // namespace bl
