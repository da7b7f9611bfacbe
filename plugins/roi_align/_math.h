// RoIAlign / RoI Pool arithmetic, written once for the CPU twin, the CUDA kernel and the TensorRT plugin.
//
// Semantics: edgeseg/ops/specs/roi_align.yaml and docs/ops.md. The numbers match torchvision's
// roi_align / roi_pool CPU kernels and MultiScaleRoIAlign's level rule bit for bit in float32.
//
// Functions a kernel calls (signatures are stable; everything is HOST_DEVICE_INLINE):
//   first_level_of_scale(spatial_scale)                     -> int   FPN level k of the finest map
//   roi_level_index(roi, canonical_scale, canonical_level,
//                   first_level, num_levels)                -> int   which feature map (0 = finest)
//   roi_align_geometry(roi, spatial_scale, pooled_height,
//                      pooled_width, sampling_ratio, aligned) -> RoiAlignGeometry (once per RoI)
//   roi_align_bin(plane, height, width, geometry, ph, pw, mode) -> float  one output value
//   roi_pool_geometry(roi, spatial_scale, pooled_height, pooled_width) -> RoiPoolGeometry
//   roi_pool_bin(plane, height, width, geometry, ph, pw)    -> float  one output value (quantized=1)
// Lower level pieces, for kernels that cache the taps of a bin across channels (the CPU twin does):
//   roi_align_sample_y / roi_align_sample_x, bilinear_tap, bilinear_apply.
// `roi` points at 4 floats x1, y1, x2, y2 in input-image pixels; `plane` at one H x W channel
// (row-major) of the chosen level and image. Accumulation is in float for any element type T.
#pragma once

#include <math.h>

#include "common/host_device.h"

