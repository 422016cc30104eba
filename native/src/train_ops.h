// Fused training-step ops: the optimizer updates, the squared gradient norm and softmax cross-entropy.
// Each replaces a chain of TF.js element-wise kernels (one JS dispatch, one allocation and one memory
// pass per link) with one pass. The update rules round every intermediate to fp32 in the same order as
// the TF.js op chains in src/engine/tfjs/optimizers.ts, so on a CPU without FMA contraction (baseline
// x86-64, as built) they match tfjs-backend-cpu bit for bit.
#pragma once

namespace bl {

// Sum of squares over `count` arrays xs[i] of ns[i] elements, accumulated in double. Each array is cut
// into fixed-size chunks (independent of the thread count), chunk sums are added in chunk order, so the
// result is identical from run to run and for any number of threads.
double sum_squares(const float* const* xs, const long* ns, int count);

// w' = w - lr g
void sgd_update(const float* w, const float* g, float* w_out, long n, float lr);
// b' = mu b + g;  w' = w - lr b'
void momentum_update(const float* w, const float* b, const float* g, float* w_out, float* b_out, long n, float lr,
                     float mu);
// m' = b1 m + (1-b1) g;  v' = b2 v + (1-b2) g^2;  w' = w - lr ((m'/c1) / (sqrt(v'/c2) + eps))
struct AdamConsts {
  float lr, beta1, one_minus_beta1, beta2, one_minus_beta2, c1, c2, eps;
};
void adam_update(const float* w, const float* m, const float* v, const float* g, float* w_out, float* m_out,
                 float* v_out, long n, const AdamConsts& k);

// Softmax cross-entropy from logits [rows, classes] and integer labels: probs = softmax(logits) and the
// returned mean over rows of -log softmax(logits)[label]. A label outside [0, classes) contributes
// nothing (as tf.oneHot gives it an all-zero row); the mean still divides by `rows`.
double softmax_xent(const float* logits, const int* labels, float* probs, long rows, long classes);
// d loss / d logits = dy (probs - onehot(label)) / rows, with zero rows for out-of-range labels.
void softmax_xent_grad(const float* probs, const int* labels, float dy, float* dlogits, long rows, long classes);

}  // namespace bl
