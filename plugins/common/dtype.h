// Element types the CUDA launchers accept, without TensorRT types, so the kernels build and are
// tested (ctypes harness) on any CUDA machine; the plugins map nvinfer1::DataType onto this.
#pragma once

#include <cstdint>

namespace edgeseg {

enum class DType : int32_t {
  kFloat32 = 0,
  kFloat16 = 1,
};

}  // namespace edgeseg
