// What EdgesegNMS accepts, without TensorRT types (the plugin calls this; so do the tests).
// Why float32 only for boxes and scores, in and out: under TensorRT 10.x's weakly typed FP16
// (builder flag) TensorRT picks each plugin I/O type from what supportsFormatCombination allows;
// float16 scores merge close scores and change the NMS order against the CPU twin, and float16
// box corners step by 0.25 to 0.5 px at 512 to 1024 px.
#pragma once

#include <cstdint>

#include "common/io_rules.h"

namespace edgeseg::nms_rules {

// I/O positions: boxes, scores, det_boxes, det_scores, det_classes, det_indices, num_detections.
inline bool supports_type(int32_t pos, IoType type) {
  return pos <= 3 ? type == IoType::kFloat32 : type == IoType::kInt32;
}

}  // namespace edgeseg::nms_rules
