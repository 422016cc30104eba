// Max pooling over NHWC windows (padding positions never win), and its gradient, which routes dy to
// the first maximal element of each window in row-major window order (the tie rule of tfjs-cpu).
#pragma once

namespace bl {

struct PoolParams {
  long N, H, W, C;
  long KH, KW, SH, SW, PT, PL, OH, OW;
};

void max_pool(const float* x, float* y, const PoolParams& p);
void max_pool_grad(const float* dy, const float* x, float* dx, const PoolParams& p);

}  // namespace bl
