// NMS arithmetic, written once for the CPU twin, the CUDA kernel and the TensorRT plugin.
//
// Semantics: edgeseg/ops/specs/nms.yaml and docs/ops.md.
//
// Functions a kernel calls (signatures are stable; everything is HOST_DEVICE_INLINE):
//   box_iou(kept, candidate)                        -> float  IoU like torchvision (no +1)
//   candidate_precedes(score_a, key_a, score_b, key_b) -> bool the one ordering of candidates
//   candidate_key(n, c, num_classes)                 -> int    tie-break key of (box n, class c)
//   passes_score_threshold(score, threshold)         -> bool   score > threshold (NaN never passes)
//   suppresses(kept, candidate, iou_threshold)       -> bool   IoU > threshold
// Boxes are 4 values x1, y1, x2, y2.
#pragma once

#include "common/host_device.h"

namespace edgeseg {
namespace nms_math {

template <typename T>
HOST_DEVICE_INLINE float box_area(const T* b) {
  return (static_cast<float>(b[2]) - static_cast<float>(b[0])) * (static_cast<float>(b[3]) - static_cast<float>(b[1]));
}

// inter / (area_kept + area_candidate - inter), in the operand order of torchvision's nms kernel
// so that results agree bit for bit. A zero union gives NaN, which suppresses nothing.
template <typename T>
HOST_DEVICE_INLINE float box_iou(const T* kept, const T* candidate) {
  const float ix1 = max_of(static_cast<float>(kept[0]), static_cast<float>(candidate[0]));
  const float iy1 = max_of(static_cast<float>(kept[1]), static_cast<float>(candidate[1]));
  const float ix2 = min_of(static_cast<float>(kept[2]), static_cast<float>(candidate[2]));
  const float iy2 = min_of(static_cast<float>(kept[3]), static_cast<float>(candidate[3]));
  const float w = max_of(0.0f, ix2 - ix1);
  const float h = max_of(0.0f, iy2 - iy1);
  const float inter = w * h;
  return inter / (box_area(kept) + box_area(candidate) - inter);
}

template <typename T>
HOST_DEVICE_INLINE bool suppresses(const T* kept, const T* candidate, float iou_threshold) {
  return box_iou(kept, candidate) > iou_threshold;
}

HOST_DEVICE_INLINE bool passes_score_threshold(float score, float threshold) {
  return score > threshold;
}

// Tie rule: the key of candidate (box n, class c) is its flat index into scores[b] (n * C + c).
HOST_DEVICE_INLINE int candidate_key(int n, int c, int num_classes) {
  return n * num_classes + c;
}

// Higher score first; equal scores: lower key first (lower box index, then lower class).
HOST_DEVICE_INLINE bool candidate_precedes(float score_a, int key_a, float score_b, int key_b) {
  return score_a > score_b || (score_a == score_b && key_a < key_b);
}

}  // namespace nms_math
}  // namespace edgeseg
