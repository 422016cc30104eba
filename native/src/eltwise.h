// Element-wise ops and reductions on float32 buffers. Memory-bound, so they are written as plain
// loops the compiler vectorises, split over the pool only when big enough to repay a fork/join.
#pragma once

namespace bl {

enum BinaryOp { kAdd = 0, kSub = 1, kMul = 2 };
// How b (or a) broadcasts against the output of n elements:
//   kSame: both n elements; kScalarA / kScalarB: that operand is one element;
//   kRowA / kRowB: that operand has `inner` elements repeated along the outer dimension.
enum Broadcast { kSame = 0, kScalarA = 1, kScalarB = 2, kRowA = 3, kRowB = 4 };

void binary(int op, int mode, const float* a, const float* b, float* out, long n, long inner);

enum UnaryOp { kRelu = 0, kStep = 1 };
void unary(int op, const float* x, float* out, long n, float alpha);

// The relu gradient in one pass: out = dy * step(x), step(x) = 1 for x > 0, NaN for NaN, else 0.
void relu_grad(const float* dy, const float* x, float* out, long n);

// Sum of x viewed as [outer, inner]: over the outer axis (out has inner elements) when
// `over_outer`, else over the inner axis (out has outer elements).
void reduce_sum(const float* x, float* out, long outer, long inner, bool over_outer);

// Rows idx[0..count) of src (src_rows rows of row_size floats) into out, in order. Checks every
// index first and copies nothing when one is outside [0, src_rows): returns its position, else -1.
long gather_rows(const float* src, long src_rows, const int* idx, long count, long row_size, float* out);

}  // namespace bl
