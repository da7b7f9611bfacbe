// The library's plugin creators, for the registration unit (plugin_registration.cpp).
#pragma once

#include <NvInferRuntime.h>

namespace edgeseg::trt {

nvinfer1::IPluginCreatorV3One& roi_align_creator();
nvinfer1::IPluginCreatorV3One& nms_creator();

}  // namespace edgeseg::trt
