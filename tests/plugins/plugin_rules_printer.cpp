// Runs the plugins' TensorRT-free rules (plugins/<op>/<op>_rules.h) for
// tests/plugins/test_plugin_io_rules.py, printing one JSON line per answer:
//   types                      every supports_type answer of both plugins
//   fields S0 S1 ...           RoIAlign check_fields with these spatial_scales
//   shapes R N                 RoIAlign check_shapes with rois [R, 4] and batch_idx [N]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "nms/nms_rules.h"
#include "roi_align/roi_align_rules.h"

namespace {

using edgeseg::IoDims;
using edgeseg::IoType;

constexpr IoType kTypes[] = {IoType::kFloat32, IoType::kFloat16, IoType::kInt32, IoType::kOther};

void print_message(std::string const& why) {
  std::string escaped;
  for (char c : why) escaped += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
  std::printf("{\"error\": \"%s\"}\n", escaped.c_str());
}

IoDims dims(std::initializer_list<int64_t> d) {
  IoDims out;
  for (int64_t v : d) out.d[out.rank++] = v;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "types") == 0) {
    for (int levels = 1; levels <= 3; ++levels) {
      for (int pos = 0; pos < levels + 3; ++pos) {
        for (IoType first : {IoType::kFloat32, IoType::kFloat16}) {
          for (IoType t : kTypes) {
            std::printf("{\"op\": \"roi_align\", \"levels\": %d, \"pos\": %d, \"first\": %d, \"type\": %d, \"ok\": %s}\n",
                        levels, pos, static_cast<int>(first), static_cast<int>(t),
                        edgeseg::roi_align_rules::supports_type(pos, levels, t, first) ? "true" : "false");
          }
        }
      }
    }
    for (int pos = 0; pos < 7; ++pos) {
      for (IoType t : kTypes) {
        std::printf("{\"op\": \"nms\", \"pos\": %d, \"type\": %d, \"ok\": %s}\n", pos, static_cast<int>(t),
                    edgeseg::nms_rules::supports_type(pos, t) ? "true" : "false");
      }
    }
    return 0;
  }
  if (argc >= 2 && std::strcmp(argv[1], "fields") == 0) {
    edgeseg::roi_align_fields::Fields f;
    f.spatial_scales.clear();
    for (int i = 2; i < argc; ++i) f.spatial_scales.push_back(std::strtof(argv[i], nullptr));
    print_message(edgeseg::roi_align_rules::check_fields(f));
    return 0;
  }
  if (argc == 4 && std::strcmp(argv[1], "shapes") == 0) {
    const int64_t rois = std::atoll(argv[2]), idx = std::atoll(argv[3]);
    const IoDims features[2] = {dims({2, 8, 32, 32}), dims({2, 8, 16, 16})};
    print_message(edgeseg::roi_align_rules::check_shapes(features, 2, dims({rois, 4}), dims({idx})));
    return 0;
  }
  std::fprintf(stderr, "usage: %s types | fields S... | shapes R N\n", argv[0]);
  return 2;
}
