#!/usr/bin/env bash
# CI compile check of the CUDA kernels (no GPU needed), warnings as errors:
#  1. the CMake build (CPU twins, kernels, C ABI library) for one architecture, sm_87 (Orin);
#  2. roi_align_kernel.cu for every supported architecture (75 86 87 89 90 110);
#  3. every kernel file for sm_87 with the assembler of CUDA 12.6, JetPack 6's toolkit (below).
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
# Hidden visibility: nothing of namespace edgeseg (edgeseg::launch_*) leaves the kernels library,
# only its extern "C" edgeseg_* API, so no other library can bind to our launchers or we to theirs.
extra=$(nm -DC --defined-only "$BUILD/libedgeseg_kernels.so" | grep "edgeseg::" || true)
[ -z "$extra" ] || { echo "cuda-check: libedgeseg_kernels.so exports edgeseg symbols: $extra"; exit 1; }
gencode=()
for a in $ARCHS; do gencode+=(-gencode "arch=compute_$a,code=sm_$a"); done
nvcc -std=c++17 -c -fmad=false -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror -I plugins "${gencode[@]}" \
  plugins/roi_align/roi_align_kernel.cu -o "$BUILD/roi_align_all_archs.o"

# CUDA 12.6 (JetPack 6.1/6.2). PyPI's nvidia-cuda-nvcc-cu12 wheels ship ptxas, libnvvm and headers
# but no nvcc driver, cicc or cudafe++, so CUDA 12.6 cannot compile our C++ here. What it can check:
# the device code of every kernel file, as PTX from this nvcc, assembles for sm_87 with 12.6's
# ptxas, warnings as errors (an instruction or PTX feature 12.6 lacks fails here). The PTX ISA
# line is lowered to 8.5, the newest 12.6 reads; ptxas refuses the file if it uses anything newer.
NVCC12_WHEEL=nvidia-cuda-nvcc-cu12==12.6.85
CUDA12=build/cuda12
PTXAS12="$CUDA12/nvidia/cuda_nvcc/bin/ptxas"
if [ ! -x "$PTXAS12" ]; then
  PY="${PYTHON:-}"
  [ -n "$PY" ] || { [ -x .venv/bin/python ] && PY=.venv/bin/python; } || PY=python3
  "$PY" -m pip install -q --disable-pip-version-check --no-deps --target "$CUDA12" "$NVCC12_WHEEL"
fi
# Read the whole banner before matching: ptxas writes it line by line, and a `ptxas | grep -q` pipe
# under pipefail fails at random when grep exits first and ptxas dies of SIGPIPE (seen in CI).
ptxas12_version=$("$PTXAS12" --version)
grep -q "release 12.6" <<< "$ptxas12_version" \
  || { echo "cuda-check: $PTXAS12 is not CUDA 12.6: $ptxas12_version"; exit 1; }
for cu in roi_align/roi_align_kernel.cu nms/nms_kernel.cu common/kernels_capi.cu; do
  ptx="$BUILD/$(basename "$cu" .cu).sm87.ptx"
  nvcc -std=c++17 -ptx -fmad=false -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror -I plugins \
    -arch=compute_87 "plugins/$cu" -o "$ptx"
  sed -i -E 's/^\.version (9|[1-9][0-9])\.[0-9]+$/.version 8.5/' "$ptx"
  "$PTXAS12" -arch=sm_87 --warning-as-error "$ptx" -o "${ptx%.ptx}.cubin"
done
echo "cuda-check: kernels compiled (CMake build for sm_${CMAKE_ARCHS//;/,sm_}; roi_align for sm_${ARCHS// /,sm_}; every kernel's sm_87 PTX assembled by CUDA 12.6's ptxas)"