namespace edgeseg {
namespace roi_align_math {

constexpr int kModeAvg = 0;
constexpr int kModeMax = 1;

// Where one bilinear sample reads: four offsets into the plane and their weights.
// An out-of-range sample has zero weights (its value is 0, like torchvision).
struct BilinearTap {
  int offset[4];
  float weight[4];
};

struct RoiAlignGeometry {
  float start_h;  // RoI top/left in feature pixels (after scale and half-pixel offset)
  float start_w;
  float bin_h;    // bin size in feature pixels
  float bin_w;
  int grid_h;     // samples per bin side (sampling_ratio, or adaptive)
  int grid_w;
  float count;    // samples per bin, at least 1 (the average's divisor)
};

struct RoiPoolGeometry {
  int start_h;    // rounded RoI corner in feature pixels
  int start_w;
  float bin_h;
  float bin_w;
};

// FPN level number of a feature map from its scale (0.25 -> 2); scales are powers of two.
HOST_DEVICE_INLINE int first_level_of_scale(float spatial_scale) {
  return static_cast<int>(roundf(-log2f(spatial_scale)));
}

// The FPN paper's rule as torchvision's LevelMapper computes it in float32:
// k = floor(canonical_level + log2(sqrt(area) / canonical_scale) + 1e-6), clamped to the maps
// available, returned relative to the finest map. Boxes with zero, negative or NaN area go to the
// finest map (log2(0) = -inf clamps there too).
HOST_DEVICE_INLINE int roi_level_index(const float* roi, float canonical_scale, int canonical_level,
                                       int first_level, int num_levels) {
  if (num_levels <= 1) return 0;
  const float area = (roi[2] - roi[0]) * (roi[3] - roi[1]);
  if (!(area > 0.0f)) return 0;
  const float s = sqrtf(area);
  float k = floorf(static_cast<float>(canonical_level) + log2f(s / canonical_scale) + 1e-6f);
  k = min_of(max_of(k, static_cast<float>(first_level)), static_cast<float>(first_level + num_levels - 1));
  return static_cast<int>(k) - first_level;
}

HOST_DEVICE_INLINE RoiAlignGeometry roi_align_geometry(const float* roi, float spatial_scale, int pooled_height,
                                                       int pooled_width, int sampling_ratio, int aligned) {
  const float offset = aligned ? 0.5f : 0.0f;
  RoiAlignGeometry g;
  g.start_w = roi[0] * spatial_scale - offset;
  g.start_h = roi[1] * spatial_scale - offset;
  const float end_w = roi[2] * spatial_scale - offset;
  const float end_h = roi[3] * spatial_scale - offset;
  float roi_w = end_w - g.start_w;
  float roi_h = end_h - g.start_h;
  if (!aligned) {  // legacy: force malformed RoIs to be at least 1x1
    roi_w = max_of(roi_w, 1.0f);
    roi_h = max_of(roi_h, 1.0f);
  }
  g.bin_h = roi_h / static_cast<float>(pooled_height);
  g.bin_w = roi_w / static_cast<float>(pooled_width);
  g.grid_h = sampling_ratio > 0 ? sampling_ratio : static_cast<int>(ceilf(roi_h / static_cast<float>(pooled_height)));
  g.grid_w = sampling_ratio > 0 ? sampling_ratio : static_cast<int>(ceilf(roi_w / static_cast<float>(pooled_width)));
  g.count = static_cast<float>(max_of(g.grid_h * g.grid_w, 1));
  return g;
}

// Sample iy (of grid_h) in output row ph, at the centre of its sub-cell.
HOST_DEVICE_INLINE float roi_align_sample_y(const RoiAlignGeometry& g, int ph, int iy) {
  return g.start_h + static_cast<float>(ph) * g.bin_h +
         (static_cast<float>(iy) + 0.5f) * g.bin_h / static_cast<float>(g.grid_h);
}

HOST_DEVICE_INLINE float roi_align_sample_x(const RoiAlignGeometry& g, int pw, int ix) {
  return g.start_w + static_cast<float>(pw) * g.bin_w +
         (static_cast<float>(ix) + 0.5f) * g.bin_w / static_cast<float>(g.grid_w);
}

// Bilinear taps at (y, x): samples more than one pixel outside the map read 0; samples in the
// border band are clamped onto the edge pixels.
HOST_DEVICE_INLINE BilinearTap bilinear_tap(int height, int width, float y, float x) {
  BilinearTap t;
  for (int i = 0; i < 4; ++i) {
    t.offset[i] = 0;
    t.weight[i] = 0.0f;
  }
  if (height <= 0 || width <= 0 || y < -1.0f || y > static_cast<float>(height) || x < -1.0f ||
      x > static_cast<float>(width)) {
    return t;
  }
  if (y <= 0.0f) y = 0.0f;
  if (x <= 0.0f) x = 0.0f;
  int y_low = static_cast<int>(y);
  int x_low = static_cast<int>(x);
  int y_high;
  int x_high;
  if (y_low >= height - 1) {
    y_high = y_low = height - 1;
    y = static_cast<float>(y_low);
  } else {
    y_high = y_low + 1;
  }
  if (x_low >= width - 1) {
    x_high = x_low = width - 1;
    x = static_cast<float>(x_low);
  } else {
    x_high = x_low + 1;
  }
  const float ly = y - static_cast<float>(y_low);
  const float lx = x - static_cast<float>(x_low);
  const float hy = 1.0f - ly;
  const float hx = 1.0f - lx;
  t.offset[0] = y_low * width + x_low;
  t.offset[1] = y_low * width + x_high;
  t.offset[2] = y_high * width + x_low;
  t.offset[3] = y_high * width + x_high;
  t.weight[0] = hy * hx;
  t.weight[1] = hy * lx;
  t.weight[2] = ly * hx;
  t.weight[3] = ly * lx;
  return t;
}

template <typename T>
HOST_DEVICE_INLINE float bilinear_apply(const T* plane, const BilinearTap& t) {
  return t.weight[0] * static_cast<float>(plane[t.offset[0]]) + t.weight[1] * static_cast<float>(plane[t.offset[1]]) +
         t.weight[2] * static_cast<float>(plane[t.offset[2]]) + t.weight[3] * static_cast<float>(plane[t.offset[3]]);
}

// Fold one sample value into a bin: sum for avg, running max for max.
HOST_DEVICE_INLINE float roi_align_accumulate(float acc, float value, int mode) {
  return mode == kModeMax ? max_of(acc, value) : acc + value;
}

HOST_DEVICE_INLINE float roi_align_initial(int mode) {
  return mode == kModeMax ? -kFloatMax : 0.0f;
}

// The bin's value from its accumulator: the average, or the max (0 for a bin without samples).
HOST_DEVICE_INLINE float roi_align_finish(float acc, const RoiAlignGeometry& g, int mode) {
  if (mode == kModeMax) return (g.grid_h > 0 && g.grid_w > 0) ? acc : 0.0f;
  return acc / g.count;
}

template <typename T>
HOST_DEVICE_INLINE float roi_align_bin(const T* plane, int height, int width, const RoiAlignGeometry& g, int ph, int pw,
                                       int mode) {
  float acc = roi_align_initial(mode);
  for (int iy = 0; iy < g.grid_h; ++iy) {
    const float y = roi_align_sample_y(g, ph, iy);
    for (int ix = 0; ix < g.grid_w; ++ix) {
      const float x = roi_align_sample_x(g, pw, ix);
      acc = roi_align_accumulate(acc, bilinear_apply(plane, bilinear_tap(height, width, y, x)), mode);
    }
  }
  return roi_align_finish(acc, g, mode);
}

HOST_DEVICE_INLINE RoiPoolGeometry roi_pool_geometry(const float* roi, float spatial_scale, int pooled_height,
                                                     int pooled_width) {
  RoiPoolGeometry g;
  g.start_w = static_cast<int>(roundf(roi[0] * spatial_scale));
  g.start_h = static_cast<int>(roundf(roi[1] * spatial_scale));
  const int end_w = static_cast<int>(roundf(roi[2] * spatial_scale));
  const int end_h = static_cast<int>(roundf(roi[3] * spatial_scale));
  const int roi_w = max_of(end_w - g.start_w + 1, 1);
  const int roi_h = max_of(end_h - g.start_h + 1, 1);
  g.bin_h = static_cast<float>(roi_h) / static_cast<float>(pooled_height);
  g.bin_w = static_cast<float>(roi_w) / static_cast<float>(pooled_width);
  return g;
}

// Max over the pixels of bin (ph, pw): floor/ceil bin edges, clipped to the map; empty bins are 0.
template <typename T>
HOST_DEVICE_INLINE float roi_pool_bin(const T* plane, int height, int width, const RoiPoolGeometry& g, int ph, int pw) {
  int hstart = static_cast<int>(floorf(static_cast<float>(ph) * g.bin_h));
  int wstart = static_cast<int>(floorf(static_cast<float>(pw) * g.bin_w));
  int hend = static_cast<int>(ceilf(static_cast<float>(ph + 1) * g.bin_h));
  int wend = static_cast<int>(ceilf(static_cast<float>(pw + 1) * g.bin_w));
  hstart = min_of(max_of(hstart + g.start_h, 0), height);
  hend = min_of(max_of(hend + g.start_h, 0), height);
  wstart = min_of(max_of(wstart + g.start_w, 0), width);
  wend = min_of(max_of(wend + g.start_w, 0), width);
  if (hend <= hstart || wend <= wstart) return 0.0f;
  float best = -kFloatMax;
  for (int h = hstart; h < hend; ++h) {
    for (int w = wstart; w < wend; ++w) {
      const float v = static_cast<float>(plane[h * width + w]);
      if (v > best) best = v;
    }
  }
  return best;
}

}  // namespace roi_align_math
}  // namespace edgeseg
