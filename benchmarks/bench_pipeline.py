"""Streaming pipeline vs the bare backend on the same clip and model, and the cost of drawing results.

Usage: python benchmarks/bench_pipeline.py [--model panoptic_rcnn] [--frames 40] [--size 640x480]
       python benchmarks/bench_pipeline.py --model mask_rcnn --random-init   # no zoo graph yet (torch)

Rows:
- backend only: `backend.infer` on the pre-processed frames, one after another (the ceiling);
- pipeline: the same frames through `Pipeline` (policy all) into an mp4 (`--sinks mp4,jsonl` adds
  the JSONL), so pre/post-processing, overlays and encoding run in their threads beside inference;
- the ratio of the two (goal >= 0.85x);
- per frame on one thread: pre-processing, inference, post-processing (decode, mask paste,
  panoptic fusion) and overlay rendering; the share of post-processing plus overlay in the sum
  (goal <= 10% at 640x480).
`--check` exits 1 when a goal is missed; `--spin` turns ONNX Runtime's busy-waiting workers back on
(to compare). Numbers depend on the machine's load: run it idle.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from weights_info import graph_weights

from edgeseg.data.video import iter_clip_frames
from edgeseg.runtime.adapters import TaskAdapter
from edgeseg.runtime.backends.ort import OrtBackend
from edgeseg.runtime.command import MinScore, resolve_model
from edgeseg.runtime.overlays import render
from edgeseg.runtime.pipeline import Pipeline
from edgeseg.runtime.results import FrameResult
from edgeseg.runtime.sources import IterableSource
from edgeseg.runtime.task_adapters import DeployAdapter

PIPELINE_GOAL, SHARE_GOAL = 0.85, 0.10
STEPS = ("preprocess", "infer", "postprocess", "overlay")


def model_path(name: str, random_init: bool, work: Path) -> tuple[Path, str]:
    """The graph to time and how it was obtained (a zoo graph, a file, or an untrained export)."""
    if not random_init:
        return resolve_model(name), "zoo graph" if not name.endswith(".onnx") else "file"
    from edgeseg.export.onnx_export import export

    return export(name, work / f"{name}.onnx", random_init=True), "random-init export (untrained)"


def backend_only(backend: OrtBackend, inputs: list[dict[str, np.ndarray]]) -> float:
    """Frames per second of the bare backend, one frame per call."""
    start = time.perf_counter()
    for feed in inputs:
        backend.infer(feed)
    return len(inputs) / (time.perf_counter() - start)


def pipeline_fps(
    backend: OrtBackend, adapter: TaskAdapter, frames: list[np.ndarray], sinks: list[str]
) -> float:
    """Frames per second through the whole pipeline into `sinks`."""
    start = time.perf_counter()
    stats = Pipeline(IterableSource(frames), model=adapter, backend=backend, sinks=sinks, policy="all").run()
    wall = time.perf_counter() - start
    assert stats.frames_out == len(frames), "the pipeline lost frames under policy all"
    return len(frames) / wall


def stage_times(backend: OrtBackend, adapter: TaskAdapter, frames: list[np.ndarray]) -> dict[str, float]:
    """Median milliseconds per frame of each step, run in one thread (no overlap)."""
    times: dict[str, list[float]] = {k: [] for k in (*STEPS, "instances")}
    for image in frames:
        t0 = time.perf_counter()
        inputs, meta = adapter.preprocess(image)
        t1 = time.perf_counter()
        outputs = {k: v[0] for k, v in backend.infer(inputs).items()}
        t2 = time.perf_counter()
        result = FrameResult(0, image.shape[0], image.shape[1], image=image)
        adapter.postprocess(outputs, meta, result)  # panoptic: pastes the masks for the fusion
        t3 = time.perf_counter()
        render(result)
        t4 = time.perf_counter()
        for key, value in zip(STEPS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            times[key].append(value * 1000)
        times["instances"].append(result.num_instances)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="panoptic_rcnn", help="zoo name or exported .onnx")
    parser.add_argument("--random-init", action="store_true", help="export the zoo architecture untrained")
    parser.add_argument("--frames", type=int, default=40, help="clip length (default 40)")
    parser.add_argument("--size", default="640x480", help="frame WIDTHxHEIGHT (default 640x480)")
    parser.add_argument(
        "--min-score",
        type=float,
        default=0.5,
        help="drop weaker detections first, as `edgeseg run --min-score` (default 0.5)",
    )
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads per op (0: all)")
    parser.add_argument(
        "--spin",
        action="store_true",
        help="idle ONNX Runtime workers busy-wait (ORT's default; edgeseg turns it off)",
    )
    parser.add_argument("--sinks", default="mp4", help="sinks, comma-separated: mp4, jsonl (default mp4)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path, origin = model_path(args.model, args.random_init, work)
        # a zoo graph runs as its CPU twin, as `edgeseg run NAME` does (edgeseg.runtime.resolve)
        twin = origin == "zoo graph"
        graph = DeployAdapter(path)
        backend = OrtBackend(path, intra_op_threads=args.threads, spin=args.spin, cpu_twin=twin)
        print(f"graph run: {backend.graph.relative_to(path.parent.parent) if twin else backend.graph.name}")
        adapter = MinScore(graph, args.min_score)
        frames = list(iter_clip_frames(0, height, width, args.frames))
        inputs = [adapter.preprocess(image)[0] for image in frames]
        backend.infer(inputs[0])  # warm-up: ORT allocates and plans on the first run
        bare = backend_only(backend, inputs)
        sinks = [str(work / f"bench.{suffix}") for suffix in args.sinks.split(",")]
        piped = pipeline_fps(backend, adapter, frames, sinks)
        ms = stage_times(backend, adapter, frames)
        backend.close()
    share = (ms["postprocess"] + ms["overlay"]) / sum(ms[k] for k in STEPS)
    ratio = piped / bare
    verdict = {True: "ok", False: "MISSED"}
    print(graph_weights(path))
    print(
        f"model {path.name} ({origin}, task {graph.info.task}), {args.frames} frames {width}x{height}, "
        f"ORT threads {args.threads or 'all'}{' spinning' if args.spin else ''}, "
        f"min score {args.min_score}, "
        f"median {ms['instances']:.0f} instances per frame"
    )
    rows = [
        ("measure", "value", "goal", ""),
        ("backend only", f"{bare:.2f} FPS", "", ""),
        (f"pipeline ({args.sinks.replace(',', ' + ')} sink)", f"{piped:.2f} FPS", "", ""),
        ("pipeline / backend", f"{ratio:.2f}x", f">= {PIPELINE_GOAL:.2f}x", verdict[ratio >= PIPELINE_GOAL]),
        (
            "post-processing + overlay share",
            f"{share:.1%}",
            f"<= {SHARE_GOAL:.0%}",
            verdict[share <= SHARE_GOAL],
        ),
    ]
    rows += [(f"  {k} (median ms/frame)", f"{ms[k]:.1f}", "", "") for k in STEPS]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        cells = [c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        print("  ".join(cells).rstrip())
    return 1 if args.check and (ratio < PIPELINE_GOAL or share > SHARE_GOAL) else 0


if __name__ == "__main__":
    sys.exit(main())
