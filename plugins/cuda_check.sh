#!/usr/bin/env bash
# CI compile check of the CUDA kernels (no GPU needed), warnings as errors:
#  1. the CMake build (CPU twins, kernels, C ABI library) for one architecture, sm_87 (Orin);
#  2. roi_align_kernel.cu for every supported architecture (75 86 87 89 90 110).
# Compiling the CUB-heavy NMS kernel for all six architectures takes minutes on a 2-core runner,
# so CI builds all six for one kernel file only; EDGESEG_CUDA_CHECK_ALL=1 builds everything for all six.
set -euo pipefail
cd "$(dirname "$0")/.."
ARCHS="75 86 87 89 90 110"
BUILD=build/cuda-check
mkdir -p build
if [ "${EDGESEG_CUDA_CHECK_ALL:-0}" = "1" ]; then
  CMAKE_ARCHS="${ARCHS// /;}"
else
  CMAKE_ARCHS=87
fi
cmake -S plugins -B "$BUILD" -DEDGESEG_WERROR=ON "-DCMAKE_CUDA_ARCHITECTURES=$CMAKE_ARCHS" > "$BUILD.log" 2>&1 \
  || { cat "$BUILD.log"; exit 1; }
grep -q "nvcc not found" "$BUILD.log" && { echo "cmake did not find nvcc"; exit 1; }
cmake --build "$BUILD" -j 2
gencode=()
for a in $ARCHS; do gencode+=(-gencode "arch=compute_$a,code=sm_$a"); done
nvcc -std=c++17 -c -fmad=false -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror -I plugins "${gencode[@]}" \
  plugins/roi_align/roi_align_kernel.cu -o "$BUILD/roi_align_all_archs.o"
echo "cuda-check: kernels compiled (CMake build for sm_${CMAKE_ARCHS//;/,sm_}; roi_align for sm_${ARCHS// /,sm_})"
