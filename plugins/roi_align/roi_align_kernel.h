// CUDA launcher for the multi-level RoIAlign op. No TensorRT types: the TensorRT plugin, the ctypes
// test harness and the benchmark all call this one function. Semantics: spec.yaml and README.md.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "common/dtype.h"
#include "roi_align/roi_align_rules.h"  // kRoiAlignMaxLevels
#include "roi_align/roi_align_cpu.h"  // RoiAlignParams: the op's fields, shared with the CPU twin

namespace edgeseg {

// Device pointers and sizes of the feature levels, finest first; all share batch and channels.
struct RoiAlignLevels {
  const void* data[kRoiAlignMaxLevels];  // [batch, channels, height, width] each, element type = dtype
  int32_t height[kRoiAlignMaxLevels];
  int32_t width[kRoiAlignMaxLevels];
  float scale[kRoiAlignMaxLevels];  // spatial scale of each level (feature pixels per image pixel)
  int32_t count;
};

// pooled[r, c, ph, pw] for every RoI r (params validated by the caller): `rois` is [num_rois, 4]
// float32 (x1, y1, x2, y2) whatever `dtype` is (half box corners move bins), `batch_idx` is [num_rois] int32 (a RoI whose index is
// outside [0, batch) pools zeros), `pooled` is [num_rois, channels, output_height, output_width] in dtype, like the features.
// Asynchronous on `stream`.
cudaError_t launch_roi_align(DType dtype, const RoiAlignLevels& levels, const float* rois, const int32_t* batch_idx,
                             int32_t num_rois, int32_t batch, int32_t channels, const RoiAlignParams& params,
                             void* pooled, cudaStream_t stream);

}  // namespace edgeseg
