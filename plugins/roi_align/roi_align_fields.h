// Generated from edgeseg/ops/specs/roi_align.yaml by plugins/common/gen_fields.py.
// Do not edit: change the spec and re-run the generator (tests/plugins/test_field_specs.py
// fails while this file is stale).
#pragma once

#include <cstdint>
#include <vector>

namespace edgeseg::roi_align_fields {

constexpr char const* kPluginName = "EdgesegRoIAlign";
constexpr char const* kPluginVersion = "1";
constexpr char const* kPluginNamespace = "edgeseg";
constexpr int32_t kNumFields = 9;
constexpr int32_t kNumOutputs = 1;

//! Field values with the spec's defaults.
struct Fields {
  int32_t output_height = 7;
  int32_t output_width = 7;
  int32_t sampling_ratio = 2;
  int32_t aligned = 0;
  int32_t mode = 0;
  int32_t quantized = 0;
  std::vector<float> spatial_scales = {0.25f};
  float canonical_scale = 224.0f;
  int32_t canonical_level = 4;
};

//! Calls visit(name, member) for every field in spec order; works for const and mutable Fields.
template <typename FieldsT, typename Visitor>
void visit_fields(FieldsT& fields, Visitor&& visit) {
  visit("output_height", fields.output_height);
  visit("output_width", fields.output_width);
  visit("sampling_ratio", fields.sampling_ratio);
  visit("aligned", fields.aligned);
  visit("mode", fields.mode);
  visit("quantized", fields.quantized);
  visit("spatial_scales", fields.spatial_scales);
  visit("canonical_scale", fields.canonical_scale);
  visit("canonical_level", fields.canonical_level);
}

}  // namespace edgeseg::roi_align_fields
