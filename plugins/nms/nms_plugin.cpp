// TensorRT IPluginV3 plugin EdgesegNMS (namespace "edgeseg", version "1") and its creator.
// Fields, inputs and outputs: edgeseg/ops/specs/nms.yaml (README.md lists them). Output shapes do
// not depend on the data (K = max_detections rows, padded, plus a count), so engines need no
// output allocator. The work is done by launch_nms (nms_kernel.cu), sharing _math.h with the CPU twin.
#include <NvInferRuntime.h>

#include <cstdint>
#include <string>

#include "common/plugin_creators.h"
#include "common/plugin_v3.h"
#include "nms/nms_fields.h"
#include "nms/nms_kernel.h"
#include "nms/nms_rules.h"

namespace edgeseg::trt {
namespace {

using namespace nvinfer1;
namespace spec = nms_fields;
constexpr PluginIdentity kIdentity{spec::kPluginName, spec::kPluginVersion, spec::kPluginNamespace};

constexpr int32_t kNumInputs = 2;  // boxes, scores

std::string check_fields(spec::Fields const& f) {
  if (f.max_detections < 1) return "max_detections must be >= 1";
  if (f.pre_nms_top_k > kNmsMaxCandidates) {
    return "pre_nms_top_k must be <= " + std::to_string(kNmsMaxCandidates) + " (the CUDA kernel's bitmask limit)";
  }
  if (!(f.iou_threshold == f.iou_threshold) || !(f.score_threshold == f.score_threshold)) {
    return "iou_threshold and score_threshold must be numbers";
  }
  return "";
}

NmsParams to_params(spec::Fields const& f) {
  NmsParams p;
  p.score_threshold = f.score_threshold;
  p.iou_threshold = f.iou_threshold;
  p.pre_nms_top_k = f.pre_nms_top_k;
  p.max_detections = f.max_detections;
  return p;
}

class NmsPlugin final : public PluginV3Base<NmsPlugin, spec::Fields> {
 public:
  explicit NmsPlugin(spec::Fields const& fields) : PluginV3Base(fields, kIdentity) {}

  // IPluginV3OneBuild
  int32_t getNbOutputs() const noexcept override { return spec::kNumOutputs; }

  int32_t getOutputDataTypes(DataType* outputTypes, int32_t nbOutputs, DataType const* /*inputTypes*/,
                             int32_t nbInputs) const noexcept override {
    if (nbInputs != kNumInputs || nbOutputs != spec::kNumOutputs) return fail("expects 2 inputs and 5 outputs");
    outputTypes[0] = DataType::kFLOAT;  // det_boxes: float32 whatever the network's precision
    outputTypes[1] = DataType::kFLOAT;  // det_scores
    outputTypes[2] = DataType::kINT32;  // det_classes
    outputTypes[3] = DataType::kINT32;  // det_indices
    outputTypes[4] = DataType::kINT32;  // num_detections
    return 0;
  }

  int32_t getOutputShapes(DimsExprs const* inputs, int32_t nbInputs, DimsExprs const* /*shapeInputs*/,
                          int32_t /*nbShapeInputs*/, DimsExprs* outputs, int32_t nbOutputs,
                          IExprBuilder& exprBuilder) noexcept override {
    if (nbInputs != kNumInputs || nbOutputs != spec::kNumOutputs) return fail("expects 2 inputs and 5 outputs");
    DimsExprs const& boxes = inputs[0];
    DimsExprs const& scores = inputs[1];
    if ((boxes.nbDims != 3 && boxes.nbDims != 4) || scores.nbDims != 3) {
      return fail("boxes must be [B, N, 4] or [B, N, C, 4] and scores [B, N, C]");
    }
    IDimensionExpr const* batch = scores.d[0];
    IDimensionExpr const* k = exprBuilder.constant(fields_.max_detections);
    outputs[0].nbDims = 3;
    outputs[0].d[0] = batch;
    outputs[0].d[1] = k;
    outputs[0].d[2] = exprBuilder.constant(4);
    for (int32_t o = 1; o < 4; ++o) {
      outputs[o].nbDims = 2;
      outputs[o].d[0] = batch;
      outputs[o].d[1] = k;
    }
    outputs[4].nbDims = 1;
    outputs[4].d[0] = batch;
    return 0;
  }

