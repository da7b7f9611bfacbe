// What every edgeseg IPluginV3 plugin and creator repeats, written once: the capability lookup,
// name/version/namespace, clone and attachToContext (a plugin is its fields), field serialisation,
// error logging, and a creator that reads, checks and constructs. Each plugin keeps only its
// shapes, types, formats and enqueue.
#pragma once

#include <NvInferRuntime.h>

#include <new>
#include <string>
#include <utility>

#include "common/plugin_fields.h"
#include "common/plugin_log.h"

namespace edgeseg::trt {

// A plugin's identity as its generated <op>_fields.h spells it.
struct PluginIdentity {
  char const* name;
  char const* version;
  char const* plugin_namespace;
};

// CRTP base: Derived is constructible from FieldsT and implements the op-specific methods.
template <typename Derived, typename FieldsT>
class PluginV3Base : public nvinfer1::IPluginV3,
                     public nvinfer1::IPluginV3OneCore,
                     public nvinfer1::IPluginV3OneBuild,
                     public nvinfer1::IPluginV3OneRuntime {
 public:
  PluginV3Base(FieldsT fields, PluginIdentity id) : fields_(std::move(fields)), id_(id) {}

  // IPluginV3
  nvinfer1::IPluginCapability* getCapabilityInterface(nvinfer1::PluginCapabilityType type) noexcept override {
    switch (type) {
      case nvinfer1::PluginCapabilityType::kCORE:
        return static_cast<nvinfer1::IPluginV3OneCore*>(this);
      case nvinfer1::PluginCapabilityType::kBUILD:
        return static_cast<nvinfer1::IPluginV3OneBuild*>(this);
      case nvinfer1::PluginCapabilityType::kRUNTIME:
        return static_cast<nvinfer1::IPluginV3OneRuntime*>(this);
    }
    return nullptr;
  }

  nvinfer1::IPluginV3* clone() noexcept override { return new (std::nothrow) Derived(fields_); }

  // IPluginV3OneCore
  nvinfer1::AsciiChar const* getPluginName() const noexcept override { return id_.name; }
  nvinfer1::AsciiChar const* getPluginVersion() const noexcept override { return id_.version; }
  nvinfer1::AsciiChar const* getPluginNamespace() const noexcept override { return id_.plugin_namespace; }

  // IPluginV3OneRuntime
  nvinfer1::IPluginV3* attachToContext(nvinfer1::IPluginResourceContext* /*context*/) noexcept override {
    return clone();
  }

  nvinfer1::PluginFieldCollection const* getFieldsToSerialize() noexcept override {
    return serialized_.set(describe_fields(fields_));
  }

 protected:
  // Logs `why` under the plugin's name; returns TensorRT's failure code.
  int32_t fail(std::string const& why) const {
    log_error(id_.name, why);
    return -1;
  }

  FieldsT fields_;

 private:
  PluginIdentity id_;
  FieldCollection serialized_;
};

// The creator of PluginT: reads the fields TensorRT passes, refuses those `check` explains
// (check returns "" for usable fields), and constructs the plugin.
template <typename PluginT, typename FieldsT>
class PluginCreatorV3 final : public nvinfer1::IPluginCreatorV3One {
 public:
  using Check = std::string (*)(FieldsT const&);

  PluginCreatorV3(PluginIdentity id, Check check) : id_(id), check_(check) {
    field_names_.set(describe_fields(defaults_));
  }

  nvinfer1::IPluginV3* createPlugin(nvinfer1::AsciiChar const* /*name*/, nvinfer1::PluginFieldCollection const* fc,
                                    nvinfer1::TensorRTPhase /*phase*/) noexcept override {
    try {
      FieldsT fields;
      std::string error;
      if (!read_fields(fc, fields, error) || !(error = check_(fields)).empty()) {
        log_error(id_.name, error);
        return nullptr;
      }
      return new PluginT(std::move(fields));
    } catch (...) {
      log_error(id_.name, "out of memory creating the plugin");
      return nullptr;
    }
  }

  nvinfer1::PluginFieldCollection const* getFieldNames() noexcept override { return &field_names_.collection; }
  nvinfer1::AsciiChar const* getPluginName() const noexcept override { return id_.name; }
  nvinfer1::AsciiChar const* getPluginVersion() const noexcept override { return id_.version; }
  nvinfer1::AsciiChar const* getPluginNamespace() const noexcept override { return id_.plugin_namespace; }

 private:
  PluginIdentity id_;
  Check check_;
  FieldsT defaults_;
  FieldCollection field_names_;
};

}  // namespace edgeseg::trt
