// edgeseg._C: the C++ CPU twins of the custom ops, bound to numpy without torch, so the
// torch-free runtime (ONNX Runtime custom ops) and the torch custom ops call the same code.
// Arrays are converted to contiguous float32 / int32; the Python wrappers in edgeseg/ops/cpu.py
// check dtypes and shapes first and turn problems into EdgesegError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <tuple>
#include <vector>

#include "nms/nms_cpu.h"
#include "roi_align/roi_align_cpu.h"

namespace py = pybind11;

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using IntArray = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;

namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw py::value_error(message);
}

FloatArray roi_align(const std::vector<FloatArray>& features, const FloatArray& rois, const IntArray& batch_idx,
                     int output_height, int output_width, int sampling_ratio, int aligned, int mode, int quantized,
                     const std::vector<float>& spatial_scales, float canonical_scale, int canonical_level) {
  require(!features.empty(), "roi_align: needs at least one feature map");
  require(features.size() == spatial_scales.size(), "roi_align: need one spatial scale per feature map");
  require(output_height > 0 && output_width > 0, "roi_align: output size must be positive");
  require(mode == 0 || mode == 1, "roi_align: mode must be 0 (avg) or 1 (max)");
  require(rois.ndim() == 2 && rois.shape(1) == 4, "roi_align: rois must be [R, 4]");
  require(batch_idx.ndim() == 1 && batch_idx.shape(0) == rois.shape(0), "roi_align: batch_idx must be [R]");
  std::vector<edgeseg::FeatureLevel> levels;
  const auto& f0 = features[0];
  require(f0.ndim() == 4, "roi_align: features must be [B, C, H, W]");
  const int batch = static_cast<int>(f0.shape(0));
  const int channels = static_cast<int>(f0.shape(1));
  for (std::size_t l = 0; l < features.size(); ++l) {
    const auto& f = features[l];
    require(f.ndim() == 4 && f.shape(0) == batch && f.shape(1) == channels,
            "roi_align: every feature map must be [B, C, H_l, W_l] with the same B and C");
    require(spatial_scales[l] > 0.0f, "roi_align: spatial scales must be positive");
    levels.push_back({f.data(), static_cast<int>(f.shape(2)), static_cast<int>(f.shape(3)), spatial_scales[l]});
  }
  edgeseg::RoiAlignParams p;
  p.output_height = output_height;
  p.output_width = output_width;
  p.sampling_ratio = sampling_ratio;
  p.aligned = aligned;
  p.mode = mode;
  p.quantized = quantized;
  p.canonical_scale = canonical_scale;
  p.canonical_level = canonical_level;
  const int num_rois = static_cast<int>(rois.shape(0));
  FloatArray pooled({static_cast<py::ssize_t>(num_rois), static_cast<py::ssize_t>(channels),
                     static_cast<py::ssize_t>(output_height), static_cast<py::ssize_t>(output_width)});
  float* out = pooled.mutable_data();
  {
    py::gil_scoped_release release;
    edgeseg::roi_align_cpu(levels.data(), static_cast<int>(levels.size()), batch, channels, rois.data(),
                           batch_idx.data(), num_rois, p, out);
  }
  return pooled;
}

std::tuple<FloatArray, FloatArray, IntArray, IntArray, IntArray> nms(const FloatArray& boxes, const FloatArray& scores,
                                                                    float score_threshold, float iou_threshold,
                                                                    int pre_nms_top_k, int max_detections) {
  require(scores.ndim() == 3, "nms: scores must be [B, N, C]");
  require(max_detections >= 0, "nms: max_detections must be >= 0");
  const py::ssize_t batch = scores.shape(0), num_boxes = scores.shape(1), num_classes = scores.shape(2);
  const bool per_class = boxes.ndim() == 4;
  require((boxes.ndim() == 3 && boxes.shape(2) == 4) || (per_class && boxes.shape(2) == num_classes && boxes.shape(3) == 4),
          "nms: boxes must be [B, N, 4] or [B, N, C, 4]");
  require(boxes.shape(0) == batch && boxes.shape(1) == num_boxes, "nms: boxes and scores disagree on B or N");
  const py::ssize_t k = max_detections;
  FloatArray det_boxes({batch, k, static_cast<py::ssize_t>(4)});
  FloatArray det_scores({batch, k});
  IntArray det_classes({batch, k});
  IntArray det_indices({batch, k});
  IntArray num_detections({batch});
  edgeseg::NmsParams p{score_threshold, iou_threshold, pre_nms_top_k, max_detections};
  float* ob = det_boxes.mutable_data();
  float* os = det_scores.mutable_data();
  int32_t* oc = det_classes.mutable_data();
  int32_t* oi = det_indices.mutable_data();
  int32_t* on = num_detections.mutable_data();
  {
    py::gil_scoped_release release;
    edgeseg::nms_cpu(boxes.data(), per_class, scores.data(), static_cast<int>(batch), static_cast<int>(num_boxes),
                     static_cast<int>(num_classes), p, ob, os, oc, oi, on);
  }
  return {det_boxes, det_scores, det_classes, det_indices, num_detections};
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "C++ CPU twins of the edgeseg custom ops (RoIAlign, NMS) over numpy arrays.";
  m.def("roi_align", &roi_align, py::arg("features"), py::arg("rois"), py::arg("batch_idx"), py::arg("output_height"),
        py::arg("output_width"), py::arg("sampling_ratio"), py::arg("aligned"), py::arg("mode"), py::arg("quantized"),
        py::arg("spatial_scales"), py::arg("canonical_scale"), py::arg("canonical_level"),
        "Multi-level RoIAlign / RoI Pool: pooled [R, C, output_height, output_width] float32.");
  m.def("nms", &nms, py::arg("boxes"), py::arg("scores"), py::arg("score_threshold"), py::arg("iou_threshold"),
        py::arg("pre_nms_top_k"), py::arg("max_detections"),
        "Class-aware batched NMS: (det_boxes, det_scores, det_classes, det_indices, num_detections).");
}
