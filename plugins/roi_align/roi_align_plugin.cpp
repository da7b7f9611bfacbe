// TensorRT IPluginV3 plugin EdgesegRoIAlign (namespace "edgeseg", version "1") and its creator.
// Fields, inputs and outputs: edgeseg/ops/specs/roi_align.yaml (README.md lists them). The work is
// done by launch_roi_align (roi_align_kernel.cu), which shares _math.h with the CPU twin.
#include <NvInferRuntime.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/plugin_creators.h"
#include "common/plugin_v3.h"
#include "roi_align/roi_align_fields.h"
#include "roi_align/roi_align_kernel.h"
#include "roi_align/roi_align_rules.h"

namespace edgeseg::trt {
namespace {

using namespace nvinfer1;
namespace spec = roi_align_fields;
constexpr PluginIdentity kIdentity{spec::kPluginName, spec::kPluginVersion, spec::kPluginNamespace};

// nvinfer1::DataType as the TensorRT-free rules (roi_align_rules.h) see it.
IoType io_type(DataType type) {
  if (type == DataType::kFLOAT) return IoType::kFloat32;
  if (type == DataType::kHALF) return IoType::kFloat16;
  if (type == DataType::kINT32) return IoType::kInt32;
  return IoType::kOther;
}

IoDims io_dims(Dims const& dims) {
  IoDims out;
  out.rank = dims.nbDims < 0 || dims.nbDims > 8 ? -1 : dims.nbDims;
  for (int32_t i = 0; i < out.rank; ++i) out.d[i] = dims.d[i];
  return out;
}

bool to_dtype(DataType type, DType& out) {
  if (type == DataType::kFLOAT) {
    out = DType::kFloat32;
    return true;
  }
  if (type == DataType::kHALF) {
    out = DType::kFloat16;
    return true;
  }
  return false;
}

class RoiAlignPlugin final : public PluginV3Base<RoiAlignPlugin, spec::Fields> {
 public:
  explicit RoiAlignPlugin(spec::Fields fields) : PluginV3Base(std::move(fields), kIdentity) {}

  // IPluginV3OneBuild
  int32_t getNbOutputs() const noexcept override { return spec::kNumOutputs; }

  int32_t getOutputDataTypes(DataType* outputTypes, int32_t nbOutputs, DataType const* inputTypes,
                             int32_t nbInputs) const noexcept override {
    if (nbOutputs != 1 || nbInputs != num_inputs()) {
      return fail("expected " + std::to_string(num_inputs()) + " inputs (one per spatial_scales entry, rois, batch_idx)");
    }
    outputTypes[0] = inputTypes[0];
    return 0;
  }

  int32_t getOutputShapes(DimsExprs const* inputs, int32_t nbInputs, DimsExprs const* /*shapeInputs*/,
                          int32_t /*nbShapeInputs*/, DimsExprs* outputs, int32_t nbOutputs,
                          IExprBuilder& exprBuilder) noexcept override {
    if (nbInputs != num_inputs() || nbOutputs != 1) return fail("wrong number of inputs or outputs");
    DimsExprs const& rois = inputs[levels()];
    if (inputs[0].nbDims != 4 || rois.nbDims != 2 || inputs[levels() + 1].nbDims != 1) {
      return fail("features must be [B, C, H, W], rois [R, 4] and batch_idx [R]");
    }
    outputs[0].nbDims = 4;
    outputs[0].d[0] = rois.d[0];
    outputs[0].d[1] = inputs[0].d[1];
    outputs[0].d[2] = exprBuilder.constant(fields_.output_height);
    outputs[0].d[3] = exprBuilder.constant(fields_.output_width);
    return 0;
  }

  bool supportsFormatCombination(int32_t pos, DynamicPluginTensorDesc const* inOut, int32_t nbInputs,
                                 int32_t nbOutputs) noexcept override {
    if (nbInputs != num_inputs() || nbOutputs != 1 || pos < 0 || pos >= nbInputs + nbOutputs) return false;
    PluginTensorDesc const& desc = inOut[pos].desc;
    if (desc.format != TensorFormat::kLINEAR) return false;
    // Features and pooled float32 or float16 (all alike); rois float32; batch_idx int32.
    return roi_align_rules::supports_type(pos, levels(), io_type(desc.type), io_type(inOut[0].desc.type));
  }

