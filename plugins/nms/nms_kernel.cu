// CUDA class-aware batched NMS with fixed-size outputs.
//
// 1. Sort every (box, class) candidate of the batch at once with one CUB radix sort of 64-bit keys
//    (image in the high word, score order-flipped in the low word); the sort is stable and its
//    values start in ascending flat order (n * C + c), so equal scores keep the lower key first:
//    exactly nms_math::candidate_precedes. Candidates failing the score threshold sort last.
// 2. Gather the first min(pre_nms_top_k, N * C) passing candidates of each image.
// 3. Bitmask: bit (i, j), j > i, is set when candidate i would suppress j (same class and
//    nms_math::suppresses(box_i, box_j)), 64 columns per word, one thread per row.
// 4. One warp per image walks the candidates in order, keeps those no kept row has marked and
//    ORs their rows in: the greedy walk of nms_cpu, stopping at K kept boxes.
// Built with -fmad=false (CMakeLists.txt) so the IoU arithmetic rounds like the CPU twin's.
#include <cuda_fp16.h>

#include <cub/device/device_radix_sort.cuh>

#include "common/cuda_checks.h"
#include "nms/_math.h"
#include "nms/nms_kernel.h"

namespace edgeseg {
namespace {

namespace m = nms_math;

constexpr int kWordBits = 64;
constexpr size_t kAlign = 256;

size_t align_up(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

// Byte offsets of the scratch arrays inside the workspace.
struct Layout {
  size_t keys_in, keys_out, vals_in, vals_out, sort_temp, sort_temp_bytes;
  size_t cand_box, cand_score, cand_class, cand_index, count, mask, total;
};

int sort_end_bit(int32_t batch) {
  int bits = 0;
  while ((1LL << bits) < batch) ++bits;
  return 32 + bits;
}

cudaError_t make_layout(int32_t batch, int64_t items, int64_t candidates, Layout& l) {
  const int64_t words = (candidates + kWordBits - 1) / kWordBits;
  l.sort_temp_bytes = 0;
  if (items > 0) {
    EDGESEG_CUDA_TRY(cub::DeviceRadixSort::SortPairs(nullptr, l.sort_temp_bytes, static_cast<uint64_t*>(nullptr),
                                                     static_cast<uint64_t*>(nullptr), static_cast<int32_t*>(nullptr),
                                                     static_cast<int32_t*>(nullptr), static_cast<int>(items), 0,
                                                     sort_end_bit(batch)));
  }
  size_t at = 0;
  auto take = [&at](size_t bytes) {
    const size_t start = at;
    at += align_up(bytes);
    return start;
  };
  l.keys_in = take(items * sizeof(uint64_t));
  l.keys_out = take(items * sizeof(uint64_t));
  l.vals_in = take(items * sizeof(int32_t));
  l.vals_out = take(items * sizeof(int32_t));
  l.sort_temp = take(l.sort_temp_bytes);
  l.cand_box = take(batch * candidates * 4 * sizeof(float));
  l.cand_score = take(batch * candidates * sizeof(float));
  l.cand_class = take(batch * candidates * sizeof(int32_t));
  l.cand_index = take(batch * candidates * sizeof(int32_t));
  l.count = take(batch * sizeof(int32_t));
  l.mask = take(batch * candidates * words * sizeof(uint64_t));
  l.total = at;
  return cudaSuccess;
}

// Monotonic map of floats onto unsigned ints (ascending), so a radix sort orders scores.
__device__ uint32_t orderable_bits(float f) {
  const uint32_t bits = __float_as_uint(f);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

template <typename T>
__global__ void make_sort_keys(const T* scores, int64_t items, int64_t per_image, float threshold, uint64_t* keys,
                               int32_t* vals) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < items;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const float s = static_cast<float>(scores[i]);
    // +0.0f folds -0 onto +0: they are equal scores, and the key must decide their order.
    const float key_score = m::passes_score_threshold(s, threshold) ? s + 0.0f : -INFINITY;
    const uint64_t image = static_cast<uint64_t>(i / per_image);
    keys[i] = (image << 32) | static_cast<uint64_t>(~orderable_bits(key_score));
    vals[i] = static_cast<int32_t>(i);
  }
}

template <typename T>
__global__ void gather_candidates(const int32_t* sorted, const T* boxes, bool per_class_boxes, const T* scores,
                                  int32_t batch, int32_t num_boxes, int32_t num_classes, int64_t candidates,
                                  float threshold, float* cand_box, float* cand_score, int32_t* cand_class,
                                  int32_t* cand_index, int32_t* count) {
  const int64_t per_image = static_cast<int64_t>(num_boxes) * num_classes;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < batch * candidates;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t b = i / candidates;
    const int64_t t = i % candidates;
    const int32_t flat = sorted[b * per_image + t];
    const float s = static_cast<float>(scores[flat]);
    if (!m::passes_score_threshold(s, threshold)) continue;  // passing candidates form a prefix
    atomicAdd(&count[b], 1);
    const int32_t key = static_cast<int32_t>(flat - b * per_image);
    const int32_t n = key / num_classes;
    const T* box = boxes + (per_class_boxes ? static_cast<int64_t>(flat) : b * num_boxes + n) * 4;
    for (int k = 0; k < 4; ++k) cand_box[i * 4 + k] = static_cast<float>(box[k]);
    cand_score[i] = s;
    cand_class[i] = key % num_classes;
    cand_index[i] = n;
  }
}

// Block (col_word, row_word, image) of 64 threads: thread r fills the mask word of row
// row_word * 64 + r for the 64 columns of col_word. Only words at or right of the diagonal are read.
__global__ void suppression_mask(const float* cand_box, const int32_t* cand_class, const int32_t* count,
                                 int64_t candidates, int64_t words, float iou_threshold, uint64_t* mask) {
  const int64_t row_word = blockIdx.y;
  const int64_t col_word = blockIdx.x;
  const int64_t b = blockIdx.z;
  if (col_word < row_word) return;
  const int64_t valid = count[b];
  const int64_t rows = min(valid - row_word * kWordBits, static_cast<int64_t>(kWordBits));
  const int64_t cols = min(valid - col_word * kWordBits, static_cast<int64_t>(kWordBits));
  if (rows <= 0 || cols <= 0) return;
  __shared__ float col_box[kWordBits * 4];
  __shared__ int32_t col_class[kWordBits];
  const int64_t base = b * candidates;
  if (threadIdx.x < cols) {
    const int64_t j = base + col_word * kWordBits + threadIdx.x;
    for (int k = 0; k < 4; ++k) col_box[threadIdx.x * 4 + k] = cand_box[j * 4 + k];
    col_class[threadIdx.x] = cand_class[j];
  }
  __syncthreads();
  if (threadIdx.x >= rows) return;
  const int64_t i = base + row_word * kWordBits + threadIdx.x;
  float row_box[4];
  for (int k = 0; k < 4; ++k) row_box[k] = cand_box[i * 4 + k];
  const int32_t row_class = cand_class[i];
  uint64_t bits = 0;
  for (int64_t j = (col_word == row_word) ? threadIdx.x + 1 : 0; j < cols; ++j) {
    if (col_class[j] == row_class && m::suppresses(row_box, col_box + j * 4, iou_threshold)) bits |= 1ULL << j;
  }
  mask[i * words + col_word] = bits;
}

// One warp per image: the greedy walk over the bitmask, then the padded outputs.
template <typename T>
__global__ void select_kept(const float* cand_box, const float* cand_score, const int32_t* cand_class,
                            const int32_t* cand_index, const int32_t* count, const uint64_t* mask, int64_t candidates,
                            int64_t words, int32_t max_detections, T* det_boxes, T* det_scores, int32_t* det_classes,
                            int32_t* det_indices, int32_t* num_detections) {
  extern __shared__ uint64_t removed[];
  const int64_t b = blockIdx.x;
  const int lane = threadIdx.x;
  const int64_t valid = count[b];
  const int64_t used_words = (valid + kWordBits - 1) / kWordBits;
  for (int64_t w = lane; w < used_words; w += blockDim.x) removed[w] = 0;
  __syncwarp();
  const int64_t base = b * candidates;
  T* out_boxes = det_boxes + b * max_detections * 4;
  int32_t kept = 0;
  for (int64_t i = 0; i < valid && kept < max_detections; ++i) {
    if ((removed[i / kWordBits] >> (i % kWordBits)) & 1ULL) continue;
    if (lane == 0) {
      for (int k = 0; k < 4; ++k) out_boxes[kept * 4 + k] = static_cast<T>(cand_box[(base + i) * 4 + k]);
      det_scores[b * max_detections + kept] = static_cast<T>(cand_score[base + i]);
      det_classes[b * max_detections + kept] = cand_class[base + i];
      det_indices[b * max_detections + kept] = cand_index[base + i];
    }
    const uint64_t* row = mask + (base + i) * words;
    for (int64_t w = i / kWordBits + lane; w < used_words; w += blockDim.x) removed[w] |= row[w];
    ++kept;
    __syncwarp();
  }
  for (int32_t k = kept + lane; k < max_detections; k += blockDim.x) {
    for (int c = 0; c < 4; ++c) out_boxes[k * 4 + c] = static_cast<T>(0.0f);
    det_scores[b * max_detections + k] = static_cast<T>(0.0f);
    det_classes[b * max_detections + k] = -1;
    det_indices[b * max_detections + k] = -1;
  }
  if (lane == 0) num_detections[b] = kept;
}

template <typename T>
cudaError_t launch_typed(const T* boxes, bool per_class_boxes, const T* scores, int32_t batch, int32_t num_boxes,
                         int32_t num_classes, const NmsParams& p, char* ws, const Layout& l, int64_t candidates,
                         T* det_boxes, T* det_scores, int32_t* det_classes, int32_t* det_indices,
                         int32_t* num_detections, cudaStream_t stream) {
  constexpr int kThreads = 256;
  const int64_t per_image = static_cast<int64_t>(num_boxes) * num_classes;
  const int64_t items = batch * per_image;
  const int64_t words = (candidates + kWordBits - 1) / kWordBits;
  auto* keys_in = reinterpret_cast<uint64_t*>(ws + l.keys_in);
  auto* keys_out = reinterpret_cast<uint64_t*>(ws + l.keys_out);
  auto* vals_in = reinterpret_cast<int32_t*>(ws + l.vals_in);
  auto* vals_out = reinterpret_cast<int32_t*>(ws + l.vals_out);
  auto* cand_box = reinterpret_cast<float*>(ws + l.cand_box);
  auto* cand_score = reinterpret_cast<float*>(ws + l.cand_score);
  auto* cand_class = reinterpret_cast<int32_t*>(ws + l.cand_class);
  auto* cand_index = reinterpret_cast<int32_t*>(ws + l.cand_index);
  auto* count = reinterpret_cast<int32_t*>(ws + l.count);
  auto* mask = reinterpret_cast<uint64_t*>(ws + l.mask);
  EDGESEG_CUDA_TRY(cudaMemsetAsync(count, 0, batch * sizeof(int32_t), stream));
  if (items > 0) {
    const unsigned int key_blocks = blocks_for(items < (1LL << 26) ? items : (1LL << 26), kThreads);
    make_sort_keys<T><<<key_blocks, kThreads, 0, stream>>>(scores, items, per_image, p.score_threshold, keys_in,
                                                            vals_in);
    EDGESEG_CUDA_TRY(cudaGetLastError());
    size_t temp_bytes = l.sort_temp_bytes;
    EDGESEG_CUDA_TRY(cub::DeviceRadixSort::SortPairs(ws + l.sort_temp, temp_bytes, keys_in, keys_out, vals_in,
                                                     vals_out, static_cast<int>(items), 0, sort_end_bit(batch),
                                                     stream));
    const int64_t gathered = batch * candidates;
    const unsigned int gather_blocks = blocks_for(gathered < (1LL << 26) ? gathered : (1LL << 26), kThreads);
    gather_candidates<T><<<gather_blocks, kThreads, 0, stream>>>(vals_out, boxes, per_class_boxes, scores, batch,
                                                                  num_boxes, num_classes, candidates,
                                                                  p.score_threshold, cand_box, cand_score,
                                                                  cand_class, cand_index, count);
    EDGESEG_CUDA_TRY(cudaGetLastError());
    const dim3 mask_grid(static_cast<unsigned int>(words), static_cast<unsigned int>(words),
                         static_cast<unsigned int>(batch));
    suppression_mask<<<mask_grid, kWordBits, 0, stream>>>(cand_box, cand_class, count, candidates, words,
                                                          p.iou_threshold, mask);
    EDGESEG_CUDA_TRY(cudaGetLastError());
  }
  select_kept<T><<<batch, 32, words * sizeof(uint64_t), stream>>>(
      cand_box, cand_score, cand_class, cand_index, count, mask, candidates, words, p.max_detections, det_boxes,
      det_scores, det_classes, det_indices, num_detections);
  return cudaGetLastError();
}

}  // namespace

