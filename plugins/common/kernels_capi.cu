// A C ABI over the CUDA launchers, for ctypes: the needs_cuda tests compare the kernels with the
// CPU twin through it, and benchmarks/bench_cuda_ops.py times them on torch's device buffers.
// No TensorRT: it builds and runs on any CUDA machine. Every function returns a cudaError_t code.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "nms/nms_kernel.h"
#include "roi_align/roi_align_kernel.h"

#define EDGESEG_C_API extern "C" __attribute__((visibility("default")))

EDGESEG_C_API const char* edgeseg_error_string(int code) {
  return cudaGetErrorString(static_cast<cudaError_t>(code));
}

EDGESEG_C_API int edgeseg_malloc(void** ptr, size_t bytes) { return cudaMalloc(ptr, bytes > 0 ? bytes : 1); }

EDGESEG_C_API int edgeseg_free(void* ptr) { return cudaFree(ptr); }

EDGESEG_C_API int edgeseg_to_device(void* dst, const void* src, size_t bytes) {
  return cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice);
}

EDGESEG_C_API int edgeseg_to_host(void* dst, const void* src, size_t bytes) {
  return cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost);
}

EDGESEG_C_API int edgeseg_synchronize() { return cudaDeviceSynchronize(); }

// dtype (features and pooled): 0 float32, 1 float16; rois are float32 always. All data pointers
// are device pointers; `stream` a cudaStream_t or null.
EDGESEG_C_API int edgeseg_roi_align(int dtype, int num_levels, const void* const* level_data, const int32_t* heights,
                                    const int32_t* widths, const float* scales, const void* rois,
                                    const int32_t* batch_idx, int num_rois, int batch, int channels,
                                    int output_height, int output_width, int sampling_ratio, int aligned, int mode,
                                    int quantized, float canonical_scale, int canonical_level, void* pooled,
                                    void* stream) {
  if (num_levels < 1 || num_levels > edgeseg::kRoiAlignMaxLevels) return cudaErrorInvalidValue;
  edgeseg::RoiAlignLevels levels{};
  levels.count = num_levels;
  for (int i = 0; i < num_levels; ++i) {
    levels.data[i] = level_data[i];
    levels.height[i] = heights[i];
    levels.width[i] = widths[i];
    levels.scale[i] = scales[i];
  }
  edgeseg::RoiAlignParams params;
  params.output_height = output_height;
  params.output_width = output_width;
  params.sampling_ratio = sampling_ratio;
  params.aligned = aligned;
  params.mode = mode;
  params.quantized = quantized;
  params.canonical_scale = canonical_scale;
  params.canonical_level = canonical_level;
  return edgeseg::launch_roi_align(static_cast<edgeseg::DType>(dtype), levels, static_cast<const float*>(rois), batch_idx, num_rois, batch,
                                   channels, params, pooled, static_cast<cudaStream_t>(stream));
}

static edgeseg::NmsParams nms_params(float score_threshold, float iou_threshold, int pre_nms_top_k,
                                     int max_detections) {
  edgeseg::NmsParams p;
  p.score_threshold = score_threshold;
  p.iou_threshold = iou_threshold;
  p.pre_nms_top_k = pre_nms_top_k;
  p.max_detections = max_detections;
  return p;
}

EDGESEG_C_API size_t edgeseg_nms_workspace_size(int batch, int num_boxes, int num_classes, int pre_nms_top_k) {
  return edgeseg::nms_workspace_size(batch, num_boxes, num_classes, nms_params(0.0f, 0.0f, pre_nms_top_k, 1));
}

EDGESEG_C_API int edgeseg_nms(int dtype, const void* boxes, int per_class_boxes, const void* scores, int batch,
                              int num_boxes, int num_classes, float score_threshold, float iou_threshold,
                              int pre_nms_top_k, int max_detections, void* workspace, size_t workspace_size,
                              void* det_boxes, void* det_scores, int32_t* det_classes, int32_t* det_indices,
                              int32_t* num_detections, void* stream) {
  return edgeseg::launch_nms(static_cast<edgeseg::DType>(dtype), boxes, per_class_boxes != 0, scores, batch,
                             num_boxes, num_classes,
                             nms_params(score_threshold, iou_threshold, pre_nms_top_k, max_detections), workspace,
                             workspace_size, det_boxes, det_scores, det_classes, det_indices, num_detections,
                             static_cast<cudaStream_t>(stream));
}
