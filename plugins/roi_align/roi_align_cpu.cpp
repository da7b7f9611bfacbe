// CPU twin of RoIAlign. Per RoI it computes the bilinear taps of every bin once (through the
// shared _math.h functions, in the same sample order as roi_align_bin) and reuses them for all
// channels, so the numbers equal the per-output device kernel's.
#include "roi_align/roi_align_cpu.h"

#include <cstddef>
#include <vector>

#include "roi_align/_math.h"

namespace edgeseg {

namespace m = roi_align_math;

namespace {

void pool_roi_quantized(const float* image, int channels, int height, int width, const float* roi,
                        float spatial_scale, const RoiAlignParams& p, float* out) {
  const m::RoiPoolGeometry g = m::roi_pool_geometry(roi, spatial_scale, p.output_height, p.output_width);
  const std::size_t plane = static_cast<std::size_t>(height) * width;
  const int bins = p.output_height * p.output_width;
  for (int c = 0; c < channels; ++c) {
    const float* src = image + c * plane;
    float* dst = out + static_cast<std::size_t>(c) * bins;
    for (int ph = 0; ph < p.output_height; ++ph) {
      for (int pw = 0; pw < p.output_width; ++pw) {
        dst[ph * p.output_width + pw] = m::roi_pool_bin(src, height, width, g, ph, pw);
      }
    }
  }
}

void pool_roi_align(const float* image, int channels, int height, int width, const float* roi, float spatial_scale,
                    const RoiAlignParams& p, std::vector<m::BilinearTap>& taps, float* out) {
  const m::RoiAlignGeometry g =
      m::roi_align_geometry(roi, spatial_scale, p.output_height, p.output_width, p.sampling_ratio, p.aligned);
  const int bins = p.output_height * p.output_width;
  const int per_bin = g.grid_h > 0 && g.grid_w > 0 ? g.grid_h * g.grid_w : 0;
  taps.resize(static_cast<std::size_t>(bins) * per_bin);
  std::size_t t = 0;
  for (int ph = 0; ph < p.output_height; ++ph) {
    for (int pw = 0; pw < p.output_width; ++pw) {
      for (int iy = 0; iy < g.grid_h; ++iy) {
        const float y = m::roi_align_sample_y(g, ph, iy);
        for (int ix = 0; ix < g.grid_w; ++ix) {
          taps[t++] = m::bilinear_tap(height, width, y, m::roi_align_sample_x(g, pw, ix));
        }
      }
    }
  }
  const std::size_t plane = static_cast<std::size_t>(height) * width;
  for (int c = 0; c < channels; ++c) {
    const float* src = image + c * plane;
    float* dst = out + static_cast<std::size_t>(c) * bins;
    const m::BilinearTap* tap = taps.data();
    for (int b = 0; b < bins; ++b) {
      float acc = m::roi_align_initial(p.mode);
      for (int s = 0; s < per_bin; ++s, ++tap) {
        acc = m::roi_align_accumulate(acc, m::bilinear_apply(src, *tap), p.mode);
      }
      dst[b] = m::roi_align_finish(acc, g, p.mode);
    }
  }
}

}  // namespace

void roi_align_cpu(const FeatureLevel* levels, int num_levels, int batch, int channels, const float* rois,
                   const int32_t* batch_idx, int num_rois, const RoiAlignParams& params, float* pooled) {
  const std::size_t per_roi = static_cast<std::size_t>(channels) * params.output_height * params.output_width;
  const int first_level = m::first_level_of_scale(levels[0].spatial_scale);
  std::vector<m::BilinearTap> taps;
  for (int r = 0; r < num_rois; ++r) {
    const float* roi = rois + 4 * static_cast<std::size_t>(r);
    float* out = pooled + r * per_roi;
    const int b = batch_idx[r];
    if (b < 0 || b >= batch) {
      for (std::size_t i = 0; i < per_roi; ++i) out[i] = 0.0f;
      continue;
    }
    const int l = m::roi_level_index(roi, params.canonical_scale, params.canonical_level, first_level, num_levels);
    const FeatureLevel& level = levels[l];
    const float* image =
        level.data + static_cast<std::size_t>(b) * channels * static_cast<std::size_t>(level.height) * level.width;
    if (params.quantized) {
      pool_roi_quantized(image, channels, level.height, level.width, roi, level.spatial_scale, params, out);
    } else {
      pool_roi_align(image, channels, level.height, level.width, roi, level.spatial_scale, params, taps, out);
    }
  }
}

}  // namespace edgeseg
