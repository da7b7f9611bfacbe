// Bridges the generated field tables (<op>_fields.h) and TensorRT's PluginFieldCollection, so the
// creator's field list, serialisation and deserialisation all follow the spec's one table.
#pragma once

#include <NvInferRuntime.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace edgeseg::trt {

inline nvinfer1::PluginField as_plugin_field(char const* name, int32_t const& value) {
  return nvinfer1::PluginField(name, &value, nvinfer1::PluginFieldType::kINT32, 1);
}

inline nvinfer1::PluginField as_plugin_field(char const* name, float const& value) {
  return nvinfer1::PluginField(name, &value, nvinfer1::PluginFieldType::kFLOAT32, 1);
}

inline nvinfer1::PluginField as_plugin_field(char const* name, std::vector<float> const& value) {
  return nvinfer1::PluginField(name, value.data(), nvinfer1::PluginFieldType::kFLOAT32,
                               static_cast<int32_t>(value.size()));
}

// Fields pointing into `fields` (valid while it lives unchanged), in spec order.
template <typename FieldsT>
std::vector<nvinfer1::PluginField> describe_fields(FieldsT const& fields) {
  std::vector<nvinfer1::PluginField> out;
  visit_fields(fields, [&out](char const* name, auto const& value) { out.push_back(as_plugin_field(name, value)); });
  return out;
}

inline bool assign(nvinfer1::PluginField const& f, int32_t& out) {
  if (f.type != nvinfer1::PluginFieldType::kINT32 || f.length != 1 || f.data == nullptr) return false;
  std::memcpy(&out, f.data, sizeof(int32_t));
  return true;
}

inline bool assign(nvinfer1::PluginField const& f, float& out) {
  if (f.type != nvinfer1::PluginFieldType::kFLOAT32 || f.length != 1 || f.data == nullptr) return false;
  std::memcpy(&out, f.data, sizeof(float));
  return true;
}

inline bool assign(nvinfer1::PluginField const& f, std::vector<float>& out) {
  if (f.type != nvinfer1::PluginFieldType::kFLOAT32 || f.length < 1 || f.data == nullptr) return false;
  out.resize(static_cast<size_t>(f.length));
  std::memcpy(out.data(), f.data, out.size() * sizeof(float));
  return true;
}

// Copies the entries of `fc` that name a field into `fields` (others keep their spec default;
// names the spec does not know are ignored). False, with `error` set, on a wrong type or length.
template <typename FieldsT>
bool read_fields(nvinfer1::PluginFieldCollection const* fc, FieldsT& fields, std::string& error) {
  if (fc == nullptr) return true;
  for (int32_t i = 0; i < fc->nbFields; ++i) {
    nvinfer1::PluginField const& f = fc->fields[i];
    if (f.name == nullptr) continue;
    bool ok = true;
    visit_fields(fields, [&](char const* name, auto& value) {
      if (std::strcmp(name, f.name) == 0) ok = assign(f, value);
    });
    if (!ok) {
      error = std::string("field '") + f.name + "' has the wrong type or length (the spec allows int32, float32 "
              "or a float32 list)";
      return false;
    }
  }
  return true;
}

// Owns the PluginField array a PluginFieldCollection points at.
struct FieldCollection {
  std::vector<nvinfer1::PluginField> fields;
  nvinfer1::PluginFieldCollection collection{0, nullptr};

  nvinfer1::PluginFieldCollection const* set(std::vector<nvinfer1::PluginField> f) {
    fields = std::move(f);
    collection.nbFields = static_cast<int32_t>(fields.size());
    collection.fields = fields.data();
    return &collection;
  }
};

}  // namespace edgeseg::trt