int64_t nms_candidates(int32_t num_boxes, int32_t num_classes, const NmsParams& params) {
  const int64_t all = static_cast<int64_t>(num_boxes) * num_classes;
  return params.pre_nms_top_k > 0 && params.pre_nms_top_k < all ? params.pre_nms_top_k : all;
}

size_t nms_workspace_size(int32_t batch, int32_t num_boxes, int32_t num_classes, const NmsParams& params) {
  const int64_t items = static_cast<int64_t>(batch) * num_boxes * num_classes;
  const int64_t candidates = nms_candidates(num_boxes, num_classes, params);
  if (batch < 0 || num_boxes < 0 || num_classes < 0 || items >= (1LL << 31) || candidates > kNmsMaxCandidates) {
    return 0;
  }
  Layout l{};
  return make_layout(batch, items, candidates, l) == cudaSuccess ? l.total : 0;
}

cudaError_t launch_nms(DType dtype, const void* boxes, bool per_class_boxes, const void* scores, int32_t batch,
                       int32_t num_boxes, int32_t num_classes, const NmsParams& params, void* workspace,
                       size_t workspace_size, void* det_boxes, void* det_scores, int32_t* det_classes,
                       int32_t* det_indices, int32_t* num_detections, cudaStream_t stream) {
  const int64_t items = static_cast<int64_t>(batch) * num_boxes * num_classes;
  const int64_t candidates = nms_candidates(num_boxes, num_classes, params);
  if (batch < 0 || num_boxes < 0 || num_classes < 0 || items >= (1LL << 31) || candidates > kNmsMaxCandidates ||
      params.max_detections < 1) {
    return cudaErrorInvalidValue;
  }
  if (batch == 0) return cudaSuccess;
  Layout l{};
  EDGESEG_CUDA_TRY(make_layout(batch, items, candidates, l));
  if (workspace == nullptr || workspace_size < l.total) return cudaErrorInvalidValue;
  char* ws = static_cast<char*>(workspace);
  switch (dtype) {
    case DType::kFloat32:
      return launch_typed(static_cast<const float*>(boxes), per_class_boxes, static_cast<const float*>(scores), batch,
                          num_boxes, num_classes, params, ws, l, candidates, static_cast<float*>(det_boxes),
                          static_cast<float*>(det_scores), det_classes, det_indices, num_detections, stream);
    case DType::kFloat16:
      return launch_typed(static_cast<const __half*>(boxes), per_class_boxes, static_cast<const __half*>(scores),
                          batch, num_boxes, num_classes, params, ws, l, candidates, static_cast<__half*>(det_boxes),
                          static_cast<__half*>(det_scores), det_classes, det_indices, num_detections, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace edgeseg
