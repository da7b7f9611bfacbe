// Prints the generated C++ field tables (what the TensorRT creators advertise and serialise) as
// JSON lines, so tests/plugins/test_field_specs.py can compare them with the YAML specs.
#include <cstdint>
#include <cstdio>
#include <vector>

#include "nms/nms_fields.h"
#include "roi_align/roi_align_fields.h"

namespace {

void print_value(char const* op, char const* name, int32_t v) {
  std::printf("{\"op\": \"%s\", \"name\": \"%s\", \"type\": \"int32\", \"default\": %d}\n", op, name, v);
}

void print_value(char const* op, char const* name, float v) {
  std::printf("{\"op\": \"%s\", \"name\": \"%s\", \"type\": \"float32\", \"default\": %.9g}\n", op, name, v);
}

void print_value(char const* op, char const* name, std::vector<float> const& v) {
  std::printf("{\"op\": \"%s\", \"name\": \"%s\", \"type\": \"float32[]\", \"default\": [", op, name);
  for (size_t i = 0; i < v.size(); ++i) std::printf("%s%.9g", i ? ", " : "", v[i]);
  std::printf("]}\n");
}

template <typename FieldsT>
void print_table(char const* op, char const* plugin, char const* version, char const* ns, int32_t count) {
  std::printf("{\"op\": \"%s\", \"plugin_name\": \"%s\", \"plugin_version\": \"%s\", \"plugin_namespace\": \"%s\", "
              "\"num_fields\": %d}\n", op, plugin, version, ns, count);
  const FieldsT defaults{};
  visit_fields(defaults, [op](char const* name, auto const& value) { print_value(op, name, value); });
}

}  // namespace

int main() {
  namespace ra = edgeseg::roi_align_fields;
  namespace nm = edgeseg::nms_fields;
  print_table<ra::Fields>("roi_align", ra::kPluginName, ra::kPluginVersion, ra::kPluginNamespace, ra::kNumFields);
  print_table<nm::Fields>("nms", nm::kPluginName, nm::kPluginVersion, nm::kPluginNamespace, nm::kNumFields);
  return 0;
}
