// CPU twin of the edgeseg RoIAlign op: no torch, no Python, no TensorRT types.
// The arithmetic is plugins/roi_align/_math.h, shared with the CUDA kernel.
#pragma once

#include <cstdint>

namespace edgeseg {

struct RoiAlignParams {
  int output_height = 7;
  int output_width = 7;
  int sampling_ratio = 2;   // 0 = adaptive
  int aligned = 0;
  int mode = 0;             // 0 avg, 1 max
  int quantized = 0;        // 1 = RoI Pool (mode, aligned, sampling_ratio ignored)
  float canonical_scale = 224.0f;
  int canonical_level = 4;
};

// One FPN level: a contiguous [batch, channels, height, width] float32 map and its scale.
struct FeatureLevel {
  const float* data;
  int height;
  int width;
  float spatial_scale;
};

// pooled[R, C, output_height, output_width] from `levels` (finest first), rois [R, 4]
// (x1, y1, x2, y2 in image pixels) and batch_idx [R]. RoIs whose batch index is outside
// [0, batch) produce zeros, as the device kernels do (the Python layer rejects them first).
void roi_align_cpu(const FeatureLevel* levels, int num_levels, int batch, int channels, const float* rois,
                   const int32_t* batch_idx, int num_rois, const RoiAlignParams& params, float* pooled);

}  // namespace edgeseg
