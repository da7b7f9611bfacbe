// Host/device portability macros shared by the CPU twins, the CUDA kernels and the TensorRT plugins.
//
// The math headers (plugins/<op>/_math.h) mark every function HOST_DEVICE_INLINE so the same
// arithmetic compiles into the C++ CPU kernel (plain g++) and into CUDA device code (nvcc).
// Rules for code using it: no STL, no exceptions, no virtual calls, plain pointers and PODs.
#pragma once

#if defined(__CUDACC__)
#define HOST_DEVICE_INLINE __host__ __device__ inline
#else
#define HOST_DEVICE_INLINE inline
#endif

namespace edgeseg {

template <typename T>
HOST_DEVICE_INLINE T min_of(T a, T b) {
  return a < b ? a : b;
}

template <typename T>
HOST_DEVICE_INLINE T max_of(T a, T b) {
  return a > b ? a : b;
}

// Largest finite float; std::numeric_limits is not usable in device code.
constexpr float kFloatMax = 3.402823466e+38f;

}  // namespace edgeseg
