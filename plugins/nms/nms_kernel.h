// CUDA launcher for class-aware batched NMS with fixed-size outputs. No TensorRT types: the
// TensorRT plugin, the ctypes test harness and the benchmark call these functions.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "common/dtype.h"
#include "nms/nms_cpu.h"  // NmsParams: the op's fields, shared with the CPU twin

namespace edgeseg {

// The bitmask needs candidates^2 / 8 bytes per image, so the candidates NMS compares per image,
// min(pre_nms_top_k, N * C) (N * C when pre_nms_top_k <= 0), are capped at this many.
constexpr int32_t kNmsMaxCandidates = 16384;

// Candidates compared per image: min(pre_nms_top_k, N * C), or N * C when pre_nms_top_k <= 0.
int64_t nms_candidates(int32_t num_boxes, int32_t num_classes, const NmsParams& params);

// Scratch bytes launch_nms needs for these sizes (a CUB sort, the candidates and the bitmask);
// 0 when the sizes are out of range (nms_candidates > kNmsMaxCandidates or B * N * C >= 2^31).
size_t nms_workspace_size(int32_t batch, int32_t num_boxes, int32_t num_classes, const NmsParams& params);

// boxes: [B, N, 4] (or [B, N, C, 4] when per_class_boxes), scores: [B, N, C], element type = dtype.
// Writes every output (padded with 0 / -1 like the CPU twin): det_boxes [B, K, 4] and det_scores
// [B, K] in dtype, det_classes, det_indices [B, K] and num_detections [B] as int32, K =
// params.max_detections >= 1. Same candidate order and tie rule as nms_cpu (nms/_math.h).
// Asynchronous on `stream`; `workspace` holds at least nms_workspace_size(...) bytes.
cudaError_t launch_nms(DType dtype, const void* boxes, bool per_class_boxes, const void* scores, int32_t batch,
                       int32_t num_boxes, int32_t num_classes, const NmsParams& params, void* workspace,
                       size_t workspace_size, void* det_boxes, void* det_scores, int32_t* det_classes,
                       int32_t* det_indices, int32_t* num_detections, cudaStream_t stream);

}  // namespace edgeseg
