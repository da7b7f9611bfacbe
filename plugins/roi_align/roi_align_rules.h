// What EdgesegRoIAlign accepts, without TensorRT types (the plugin calls these; so do the tests).
// Why float32 RoIs: under TensorRT 10.x's weakly typed FP16 (builder flag) TensorRT picks each
// plugin I/O type from what supportsFormatCombination allows; float16 box corners step by 0.25 to
// 0.5 px at 512 to 1024 px, which moves bins. Only the features and the pooled output may be half.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "common/io_rules.h"
#include "roi_align/roi_align_fields.h"

namespace edgeseg {

// Feature maps beyond this many levels are refused (FPNs use 4 or 5); the kernel's level table
// has this many slots.
constexpr int32_t kRoiAlignMaxLevels = 8;

}  // namespace edgeseg

namespace edgeseg::roi_align_rules {

// I/O positions: features 0..levels-1, rois, batch_idx, pooled.
inline bool supports_type(int32_t pos, int32_t levels, IoType type, IoType features_type) {
  if (pos == levels) return type == IoType::kFloat32;      // rois
  if (pos == levels + 1) return type == IoType::kInt32;    // batch_idx
  if (pos == 0) return type == IoType::kFloat32 || type == IoType::kFloat16;
  return type == features_type;  // other levels and pooled follow the first level
}

// Why the fields cannot run, or "" when they can.
inline std::string check_fields(roi_align_fields::Fields const& f) {
  if (f.output_height < 1 || f.output_width < 1) return "output_height and output_width must be >= 1";
  if (f.sampling_ratio < 0) return "sampling_ratio must be >= 0 (0 = adaptive)";
  if ((f.aligned != 0 && f.aligned != 1) || (f.quantized != 0 && f.quantized != 1)) {
    return "aligned and quantized must be 0 or 1";
  }
  if (f.mode != 0 && f.mode != 1) return "mode must be 0 (avg) or 1 (max)";
  if (f.spatial_scales.empty() || f.spatial_scales.size() > static_cast<size_t>(kRoiAlignMaxLevels)) {
    return "spatial_scales needs 1 to " + std::to_string(kRoiAlignMaxLevels) + " levels";
  }
  for (float s : f.spatial_scales) {
    if (!(s > 0.0f) || !std::isfinite(s)) return "every spatial_scales entry must be finite and > 0";
  }
  // The level lookup (_math.h) maps FPN level k to input k - first level: each level must be
  // half the size of the one before it.
  for (size_t l = 1; l < f.spatial_scales.size(); ++l) {
    const float want = f.spatial_scales[l - 1] * 0.5f;
    if (std::fabs(f.spatial_scales[l] - want) > 1e-6f * want) {
      return "spatial_scales must halve level by level (finest first, e.g. 0.25, 0.125, 0.0625), got " +
             std::to_string(f.spatial_scales[l]) + " after " + std::to_string(f.spatial_scales[l - 1]);
    }
  }
  if (!(f.canonical_scale > 0.0f)) return "canonical_scale must be > 0";
  return "";
}

// Why these runtime shapes cannot run, or "": every level [B, C, H, W] with the first level's B
// and C, rois [R, 4], batch_idx [R] (the kernel reads batch_idx[r] for every RoI r).
// Extents of -1 (not known yet, at build time) pass.
inline std::string check_shapes(IoDims const* features, int32_t levels, IoDims const& rois,
                                IoDims const& batch_idx) {
  auto differ = [](int64_t a, int64_t b) { return a >= 0 && b >= 0 && a != b; };
  for (int32_t l = 0; l < levels; ++l) {
    if (features[l].rank != 4) return "every feature level must be [B, C, H, W]";
    if (differ(features[l].d[0], features[0].d[0]) || differ(features[l].d[1], features[0].d[1])) {
      return "all feature levels need the same batch and channels";
    }
  }
  if (rois.rank != 2 || differ(rois.d[1], 4)) return "rois must be [R, 4]";
  if (batch_idx.rank != 1) return "batch_idx must be [R]";
  if (differ(batch_idx.d[0], rois.d[0])) {
    return "batch_idx has " + std::to_string(batch_idx.d[0]) + " entries for " + std::to_string(rois.d[0]) +
           " RoIs: it needs one per RoI";
  }
  return "";
}

}  // namespace edgeseg::roi_align_rules
