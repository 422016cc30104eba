// 2-D convolution, NHWC input, HWIO filter [KH, KW, C, CO], via chunked im2col + GEMM. Each thread
// owns a contiguous range of output pixels (or whole images where outputs would collide), so no
// locking is needed and the im2col chunk stays in that core's L2.
#pragma once

namespace bl {

struct ConvParams {
  long N, H, W, C;        // input
  long KH, KW, CO;        // filter
  long SH, SW, DH, DW;    // strides, dilations
  long PT, PL;            // padding before (top, left); the rest follows from OH/OW
  long OH, OW;            // output
};

// y[N, OH, OW, CO] = act(conv(x, w) + bias)
void conv2d(const float* x, const float* w, float* y, const ConvParams& p, const float* bias, int act);
// dx[N, H, W, C] = gradient of conv2d w.r.t. x given dy[N, OH, OW, CO]
void conv2d_backprop_input(const float* dy, const float* w, float* dx, const ConvParams& p);
// dw[KH, KW, C, CO] = gradient w.r.t. the filter given x and dy
void conv2d_backprop_filter(const float* x, const float* dy, float* dw, const ConvParams& p);

}  // namespace bl
