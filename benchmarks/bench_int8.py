"""CPU INT8 graph vs FP32 on ONNX Runtime CPU (ratio in one run), plus each graph's task metric.

For every FP32 deploy graph given (default: the zoo's exported Mask R-CNN and FCN graphs, when they
exist), this calibrates with `edgeseg.calibration.calibrate_file` (recipe, budget and fallback as
`edgeseg calibrate` runs them), then times the FP32 graph and the U8/S8 CPU INT8 graph alternately
in one process and prints median latencies, the speed ratio, and the metric of FP32, the symmetric
TensorRT Q/DQ graph (what the engine will score) and the CPU INT8 graph on the held-out set.

    python benchmarks/bench_int8.py --frames FRAMES_DIR [--model a.onnx ... | --all-zoo] [--runs 20]
        [--threads 2] [--recipe calibration/default.yaml] [--eval DATASET_DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

from edgeseg.calibration.calibrate import calibrate_file
from edgeseg.calibration.cpu_int8 import cpu_int8_flags
from edgeseg.calibration.images import GraphInput, list_images, read_rgb
from edgeseg.calibration.session import make_session
from edgeseg.errors import EdgesegError

ZOO = Path(__file__).resolve().parents[1] / "edgeseg" / "zoo"


def zoo_graphs(every: bool) -> list[Path]:
    """The issue's pair (Mask R-CNN and the FCNs) or, with `every`, each exported zoo graph."""
    graphs = sorted(ZOO.glob("*.onnx"))
    return graphs if every else [p for p in graphs if "mask_rcnn" in p.name or p.name.startswith("fcn")]


def time_pair(fp32: Path, int8: Path, frame: np.ndarray, runs: int, threads: int) -> tuple[float, float]:
    """Median ms of each graph, alternating runs so background load hits both alike."""
    feed_of = GraphInput.of(onnx.load(str(fp32))).feed
    sessions = [make_session(onnx.load(str(p)), threads) for p in (fp32, int8)]
    feed = feed_of(frame)
    for s in sessions:  # warm-up
        s.run(None, feed)
    times: list[list[float]] = [[], []]
    for _ in range(runs):
        for k, s in enumerate(sessions):
            start = time.perf_counter()
            s.run(None, feed)
            times[k].append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, action="append", help="FP32 ONNX graph (repeatable)")
    parser.add_argument("--all-zoo", action="store_true", help="every zoo graph (default: Mask R-CNN, FCNs)")
    parser.add_argument("--frames", type=Path, required=True, help="calibration frames at the graphs' size")
    parser.add_argument("--recipe", type=Path, default=Path("calibration/default.yaml"))
    parser.add_argument("--eval", type=Path, help="held-out dataset (default: generated ShapesWorld val)")
    parser.add_argument("--budget", type=float)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument("--out", type=Path, help="keep calibrated graphs and reports here")
    args = parser.parse_args()
    models = args.model or zoo_graphs(args.all_zoo)
    if not models:
        raise SystemExit("no zoo graphs in edgeseg/zoo/*.onnx yet: pass --model PATH")
    frame = read_rgb(list_images(args.frames)[0])
    rows: list[dict] = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.out or Path(tmp)
        for model in models:
            out = folder / f"{model.stem}.int8.onnx"
            cpu = folder / f"{model.stem}.cpu-int8.onnx"
            try:
                outcome = calibrate_file(
                    model,
                    args.frames,
                    out,
                    recipe=args.recipe,
                    budget=args.budget,
                    held_out=args.eval,
                    cpu_out=cpu,
                    progress=False,
                )
            except EdgesegError as exc:  # over budget: the report says by how much; go on with the rest
                failures.append(f"{model.name}: {exc}")
                continue
            report = json.loads(outcome.report_path.read_text())
            fp32_ms, int8_ms = time_pair(model, cpu, frame, args.runs, args.threads)
            trt, cpu_acc = report["graphs"]["trt_qdq"], report["graphs"]["cpu_int8"]
            rows.append(
                {
                    "model": model.name,
                    "fp32_ms": fp32_ms,
                    "cpu_int8_ms": int8_ms,
                    "speedup": fp32_ms / int8_ms,
                    "fp32": trt["accuracy"]["fp32"],
                    "trt_qdq": trt["accuracy"]["int8"],
                    "cpu_int8": cpu_acc["accuracy"]["int8"],
                    "fp32_layers_trt": sum(v == "fp32" for v in trt["precision"].values()),
                    "fp32_layers_cpu": sum(v == "fp32" for v in cpu_acc["precision"].values()),
                    "layers": len(trt["precision"]),
                }
            )
    print(f"\nORT CPU, {args.threads} threads, median of {args.runs} alternating runs; metrics in points")
    print(
        f"CPU INT8 flags: {', '.join(cpu_int8_flags()) or 'none (no VNNI: INT8 convs are not faster here)'}\n"
    )
    columns = [
        "graph",
        "FP32 ms",
        "CPU INT8 ms",
        "speed-up",
        "metric",
        "FP32",
        "TRT Q/DQ (S8)",
        "CPU INT8 (U8/S8)",
        "FP32 layers TRT / CPU",
    ]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for r in rows:
        for task in r["fp32"]:
            print(
                f"| {r['model']} | {r['fp32_ms']:.1f} | {r['cpu_int8_ms']:.1f} | {r['speedup']:.2f}x "
                f"| {task} | "
                f"{r['fp32'][task]:.2f} | {r['trt_qdq'][task]:.2f} | {r['cpu_int8'][task]:.2f} | "
                f"{r['fp32_layers_trt']} / {r['fp32_layers_cpu']} of {r['layers']} |"
            )
    for failure in failures:
        print(f"not within budget: {failure}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "failures": failures}, indent=1) + "\n")


if __name__ == "__main__":
    main()
