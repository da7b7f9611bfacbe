#!/usr/bin/env bash
# Compile the TensorRT plugin glue against a folder of TensorRT headers (e.g. the include/ folder of
# a TensorRT release or of the TensorRT open-source repository at a tag), without TensorRT libraries:
#   plugins/check_trt_headers.sh /path/to/TensorRT/include [KEEP_DIR]
# Compiles every plugin source (both registration variants) with warnings as errors, the kernels
# for sm_87, links the loadLibrary variant with --no-undefined (it needs no libnvinfer) and checks
# that it exports getCreators and setLoggerFinder. Nothing runs on a GPU.
set -euo pipefail
HEADERS="${1:?usage: $0 TENSORRT_INCLUDE_DIR [KEEP_DIR]}"
KEEP="${2:-}"  # where to keep the linked plugin library (make trt-rtx-plugins loads it)
cd "$(dirname "$0")/.."
CUDA_HOME="${CUDA_HOME:-/usr/local/cuda}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
version=$(grep -hE "#define (NV_TENSORRT|TRT)_(MAJOR|MINOR|PATCH)(_ENTERPRISE)? [0-9]+" "$HEADERS/NvInferVersion.h" \
  | awk '{print $3}' | head -3 | paste -sd.)
CXX_FLAGS=(-std=c++17 -O2 -fPIC -fvisibility=hidden -Wall -Wextra -Werror -I plugins -isystem "$HEADERS"
  -isystem "$CUDA_HOME/include")
objs=()
for src in roi_align/roi_align_plugin.cpp nms/nms_plugin.cpp common/plugin_log.cpp common/plugin_registration.cpp; do
  obj="$OUT/$(basename "$src" .cpp).o"
  g++ "${CXX_FLAGS[@]}" -c "plugins/$src" -o "$obj"
  objs+=("$obj")
done
g++ "${CXX_FLAGS[@]}" -DEDGESEG_STATIC_REGISTRATION -c plugins/common/plugin_registration.cpp -o "$OUT/static_reg.o"
for cu in roi_align/roi_align_kernel.cu nms/nms_kernel.cu; do
  nvcc -std=c++17 -O2 -Xcompiler -fPIC,-fvisibility=hidden -fmad=false -arch=sm_87 -I plugins -c "plugins/$cu" -o "$OUT/$(basename "$cu").o"
  objs+=("$OUT/$(basename "$cu").o")
done
g++ -shared -Wl,--no-undefined "${objs[@]}" -L "$CUDA_HOME/lib64" -lcudart -o "$OUT/libedgeseg_trt_plugins.so"
exports=$(nm -D --defined-only "$OUT/libedgeseg_trt_plugins.so")  # whole list first: no SIGPIPE race
for sym in getCreators setLoggerFinder; do
  grep -qw "$sym" <<< "$exports" || { echo "missing export $sym"; exit 1; }
done
# Hidden visibility (as the CMake build): nothing of namespace edgeseg leaves the library, only the
# two entry points (libstdc++'s template instances stay exported, as the C++ ABI wants).
extra=$(nm -DC --defined-only "$OUT/libedgeseg_trt_plugins.so" | grep "edgeseg::" || true)
[ -z "$extra" ] || { echo "libedgeseg_trt_plugins.so exports edgeseg symbols: $extra"; exit 1; }
if [ -n "$KEEP" ]; then mkdir -p "$KEEP" && cp "$OUT/libedgeseg_trt_plugins.so" "$KEEP/"; fi
echo "check_trt_headers: plugin glue compiles against TensorRT ${version:-?} headers in $HEADERS"