  int32_t configurePlugin(DynamicPluginTensorDesc const* in, int32_t nbInputs, DynamicPluginTensorDesc const* out,
                          int32_t nbOutputs) noexcept override {
    if (nbInputs != num_inputs() || nbOutputs != 1) return fail("wrong number of inputs or outputs");
    std::vector<IoDims> features;
    for (int32_t l = 0; l < levels(); ++l) features.push_back(io_dims(in[l].desc.dims));
    const std::string why = roi_align_rules::check_shapes(features.data(), levels(), io_dims(in[levels()].desc.dims),
                                                          io_dims(in[levels() + 1].desc.dims));
    if (!why.empty()) return fail(why);
    return out[0].desc.dims.nbDims == 4 ? 0 : fail("pooled must be rank 4");
  }

  size_t getWorkspaceSize(DynamicPluginTensorDesc const* /*inputs*/, int32_t /*nbInputs*/,
                          DynamicPluginTensorDesc const* /*outputs*/, int32_t /*nbOutputs*/) const noexcept override {
    return 0;
  }

  // IPluginV3OneRuntime
  int32_t onShapeChange(PluginTensorDesc const* in, int32_t nbInputs, PluginTensorDesc const* /*out*/,
                        int32_t nbOutputs) noexcept override {
    if (nbInputs != num_inputs() || nbOutputs != 1) return fail("wrong number of inputs or outputs");
    std::vector<IoDims> features;
    for (int32_t l = 0; l < levels(); ++l) features.push_back(io_dims(in[l].dims));
    const std::string why = roi_align_rules::check_shapes(features.data(), levels(), io_dims(in[levels()].dims),
                                                          io_dims(in[levels() + 1].dims));
    return why.empty() ? 0 : fail(why);
  }

  int32_t enqueue(PluginTensorDesc const* inputDesc, PluginTensorDesc const* /*outputDesc*/,
                  void const* const* inputs, void* const* outputs, void* /*workspace*/,
                  cudaStream_t stream) noexcept override {
    DType dtype;
    if (!to_dtype(inputDesc[0].type, dtype)) return fail("features must be float32 or float16");
    RoiAlignLevels maps{};
    maps.count = levels();
    for (int32_t l = 0; l < levels(); ++l) {
      maps.data[l] = inputs[l];
      maps.height[l] = static_cast<int32_t>(inputDesc[l].dims.d[2]);
      maps.width[l] = static_cast<int32_t>(inputDesc[l].dims.d[3]);
      maps.scale[l] = fields_.spatial_scales[static_cast<size_t>(l)];
    }
    const cudaError_t err = launch_roi_align(
        dtype, maps, static_cast<float const*>(inputs[levels()]), static_cast<int32_t const*>(inputs[levels() + 1]),
        static_cast<int32_t>(inputDesc[levels()].dims.d[0]), static_cast<int32_t>(inputDesc[0].dims.d[0]),
        static_cast<int32_t>(inputDesc[0].dims.d[1]), params(), outputs[0], stream);
    return err == cudaSuccess ? 0 : fail(std::string("CUDA launch failed: ") + cudaGetErrorString(err));
  }

 private:
  int32_t levels() const { return static_cast<int32_t>(fields_.spatial_scales.size()); }
  int32_t num_inputs() const { return levels() + 2; }

  RoiAlignParams params() const {
    RoiAlignParams p;
    p.output_height = fields_.output_height;
    p.output_width = fields_.output_width;
    p.sampling_ratio = fields_.sampling_ratio;
    p.aligned = fields_.aligned;
    p.mode = fields_.mode;
    p.quantized = fields_.quantized;
    p.canonical_scale = fields_.canonical_scale;
    p.canonical_level = fields_.canonical_level;
    return p;
  }
};

}  // namespace

IPluginCreatorV3One& roi_align_creator() {
  static PluginCreatorV3<RoiAlignPlugin, spec::Fields> creator(kIdentity, roi_align_rules::check_fields);
  return creator;
}

}  // namespace edgeseg::trt
