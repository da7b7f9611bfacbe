"""ShapesWorld generation speed on one core, against a PNG-encoding-only baseline.

Usage: python benchmarks/bench_shapes.py [--images 1000] [--size 320]

The process is pinned to one CPU. Rows: the full `generate_dataset` (render + all files), render
only, and the baseline of only PNG-encoding the same number of already-rendered images (the
floor any generator writing PNGs pays). CPU seconds are reported beside wall seconds because the
machine may be shared; the target is 1,000 images of 320x320 in under 60 s.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from edgeseg.data.coco_writer import IMAGE_PNG_OPTIONS
from edgeseg.data.shapes import generate_dataset, iter_clip_frames, render_image


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--frames", type=int, default=200, help="live clip frames to time")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    n, size = args.images, args.size

    rows: list[tuple[str, int, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = _timed(lambda: generate_dataset(Path(tmp) / "ds", "train", n, size=size, progress=False))
        rows.append((f"generate_dataset ({size}x{size}, all files)", n, wall, cpu))
    wall, cpu = _timed(lambda: [render_image(0, i, size) for i in range(n)])
    rows.append(("render_image only", n, wall, cpu))
    sample = [render_image(0, i, size)[0] for i in range(min(n, 50))]

    def encode() -> None:
        for i in range(n):
            Image.fromarray(sample[i % len(sample)]).save(io.BytesIO(), format="png", **IMAGE_PNG_OPTIONS)

    wall, cpu = _timed(encode)
    rows.append(("baseline: PNG-encode the RGB image only", n, wall, cpu))
    for h, w in ((size, size), (480, 640)):
        wall, cpu = _timed(lambda h=h, w=w: list(iter_clip_frames(0, h, w, num_frames=args.frames)))
        rows.append((f"iter_clip_frames {w}x{h} (live source)", args.frames, wall, cpu))

    print("| what | items | wall s | CPU s | items/s (CPU) | ms/item (CPU) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, count, wall, cpu in rows:
        print(f"| {name} | {count} | {wall:.1f} | {cpu:.1f} | {count / cpu:.0f} | {1000 * cpu / count:.1f} |")
    full = rows[0][3] * 1000 / n
    print(
        f"\n1,000 images of {size}x{size}: {full:.0f} s of CPU on one core (target < 60 s); "
        f"the PNG baseline alone is {rows[2][3] * 1000 / n:.0f} s."
    )


if __name__ == "__main__":
    main()
