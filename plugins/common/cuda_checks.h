// CUDA error handling shared by the launchers and the plugins: launchers return cudaError_t
// (never throw, TensorRT's enqueue is noexcept), and this macro returns early on the first failure.
#pragma once

#include <cuda_runtime_api.h>

#define EDGESEG_CUDA_TRY(expr)               \
  do {                                       \
    const cudaError_t edgeseg_err_ = (expr); \
    if (edgeseg_err_ != cudaSuccess) {       \
      return edgeseg_err_;                   \
    }                                        \
  } while (0)

namespace edgeseg {

// Blocks needed to cover `count` items with `threads` per block (at least 1).
inline unsigned int blocks_for(long long count, int threads) {
  const long long blocks = (count + threads - 1) / threads;
  return static_cast<unsigned int>(blocks > 0 ? blocks : 1);
}

}  // namespace edgeseg
