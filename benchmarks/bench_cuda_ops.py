"""Our CUDA RoIAlign/NMS kernels vs torchvision's CUDA ops on FPN-sized inputs; prints time ratios.

Needs an NVIDIA GPU, torch with CUDA, and libedgeseg_kernels.so (CMake build, or compiled with nvcc
for this GPU by the test harness). Goals from the plugin issue: RoIAlign >= 1.0x, NMS >= 2x
(ratio = torchvision time / our time). Both sides run on the same torch device buffers.

    python benchmarks/bench_cuda_ops.py [--iters 50]
"""

from __future__ import annotations

import argparse
import ctypes
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torchvision.ops import MultiScaleRoIAlign

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "plugins"))
from cuda_harness import build_library  # noqa: E402

SCALES = [1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 64]


def time_ms(fn: Callable[[], object], iters: int) -> float:
    """Median milliseconds per call, measured with CUDA events after a warm-up."""
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def bench_roi_align(lib: ctypes.CDLL, iters: int) -> tuple[float, float]:
    """1,000 RoIs over 5 levels of an 800x800 image, 256 channels, 7x7, sampling 2, aligned."""
    g = torch.Generator(device="cuda").manual_seed(0)
    feats = [torch.randn(1, 256, int(800 * s), int(800 * s), device="cuda", generator=g) for s in SCALES]
    xy = torch.rand(1000, 2, device="cuda", generator=g) * 700
    wh = torch.rand(1000, 2, device="cuda", generator=g) * 300 + 4
    rois = torch.cat([xy, xy + wh], 1).contiguous()
    idx = torch.zeros(1000, dtype=torch.int32, device="cuda")
    out = torch.empty(1000, 256, 7, 7, device="cuda")
    ptrs = (ctypes.c_void_p * 5)(*[f.data_ptr() for f in feats])
    heights = (ctypes.c_int32 * 5)(*[f.shape[2] for f in feats])
    widths = (ctypes.c_int32 * 5)(*[f.shape[3] for f in feats])
    scales = (ctypes.c_float * 5)(*SCALES)
    stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)

    def ours() -> None:
        code = lib.edgeseg_roi_align(
            0,
            5,
            ptrs,
            heights,
            widths,
            scales,
            ctypes.c_void_p(rois.data_ptr()),
            ctypes.c_void_p(idx.data_ptr()),
            1000,
            1,
            256,
            7,
            7,
            2,
            1,
            0,
            0,
            ctypes.c_float(224.0),
            4,
            ctypes.c_void_p(out.data_ptr()),
            stream,
        )
        assert code == 0, code

    # torchvision's multi-level pooling: its level mapper + one roi_align per level
    pooler = MultiScaleRoIAlign([str(i) for i in range(5)], 7, 2, canonical_scale=224, canonical_level=4)
    named = {str(i): f for i, f in enumerate(feats)}
    image_sizes = [(800, 800)]

    def theirs() -> None:
        pooler(named, [rois], image_sizes)

    return time_ms(ours, iters), time_ms(theirs, iters)


def bench_nms(lib: ctypes.CDLL, boxes_per_image: int, iters: int) -> tuple[float, float]:
    """One image, N boxes x 80 classes (per-class boxes as a detection head emits), top-k 1000, K 100."""
    n, c = boxes_per_image, 80
    g = torch.Generator(device="cuda").manual_seed(1)
    xy = torch.rand(1, n, c, 2, device="cuda", generator=g) * 600
    boxes = torch.cat(
        [xy, xy + torch.rand(1, n, c, 2, device="cuda", generator=g) * 150 + 4], -1
    ).contiguous()
    scores = torch.rand(1, n, c, device="cuda", generator=g) ** 4  # most candidates weak, as in practice
    lib.edgeseg_nms_workspace_size.restype = ctypes.c_size_t
    ws_bytes = lib.edgeseg_nms_workspace_size(1, n, c, 1000)
    ws = torch.empty(max(int(ws_bytes), 1), dtype=torch.uint8, device="cuda")
    outs = [
        torch.empty(1, 100, 4, device="cuda"),
        torch.empty(1, 100, device="cuda"),
        torch.empty(1, 100, dtype=torch.int32, device="cuda"),
        torch.empty(1, 100, dtype=torch.int32, device="cuda"),
        torch.empty(1, dtype=torch.int32, device="cuda"),
    ]
    stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)

    def ours() -> None:
        code = lib.edgeseg_nms(
            0,
            ctypes.c_void_p(boxes.data_ptr()),
            1,
            ctypes.c_void_p(scores.data_ptr()),
            1,
            n,
            c,
            ctypes.c_float(0.05),
            ctypes.c_float(0.5),
            1000,
            100,
            ctypes.c_void_p(ws.data_ptr()),
            ctypes.c_size_t(ws_bytes),
            *[ctypes.c_void_p(o.data_ptr()) for o in outs],
            stream,
        )
        assert code == 0, code

    # the usual torchvision post-processing (its nonzero() syncs with the host: data-dependent sizes)
    flat_boxes, flat_scores = boxes.reshape(-1, 4), scores.reshape(-1)
    labels = torch.arange(c, device="cuda").repeat(n)

    def theirs() -> None:
        keep = torch.nonzero(flat_scores > 0.05).squeeze(1)
        top = flat_scores[keep].topk(min(1000, keep.numel())).indices
        keep = keep[top]
        kept = torchvision.ops.batched_nms(flat_boxes[keep], flat_scores[keep], labels[keep], 0.5)[:100]
        flat_boxes[keep[kept]]  # gather the kept boxes, as our kernel writes them

    return time_ms(ours, iters), time_ms(theirs, iters)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=50)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("bench_cuda_ops: needs an NVIDIA GPU and torch with CUDA", file=sys.stderr)
        return 2
    lib = ctypes.CDLL(str(build_library(Path(tempfile.mkdtemp()))))
    rows = [("roi_align 1000 RoIs, 5 levels, C=256", *bench_roi_align(lib, args.iters))]
    for n in (1000, 5000):
        rows.append((f"nms {n} boxes x 80 classes", *bench_nms(lib, n, args.iters)))
    versions = f"torch {torch.__version__}, torchvision {torchvision.__version__}"
    print(f"GPU: {torch.cuda.get_device_name()} ({versions})")
    print(f"{'case':<40} {'edgeseg ms':>11} {'torchvision ms':>15} {'ratio':>7}")
    for name, ours, theirs in rows:
        print(f"{name:<40} {ours:>11.3f} {theirs:>15.3f} {theirs / ours:>6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
