#include "workspace.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace bl {
namespace {

struct Buffer {
  float* data = nullptr;
  size_t capacity = 0;  // floats
};

Buffer g_buffers[kSlotCount][kMaxThreads];
std::atomic<size_t> g_bytes{0};

}  // namespace

float* workspace(Slot slot, int tid, size_t count) {
  Buffer& b = g_buffers[slot][tid];
  if (count <= b.capacity) return b.data;
  size_t want = count + count / 4 + 64;  // some headroom so slowly growing shapes don't realloc
  size_t bytes = (want * sizeof(float) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  std::free(b.data);
  g_bytes.fetch_add(bytes);
  g_bytes.fetch_sub(b.capacity * sizeof(float));
  b.data = static_cast<float*>(p);
  b.capacity = bytes / sizeof(float);
  return b.data;
}

size_t workspace_bytes() { return g_bytes.load(); }

void workspace_release() {
  for (auto& row : g_buffers)
    for (auto& b : row) {
      std::free(b.data);
      b = Buffer{};
    }
  g_bytes.store(0);
}

}  // namespace bl
