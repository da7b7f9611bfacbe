// Element types as the plugins' type rules see them, without TensorRT types, so the rules (which
// tensor may be float16, which must stay float32) compile and are tested with a plain C++ compiler
// (tests/plugins/test_plugin_io_rules.py). The plugins map nvinfer1::DataType onto this.
#pragma once

#include <cstdint>

namespace edgeseg {

enum class IoType : int32_t {
  kFloat32 = 0,
  kFloat16 = 1,
  kInt32 = 2,
  kOther = 3,  // anything else TensorRT may propose (int8, bf16, ...): never accepted
};

// A tensor's extents as TensorRT reports them once shapes are known (-1 = not known yet).
struct IoDims {
  int32_t rank = 0;
  int64_t d[8] = {};
};

}  // namespace edgeseg
