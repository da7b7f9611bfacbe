// CPU twin of class-aware NMS. Walking all candidates in one global order (score, then key)
// and letting a candidate be suppressed only by kept boxes of its own class is the same as
// greedy NMS per class followed by a merge by score, and it can stop once K boxes are kept.
#include "nms/nms_cpu.h"

#include <algorithm>
#include <cstddef>
#include <vector>

#include "nms/_math.h"

namespace edgeseg {

namespace m = nms_math;

namespace {

struct Candidate {
  float score;
  int key;  // n * C + c
};

bool precedes(const Candidate& a, const Candidate& b) { return m::candidate_precedes(a.score, a.key, b.score, b.key); }

}  // namespace

void nms_cpu(const float* boxes, bool per_class_boxes, const float* scores, int batch, int num_boxes, int num_classes,
             const NmsParams& p, float* det_boxes, float* det_scores, int32_t* det_classes, int32_t* det_indices,
             int32_t* num_detections) {
  const int k_max = p.max_detections;
  const std::size_t per_image = static_cast<std::size_t>(num_boxes) * num_classes;
  std::vector<Candidate> cands;
  std::vector<const float*> kept_box;
  std::vector<int> kept_class;
  for (int b = 0; b < batch; ++b) {
    const float* s = scores + b * per_image;
    const float* bx = boxes + b * (per_class_boxes ? per_image : static_cast<std::size_t>(num_boxes)) * 4;
    cands.clear();
    for (int n = 0; n < num_boxes; ++n) {
      for (int c = 0; c < num_classes; ++c) {
        const int key = m::candidate_key(n, c, num_classes);
        if (m::passes_score_threshold(s[key], p.score_threshold)) cands.push_back({s[key], key});
      }
    }
    if (p.pre_nms_top_k > 0 && static_cast<int>(cands.size()) > p.pre_nms_top_k) {
      std::partial_sort(cands.begin(), cands.begin() + p.pre_nms_top_k, cands.end(), precedes);
      cands.resize(p.pre_nms_top_k);
    } else {
      std::sort(cands.begin(), cands.end(), precedes);
    }
    kept_box.clear();
    kept_class.clear();
    float* out_boxes = det_boxes + static_cast<std::size_t>(b) * k_max * 4;
    float* out_scores = det_scores + static_cast<std::size_t>(b) * k_max;
    int32_t* out_classes = det_classes + static_cast<std::size_t>(b) * k_max;
    int32_t* out_indices = det_indices + static_cast<std::size_t>(b) * k_max;
    int kept = 0;
    for (const Candidate& cand : cands) {
      if (kept >= k_max) break;
      const int n = cand.key / num_classes;
      const int c = cand.key % num_classes;
      const float* box = per_class_boxes ? bx + static_cast<std::size_t>(cand.key) * 4 : bx + static_cast<std::size_t>(n) * 4;
      bool suppressed = false;
      for (int k = 0; k < kept && !suppressed; ++k) {
        suppressed = kept_class[k] == c && m::suppresses(kept_box[k], box, p.iou_threshold);
      }
      if (suppressed) continue;
      kept_box.push_back(box);
      kept_class.push_back(c);
      for (int i = 0; i < 4; ++i) out_boxes[kept * 4 + i] = box[i];
      out_scores[kept] = cand.score;
      out_classes[kept] = c;
      out_indices[kept] = n;
      ++kept;
    }
    num_detections[b] = kept;
    for (int k = kept; k < k_max; ++k) {
      for (int i = 0; i < 4; ++i) out_boxes[k * 4 + i] = 0.0f;
      out_scores[k] = 0.0f;
      out_classes[k] = -1;
      out_indices[k] = -1;
    }
  }
}

}  // namespace edgeseg
