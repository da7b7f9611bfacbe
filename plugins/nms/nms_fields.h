// Generated from edgeseg/ops/specs/nms.yaml by plugins/common/gen_fields.py.
// Do not edit: change the spec and re-run the generator (tests/plugins/test_field_specs.py
// fails while this file is stale).
#pragma once

#include <cstdint>
#include <vector>

namespace edgeseg::nms_fields {

constexpr char const* kPluginName = "EdgesegNMS";
constexpr char const* kPluginVersion = "1";
constexpr char const* kPluginNamespace = "edgeseg";
constexpr int32_t kNumFields = 4;
constexpr int32_t kNumOutputs = 5;

//! Field values with the spec's defaults.
struct Fields {
  float score_threshold = 0.05f;
  float iou_threshold = 0.5f;
  int32_t pre_nms_top_k = 1000;
  int32_t max_detections = 100;
};

//! Calls visit(name, member) for every field in spec order; works for const and mutable Fields.
template <typename FieldsT, typename Visitor>
void visit_fields(FieldsT& fields, Visitor&& visit) {
  visit("score_threshold", fields.score_threshold);
  visit("iou_threshold", fields.iou_threshold);
  visit("pre_nms_top_k", fields.pre_nms_top_k);
  visit("max_detections", fields.max_detections);
}

}  // namespace edgeseg::nms_fields
