#include "pool.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "threadpool.h"

namespace bl {
namespace {

// Work items below this many window reads run as one task.
long tasks_for(long work, long units) { return work < (1L << 16) ? 1 : std::min(units, 4L * pool_threads()); }

struct Scratch {
  long arg[512];
  float best[512];
};

}  // namespace

void max_pool(const float* x, float* y, const PoolParams& p) {
  const long rows = p.N * p.OH;
  const long tasks = tasks_for(rows * p.OW * p.C * p.KH * p.KW, rows);
  parallel_tasks(tasks, [&](long task, int) {
    long r0, r1;
    split_range(rows, tasks, task, &r0, &r1);
    for (long r = r0; r < r1; ++r) {
      const long n = r / p.OH, oh = r % p.OH;
      for (long ow = 0; ow < p.OW; ++ow) {
        float* out = y + ((n * p.OH + oh) * p.OW + ow) * p.C;
        const long ih0 = oh * p.SH - p.PT, iw0 = ow * p.SW - p.PL;
        for (long c = 0; c < p.C; ++c) out[c] = -std::numeric_limits<float>::infinity();
        for (long kh = 0; kh < p.KH; ++kh) {
          const long ih = ih0 + kh;
          if (ih < 0 || ih >= p.H) continue;
          for (long kw = 0; kw < p.KW; ++kw) {
            const long iw = iw0 + kw;
            if (iw < 0 || iw >= p.W) continue;
            const float* px = x + ((n * p.H + ih) * p.W + iw) * p.C;
            for (long c = 0; c < p.C; ++c) out[c] = px[c] > out[c] ? px[c] : out[c];
          }
        }
      }
    }
  });
}

void max_pool_grad(const float* dy, const float* x, float* dx, const PoolParams& p) {
  std::memset(dx, 0, sizeof(float) * p.N * p.H * p.W * p.C);
  // Tasks own whole images: windows overlap when stride < size, images never do.
  const long tasks = tasks_for(p.N * p.OH * p.OW * p.C * p.KH * p.KW, p.N);
  parallel_tasks(tasks, [&](long task, int) {
    long n0, n1;
    split_range(p.N, tasks, task, &n0, &n1);
    Scratch s;
    for (long c0 = 0; c0 < p.C; c0 += 512) {
      const long cn = std::min(512L, p.C - c0);
      for (long n = n0; n < n1; ++n)
        for (long oh = 0; oh < p.OH; ++oh)
          for (long ow = 0; ow < p.OW; ++ow) {
            const long ih0 = oh * p.SH - p.PT, iw0 = ow * p.SW - p.PL;
            for (long c = 0; c < cn; ++c) s.arg[c] = -1, s.best[c] = -std::numeric_limits<float>::infinity();
            for (long kh = 0; kh < p.KH; ++kh) {
              const long ih = ih0 + kh;
              if (ih < 0 || ih >= p.H) continue;
              for (long kw = 0; kw < p.KW; ++kw) {
                const long iw = iw0 + kw;
                if (iw < 0 || iw >= p.W) continue;
                const long base = ((n * p.H + ih) * p.W + iw) * p.C + c0;
                const float* px = x + base;
                for (long c = 0; c < cn; ++c)
                  if (px[c] > s.best[c]) s.best[c] = px[c], s.arg[c] = base + c;
              }
            }
            const float* g = dy + ((n * p.OH + oh) * p.OW + ow) * p.C + c0;
            for (long c = 0; c < cn; ++c)
              if (s.arg[c] >= 0) dx[s.arg[c]] += g[c];
          }
    }
  });
}

}  // namespace bl
