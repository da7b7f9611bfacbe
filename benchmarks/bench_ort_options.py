"""ONNX Runtime session options and graphs for the CPU backend, timed against each other in one run.

Each candidate is one session (graph + options); the candidates run in turn (A, B, C, A, B, C ...)
on the same ShapesWorld frames so machine load hits them alike, and the table gives the median
ms per batch and the ratio to the first candidate (the backend's defaults on the static zoo
graph). Torch-free. Source of the session-option rows in docs/export.md.

    python benchmarks/bench_ort_options.py [--batches 1,4] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.data.shapes import render_image
from edgeseg.ops import ort_ops
from edgeseg.runtime.backends.ort import cpu_variant, session_options
from edgeseg.runtime.onnx_file import load_onnx

ZOO = Path(__file__).resolve().parents[1] / "edgeseg" / "zoo"


def session(graph: Path, threads: int, tweak: Callable[[Any], None], spin: bool = False) -> Any:
    import onnxruntime as ort

    options = session_options(threads, spin)
    tweak(options)
    proto, used = ort_ops.prepare_model(load_onnx(graph))
    if used:
        for names in ort_ops.default_names():
            ort_ops.register(names)
        options.register_custom_ops_library(ort_ops.library_path())
    return ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])


def candidates(model: str, threads: int) -> dict[str, Any]:
    import onnxruntime as ort

    Level = ort.GraphOptimizationLevel
    static = ZOO / f"{model}.onnx"
    twin = cpu_variant(static)

    def level(value: Any) -> Callable[[Any], None]:
        return lambda o: setattr(o, "graph_optimization_level", value)

    def none(o: Any) -> None:
        return None

    out = {
        f"static graph, defaults ({threads} threads)": session(static, threads, none),
        f"cpu twin ({twin.relative_to(ZOO)}), defaults": session(twin, threads, none),
        "cpu twin, 1 thread": session(twin, 1, none),
        "cpu twin, ORT_ENABLE_EXTENDED": session(twin, threads, level(Level.ORT_ENABLE_EXTENDED)),
        "cpu twin, ORT_ENABLE_BASIC": session(twin, threads, level(Level.ORT_ENABLE_BASIC)),
        "cpu twin, no memory arena": session(
            twin, threads, lambda o: setattr(o, "enable_cpu_mem_arena", False)),
        "cpu twin, ORT_PARALLEL execution": session(
            twin, threads, lambda o: setattr(o, "execution_mode", ort.ExecutionMode.ORT_PARALLEL)),
        "cpu twin, spinning on": session(twin, threads, none, spin=True),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mask_rcnn")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", default="1,4")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    sessions = candidates(args.model, args.threads)
    print(f"zoo {args.model}, CPU, sides alternated, median of {args.repeats}")
    print("| batch | candidate | ms per batch | vs first |")
    print("|---:|---|---:|---:|")
    for batch in (int(b) for b in args.batches.split(",")):
        frames = {"images": np.stack([render_image(5, i, 320, "val")[0] for i in range(batch)])}
        times: dict[str, list[float]] = {name: [] for name in sessions}
        for s in sessions.values():
            s.run(None, frames)
        for _ in range(args.repeats):
            for name, s in sessions.items():
                start = time.perf_counter()
                s.run(None, frames)
                times[name].append(1000 * (time.perf_counter() - start))
        first = statistics.median(next(iter(times.values())))
        for name, t in times.items():
            print(f"| {batch} | {name} | {statistics.median(t):.1f} | {first / statistics.median(t):.2f}x |")


if __name__ == "__main__":
    main()
