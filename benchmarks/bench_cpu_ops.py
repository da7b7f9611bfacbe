"""CPU RoIAlign and NMS: the `edgeseg._C` twins vs torchvision on the same inputs, one thread.

Source of the README's and docs/ops.md's CPU op figures. Both sides get the same arrays, the
outputs are compared before timing (so the ratio is between two implementations of the same
result), and each side's time is the best of `--repeats` calls after a warm-up, interleaved.

    python benchmarks/bench_cpu_ops.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np
import torch
import torchvision
from torchvision.ops import MultiScaleRoIAlign

from edgeseg.ops import cpu

SCALES = [1 / 4, 1 / 8, 1 / 16, 1 / 32]
IMAGE = 800


def best_ms(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best-of-n milliseconds per function, calls interleaved so machine load hits both alike."""
    for fn in fns.values():
        fn()
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], 1000 * (time.perf_counter() - start))
    return best


def bench_roi_align(repeats: int) -> tuple[float, float, float]:
    """1,000 RoIs over 4 FPN levels of an 800x800 image, 256 channels, 7x7, sampling 2, legacy."""
    rng = np.random.default_rng(0)
    feats = [rng.standard_normal((1, 256, int(IMAGE * s), int(IMAGE * s)), dtype=np.float32) for s in SCALES]
    xy = rng.random((1000, 2), dtype=np.float32) * 700
    rois = np.concatenate([xy, xy + rng.random((1000, 2), dtype=np.float32) * 300 + 4], 1)
    idx = np.zeros(1000, np.int32)
    pooler = MultiScaleRoIAlign([str(i) for i in range(4)], 7, 2, canonical_scale=224, canonical_level=4)
    named = {str(i): torch.from_numpy(f) for i, f in enumerate(feats)}
    boxes = [torch.from_numpy(rois)]

    def ours() -> np.ndarray:
        return cpu.roi_align(feats, rois, idx, output_height=7, output_width=7, sampling_ratio=2,
                             aligned=0, spatial_scales=SCALES, canonical_scale=224.0, canonical_level=4)

    def theirs() -> torch.Tensor:
        return pooler(named, boxes, [(IMAGE, IMAGE)])

    diff = float(np.abs(ours() - theirs().numpy()).max())
    t = best_ms({"ours": ours, "theirs": theirs}, repeats)
    return t["ours"], t["theirs"], diff


def bench_nms(repeats: int) -> tuple[float, float, float]:
    """One image, 1,000 boxes x 80 classes (per-class boxes), threshold 0.05, top-k 1000, IoU 0.5, K 100."""
    n, c = 1000, 80
    rng = np.random.default_rng(1)
    xy = rng.random((1, n, c, 2), dtype=np.float32) * 600
    boxes = np.concatenate([xy, xy + rng.random((1, n, c, 2), dtype=np.float32) * 150 + 4], -1)
    scores = rng.random((1, n, c), dtype=np.float32) ** 4  # most candidates weak, as a head emits
    flat_boxes, flat_scores = torch.from_numpy(boxes.reshape(-1, 4)), torch.from_numpy(scores.reshape(-1))
    labels = torch.arange(c).repeat(n)

    def ours() -> tuple[np.ndarray, ...]:
        return cpu.nms(boxes, scores, score_threshold=0.05, iou_threshold=0.5, pre_nms_top_k=1000,
                       max_detections=100)

    def theirs() -> torch.Tensor:
        keep = torch.nonzero(flat_scores > 0.05).squeeze(1)
        keep = keep[flat_scores[keep].topk(min(1000, keep.numel())).indices]
        kept = torchvision.ops.batched_nms(flat_boxes[keep], flat_scores[keep], labels[keep], 0.5)[:100]
        return flat_scores[keep[kept]]

    det_scores, count = ours()[1], int(ours()[4][0])
    diff = float(np.abs(np.sort(det_scores[0, :count]) - np.sort(theirs().numpy())).max())
    t = best_ms({"ours": ours, "theirs": theirs}, repeats)
    return t["ours"], t["theirs"], diff


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = [("RoIAlign 1000 RoIs x 256 ch, 4 levels, 7x7", "MultiScaleRoIAlign",
             *bench_roi_align(args.repeats)),
            ("NMS 1000 boxes x 80 classes, top-k 1000, K 100", "threshold+topk+batched_nms",
             *bench_nms(args.repeats))]
    versions = f"torch {torch.__version__}, torchvision {torchvision.__version__}"
    print(f"CPU, one thread, best of {args.repeats} ({versions}); ratio = baseline time / edgeseg time")
    print(f"{'case':<48} {'baseline':<27} {'edgeseg ms':>10} {'baseline ms':>12} {'ratio':>7} "
          f"{'max diff':>9}")
    for case, baseline, ours, theirs, diff in rows:
        print(f"{case:<48} {baseline:<27} {ours:>10.1f} {theirs:>12.1f} {theirs / ours:>6.2f}x {diff:>9.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
