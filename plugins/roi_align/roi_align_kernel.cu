// CUDA RoIAlign: one thread per output value. All arithmetic comes from _math.h, the same inline
// functions the CPU twin (roi_align_cpu.cpp) calls in the same order, so both pick the same level,
// samples and bilinear weights. Built with -fmad=false (CMakeLists.txt) so that nvcc does not fuse
// the multiply-adds the CPU build keeps separate.
#include <cuda_fp16.h>

#include "common/cuda_checks.h"
#include "roi_align/_math.h"
#include "roi_align/roi_align_kernel.h"

namespace edgeseg {
namespace {

namespace m = roi_align_math;

template <typename T>
__global__ void roi_align_kernel(RoiAlignLevels levels, const float* rois, const int32_t* batch_idx, int32_t num_rois,
                                 int32_t batch, int32_t channels, RoiAlignParams p, int32_t first_level, T* pooled) {
  const long long total = static_cast<long long>(num_rois) * channels * p.output_height * p.output_width;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(blockDim.x) * gridDim.x) {
    const int pw = static_cast<int>(i % p.output_width);
    const int ph = static_cast<int>((i / p.output_width) % p.output_height);
    const int c = static_cast<int>((i / (p.output_width * p.output_height)) % channels);
    const int r = static_cast<int>(i / (static_cast<long long>(p.output_width) * p.output_height * channels));
    const int b = batch_idx[r];
    float value = 0.0f;
    if (b >= 0 && b < batch) {
      float roi[4];
      for (int k = 0; k < 4; ++k) roi[k] = rois[r * 4 + k];
      const int level = m::roi_level_index(roi, p.canonical_scale, p.canonical_level, first_level, levels.count);
      const int height = levels.height[level];
      const int width = levels.width[level];
      const T* plane = static_cast<const T*>(levels.data[level]) +
                       (static_cast<long long>(b) * channels + c) * static_cast<long long>(height) * width;
      if (p.quantized) {
        const m::RoiPoolGeometry g = m::roi_pool_geometry(roi, levels.scale[level], p.output_height, p.output_width);
        value = m::roi_pool_bin(plane, height, width, g, ph, pw);
      } else {
        const m::RoiAlignGeometry g = m::roi_align_geometry(roi, levels.scale[level], p.output_height,
                                                            p.output_width, p.sampling_ratio, p.aligned);
        value = m::roi_align_bin(plane, height, width, g, ph, pw, p.mode);
      }
    }
    pooled[i] = static_cast<T>(value);
  }
}

template <typename T>
cudaError_t launch_typed(const RoiAlignLevels& levels, const float* rois, const int32_t* batch_idx, int32_t num_rois,
                         int32_t batch, int32_t channels, const RoiAlignParams& params, void* pooled,
                         cudaStream_t stream) {
  const long long total = static_cast<long long>(num_rois) * channels * params.output_height * params.output_width;
  if (total == 0) return cudaSuccess;
  constexpr int kThreads = 256;
  constexpr long long kMaxBlocks = 1 << 20;  // the grid-stride loop covers the rest
  const unsigned int blocks = blocks_for(total < kThreads * kMaxBlocks ? total : kThreads * kMaxBlocks, kThreads);
  const int first_level = m::first_level_of_scale(levels.scale[0]);
  roi_align_kernel<T><<<blocks, kThreads, 0, stream>>>(levels, rois, batch_idx, num_rois,
                                                       batch, channels, params, first_level, static_cast<T*>(pooled));
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_roi_align(DType dtype, const RoiAlignLevels& levels, const float* rois, const int32_t* batch_idx,
                             int32_t num_rois, int32_t batch, int32_t channels, const RoiAlignParams& params,
                             void* pooled, cudaStream_t stream) {
  if (levels.count < 1 || levels.count > kRoiAlignMaxLevels || params.output_height < 1 || params.output_width < 1) {
    return cudaErrorInvalidValue;
  }
  switch (dtype) {
    case DType::kFloat32:
      return launch_typed<float>(levels, rois, batch_idx, num_rois, batch, channels, params, pooled, stream);
    case DType::kFloat16:
      return launch_typed<__half>(levels, rois, batch_idx, num_rois, batch, channels, params, pooled, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace edgeseg
