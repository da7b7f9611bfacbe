#include "common/plugin_log.h"

#include <atomic>
#include <cstdio>

namespace edgeseg::trt {
namespace {
std::atomic<nvinfer1::ILoggerFinder*> g_finder{nullptr};
}  // namespace

void set_logger_finder(nvinfer1::ILoggerFinder* finder) { g_finder.store(finder); }

void log_error(char const* plugin, std::string const& message) noexcept {
  try {
    const std::string line = std::string("[edgeseg] ") + plugin + ": " + message;
    nvinfer1::ILoggerFinder* finder = g_finder.load();
    nvinfer1::ILogger* logger = finder != nullptr ? finder->findLogger() : nullptr;
    if (logger != nullptr) {
      logger->log(nvinfer1::ILogger::Severity::kERROR, line.c_str());
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
  } catch (...) {  // nothing may escape a noexcept plugin method
  }
}

}  // namespace edgeseg::trt
