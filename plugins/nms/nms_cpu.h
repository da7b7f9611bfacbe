// CPU twin of the edgeseg NMS op: no torch, no Python, no TensorRT types.
// The arithmetic (IoU, ordering and tie rule) is plugins/nms/_math.h, shared with the CUDA kernel.
#pragma once

#include <cstdint>

namespace edgeseg {

struct NmsParams {
  float score_threshold = 0.05f;
  float iou_threshold = 0.5f;
  int pre_nms_top_k = 1000;   // <= 0: keep every candidate
  int max_detections = 100;   // K
};

// boxes: [B, N, 4] when !per_class_boxes, else [B, N, C, 4]; scores: [B, N, C].
// Outputs (all written, padded with 0 / -1): det_boxes [B, K, 4], det_scores [B, K],
// det_classes [B, K], det_indices [B, K], num_detections [B].
void nms_cpu(const float* boxes, bool per_class_boxes, const float* scores, int batch, int num_boxes, int num_classes,
             const NmsParams& params, float* det_boxes, float* det_scores, int32_t* det_classes, int32_t* det_indices,
             int32_t* num_detections);

}  // namespace edgeseg
