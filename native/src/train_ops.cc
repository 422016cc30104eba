#include "train_ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "threadpool.h"

namespace bl {
namespace {

// Elements per task of the element-wise updates, and per chunk of the squared norm. Fixed sizes, so the
// split (and a reduction's summation order) does not depend on the thread count.
constexpr long kChunk = 1L << 15;

// f(begin, end) over [0, n) in chunks of kChunk, on the pool when there is more than one chunk.
template <class F>
void for_chunks(long n, F&& f) {
  const long chunks = (n + kChunk - 1) / kChunk;
  parallel_tasks(chunks, [&](long c, int) { f(c * kChunk, std::min(n, (c + 1) * kChunk)); });
}

}  // namespace

double sum_squares(const float* const* xs, const long* ns, int count) {
  // One task per (array, chunk); partial sums land in a slot per task and are added in task order.
  std::vector<long> first(count + 1, 0);
  for (int i = 0; i < count; ++i) first[i + 1] = first[i] + (ns[i] + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(first[count]), 0.0);
  parallel_tasks(first[count], [&](long task, int) {
    const int i = static_cast<int>(std::upper_bound(first.begin(), first.end(), task) - first.begin() - 1);
    const long s = (task - first[i]) * kChunk, e = std::min(ns[i], s + kChunk);
    const float* x = xs[i];
    // Four independent lanes let the compiler vectorise without reassociating a single sum.
    double acc[4] = {0, 0, 0, 0};
    long j = s;
    for (; j + 4 <= e; j += 4)
      for (int l = 0; l < 4; ++l) acc[l] += static_cast<double>(x[j + l]) * x[j + l];
    for (; j < e; ++j) acc[0] += static_cast<double>(x[j]) * x[j];
    partial[task] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

void sgd_update(const float* w, const float* g, float* w_out, long n, float lr) {
  for_chunks(n, [&](long s, long e) {
    for (long i = s; i < e; ++i) w_out[i] = w[i] - g[i] * lr;
  });
}

void momentum_update(const float* w, const float* b, const float* g, float* w_out, float* b_out, long n, float lr,
                     float mu) {
  for_chunks(n, [&](long s, long e) {
    for (long i = s; i < e; ++i) {
      const float nb = b[i] * mu + g[i];
      b_out[i] = nb;
      w_out[i] = w[i] - nb * lr;
    }
  });
}

void adam_update(const float* w, const float* m, const float* v, const float* g, float* w_out, float* m_out,
                 float* v_out, long n, const AdamConsts& k) {
  for_chunks(n, [&](long s, long e) {
    for (long i = s; i < e; ++i) {
      const float gi = g[i];
      const float nm = m[i] * k.beta1 + gi * k.one_minus_beta1;
      const float nv = v[i] * k.beta2 + (gi * gi) * k.one_minus_beta2;
      m_out[i] = nm;
      v_out[i] = nv;
      const float step = (nm / k.c1) / (std::sqrt(nv / k.c2) + k.eps);
      w_out[i] = w[i] - step * k.lr;
    }
  });
}

double softmax_xent(const float* logits, const int* labels, float* probs, long rows, long classes) {
  double total = 0;
  for (long r = 0; r < rows; ++r) {
    const float* z = logits + r * classes;
    float* p = probs + r * classes;
    float mx = -INFINITY;
    for (long c = 0; c < classes; ++c) mx = std::max(mx, z[c]);
    // A NaN logit makes the row NaN, as in tf.logSoftmax (std::max above may skip it).
    for (long c = 0; c < classes; ++c) if (z[c] != z[c]) mx = z[c];
    float sum = 0.f;
    for (long c = 0; c < classes; ++c) sum += (p[c] = std::exp(z[c] - mx));
    const float inv = 1.f / sum;
    for (long c = 0; c < classes; ++c) p[c] *= inv;
    const int y = labels[r];
    if (y >= 0 && y < classes) total -= static_cast<double>((z[y] - mx) - std::log(sum));
  }
  return rows > 0 ? total / static_cast<double>(rows) : NAN;
}

void softmax_xent_grad(const float* probs, const int* labels, float dy, float* dlogits, long rows, long classes) {
  const float scale = rows > 0 ? dy / static_cast<float>(rows) : 0.f;
  for (long r = 0; r < rows; ++r) {
    const int y = labels[r];
    const float* p = probs + r * classes;
    float* d = dlogits + r * classes;
    if (y < 0 || y >= classes) {
      std::fill(d, d + classes, 0.f);
      continue;
    }
    for (long c = 0; c < classes; ++c) d[c] = p[c] * scale;
    d[y] = (p[y] - 1.f) * scale;
  }
}

}  // namespace bl
