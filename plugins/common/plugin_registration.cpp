// How TensorRT finds the creators. Built twice (plugins/CMakeLists.txt), because a library must not
// offer the same creators both ways: IPluginRegistry::loadLibrary fails for creators that are
// already registered.
//
// * default (libedgeseg_trt_plugins.so): exports getCreators/setLoggerFinder for
//   IPluginRegistry::loadLibrary, i.e. Python `trt.get_plugin_registry().load_library(path)` and
//   trtexec --dynamicPlugins. Creators are registered under their own namespace ("edgeseg").
// * EDGESEG_STATIC_REGISTRATION (libedgeseg_trt_plugins_static.so): registers the creators with
//   the global registry when the library is dlopen'ed: Python `ctypes.CDLL(path)`, trtexec
//   --staticPlugins. We register under the "edgeseg" namespace explicitly; REGISTER_TENSORRT_PLUGIN
//   would register under the empty namespace, which the ONNX nodes' plugin_namespace would not find.
#include <NvInferRuntime.h>

#include <cstdint>

#include "common/plugin_creators.h"
#include "common/plugin_log.h"

#define EDGESEG_TRT_API extern "C" __attribute__((visibility("default")))

#ifdef EDGESEG_STATIC_REGISTRATION

namespace {

struct StaticRegistration {
  StaticRegistration() {
    nvinfer1::IPluginRegistry* registry = getPluginRegistry();
    if (registry == nullptr) return;
    for (nvinfer1::IPluginCreatorV3One* creator : {&edgeseg::trt::roi_align_creator(), &edgeseg::trt::nms_creator()}) {
      registry->registerCreator(*creator, creator->getPluginNamespace());
    }
  }
};

const StaticRegistration g_registration;

}  // namespace

#else

EDGESEG_TRT_API nvinfer1::IPluginCreatorInterface* const* getCreators(int32_t& nbCreators) {
  static nvinfer1::IPluginCreatorInterface* const creators[] = {&edgeseg::trt::roi_align_creator(),
                                                                 &edgeseg::trt::nms_creator()};
  nbCreators = 2;
  return creators;
}

EDGESEG_TRT_API void setLoggerFinder(nvinfer1::ILoggerFinder* finder) { edgeseg::trt::set_logger_finder(finder); }

#endif
