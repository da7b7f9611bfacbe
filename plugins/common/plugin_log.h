// Error reporting for the TensorRT plugins: through TensorRT's logger once the library was loaded
// with loadLibrary (setLoggerFinder), else to stderr. Plugin methods are noexcept and report
// failures by return value; this says why.
#pragma once

#include <NvInferRuntime.h>

#include <string>

namespace edgeseg::trt {

void set_logger_finder(nvinfer1::ILoggerFinder* finder);

// "[edgeseg] <plugin>: <message>" at kERROR severity.
void log_error(char const* plugin, std::string const& message) noexcept;

}  // namespace edgeseg::trt