  bool supportsFormatCombination(int32_t pos, DynamicPluginTensorDesc const* inOut, int32_t nbInputs,
                                 int32_t nbOutputs) noexcept override {
    if (nbInputs != kNumInputs || nbOutputs != spec::kNumOutputs || pos < 0 || pos >= nbInputs + nbOutputs) {
      return false;
    }
    PluginTensorDesc const& desc = inOut[pos].desc;
    if (desc.format != TensorFormat::kLINEAR) return false;
    const IoType type = desc.type == DataType::kFLOAT   ? IoType::kFloat32
                        : desc.type == DataType::kINT32 ? IoType::kInt32
                                                        : IoType::kOther;
    return nms_rules::supports_type(pos, type);  // boxes and scores float32 in and out, the rest int32
  }

  int32_t configurePlugin(DynamicPluginTensorDesc const* in, int32_t nbInputs, DynamicPluginTensorDesc const* /*out*/,
                          int32_t nbOutputs) noexcept override {
    if (nbInputs != kNumInputs || nbOutputs != spec::kNumOutputs) return fail("expects 2 inputs and 5 outputs");
    Dims const& max_scores = in[1].max;
    const int64_t candidates = nms_candidates(static_cast<int32_t>(max_scores.d[1]),
                                              static_cast<int32_t>(max_scores.d[2]), to_params(fields_));
    if (candidates > kNmsMaxCandidates) {
      return fail("N * C can reach " + std::to_string(candidates) + " candidates per image: set pre_nms_top_k to " +
                  "at most " + std::to_string(kNmsMaxCandidates));
    }
    return 0;
  }

  size_t getWorkspaceSize(DynamicPluginTensorDesc const* inputs, int32_t /*nbInputs*/,
                          DynamicPluginTensorDesc const* /*outputs*/, int32_t /*nbOutputs*/) const noexcept override {
    Dims const& s = inputs[1].max;
    return nms_workspace_size(static_cast<int32_t>(s.d[0]), static_cast<int32_t>(s.d[1]),
                              static_cast<int32_t>(s.d[2]), to_params(fields_));
  }

  // IPluginV3OneRuntime
  int32_t onShapeChange(PluginTensorDesc const* in, int32_t nbInputs, PluginTensorDesc const* /*out*/,
                        int32_t nbOutputs) noexcept override {
    if (nbInputs != kNumInputs || nbOutputs != spec::kNumOutputs) return fail("expects 2 inputs and 5 outputs");
    Dims const& boxes = in[0].dims;
    Dims const& scores = in[1].dims;
    const bool same_bn = boxes.d[0] == scores.d[0] && boxes.d[1] == scores.d[1];
    const bool ok = boxes.nbDims == 3 ? boxes.d[2] == 4 : (boxes.nbDims == 4 && boxes.d[2] == scores.d[2] && boxes.d[3] == 4);
    return same_bn && ok ? 0 : fail("boxes must be [B, N, 4] or [B, N, C, 4] matching scores [B, N, C]");
  }

  int32_t enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* /*outputDesc*/,
                  void const* const* inputs, void* const* outputs, void* workspace,
                  cudaStream_t stream) noexcept override {
    if (inputDesc[0].type != DataType::kFLOAT || inputDesc[1].type != DataType::kFLOAT) {
      return fail("boxes and scores must be float32");
    }
    const DType dtype = DType::kFloat32;
    Dims const& scores = inputDesc[1].dims;
    const auto batch = static_cast<int32_t>(scores.d[0]);
    const auto num_boxes = static_cast<int32_t>(scores.d[1]);
    const auto num_classes = static_cast<int32_t>(scores.d[2]);
    const NmsParams params = to_params(fields_);
    // TensorRT sized the workspace for the largest shapes; these shapes need no more than that.
    const size_t workspace_size = nms_workspace_size(batch, num_boxes, num_classes, params);
    const cudaError_t err = launch_nms(
        dtype, inputs[0], inputDesc[0].dims.nbDims == 4, inputs[1], batch, num_boxes, num_classes, params, workspace,
        workspace_size, outputs[0], outputs[1], static_cast<int32_t*>(outputs[2]), static_cast<int32_t*>(outputs[3]),
        static_cast<int32_t*>(outputs[4]), stream);
    return err == cudaSuccess ? 0 : fail(std::string("CUDA launch failed: ") + cudaGetErrorString(err));
  }
};

}  // namespace

IPluginCreatorV3One& nms_creator() {
  static PluginCreatorV3<NmsPlugin, spec::Fields> creator(kIdentity, check_fields);
  return creator;
}

}  // namespace edgeseg::trt
