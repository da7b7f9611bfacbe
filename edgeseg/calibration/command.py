"""`edgeseg calibrate`: INT8 calibration of an ONNX graph, or selection of calibration frames.

  edgeseg calibrate fcn_bilinear --data frames/ -o fcn_bilinear.int8.onnx     # a zoo name, as in `run`
  edgeseg calibrate model.trt.onnx --data frames/ --recipe calibration/default.yaml -o model.int8.onnx \\
      [--budget 1.0] [--eval DATASET --eval-split val] [--cpu-out model.cpu-int8.onnx] \\
      [--cache-out model.calib]
  edgeseg calibrate --select-from clip.mp4 -n 256 -o frames/ [--seed 0]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from edgeseg.errors import EdgesegError
from edgeseg.outputs import check_output_dir


def budget_points(text: str) -> float:
    """--budget as a finite, non-negative number of points: a bad one is refused before any work,
    not after minutes of calibration."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of points like 1.0, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not an allowed metric drop: give a finite number of "
                                         "points >= 0, e.g. 1.0 (or --no-budget to skip the check)")
    return value


def resolve_graph(model: Path) -> Path:
    """A zoo name -> its shipped ONNX graph, resolved as `edgeseg run` does; a path -> itself."""
    text = str(model)
    if model.suffix or "/" in text or model.exists():
        return model
    from edgeseg.runtime.command import resolve_model

    return resolve_model(text)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="INT8 calibration: Q/DQ graph for TensorRT, CPU INT8 graph, TensorRT 10 cache",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", nargs="?", type=Path,
                        help="FP32 ONNX graph (usually model.trt.onnx), or a zoo model name as in "
                        "`edgeseg run`")
    parser.add_argument("--data", type=Path,
                        help="calibration images: a folder of JPEG/PNG images (any size: letterboxed as the "
                             "runtime does) or a video file (-n diverse frames are picked from it first)")
    parser.add_argument(
        "--recipe", type=Path, help="recipe YAML (default: built-in defaults, as in calibration/default.yaml)"
    )
    parser.add_argument(
        "-o", "--out", type=Path, help="output: the Q/DQ ONNX graph, or the frame folder with --select-from"
    )
    parser.add_argument(
        "--budget", type=budget_points,
        help="allowed metric drop in points, >= 0 (default: the recipe's, 1.0)"
    )
    parser.add_argument(
        "--eval",
        type=Path,
        help="held-out ShapesWorld/COCO dataset folder (default: a generated "
        "ShapesWorld split at the graph's size)",
    )
    parser.add_argument("--eval-split", default="val", help="split of --eval (default val)")
    parser.add_argument("--no-budget", action="store_true", help="skip the accuracy check (not recommended)")
    parser.add_argument("--cpu-out", type=Path, help="also write the U8/S8 graph for ONNX Runtime CPU")
    parser.add_argument("--cache-out", type=Path, help="also write a TensorRT 10 calibration cache")
    parser.add_argument(
        "--select-from",
        type=Path,
        metavar="VIDEO_OR_DIR",
        help="select calibration frames from a video or image folder instead",
    )
    parser.add_argument("-n", type=int, default=256, help="frames to select (default 256)")
    parser.add_argument("--stride", type=int, default=1, metavar="K",
                        help="look at every K-th frame of a video (or folder) when selecting (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="selection seed (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.out is None:
        raise EdgesegError("-o/--out is required: the output graph (or frame folder with --select-from)")
    if args.select_from is not None:
        check_output_dir(args.out, "-o")
        from edgeseg.calibration.select import select_frames

        picked = select_frames(args.select_from, args.n, args.out, seed=args.seed,
                               progress=not args.no_progress, stride=args.stride)
        print(
            f"selected {len(picked.files)} of {picked.frames_seen} frames ({picked.candidates} after "
            f"dropping consecutive near-duplicates) into {args.out}; set sha256 {picked.set_sha256}"
        )
        return 0
    if args.model is None or args.data is None:
        raise EdgesegError("calibration needs a model and --data DIR_OR_VIDEO (or --select-from to pick "
                           "frames)")
    from edgeseg.calibration.calibrate import check_outputs

    check_outputs(args.model, args.out, args.cpu_out, args.cache_out)  # before the [ort] check and any work
    import onnx  # noqa: F401 - the [ort] extra: missing, the CLI names it before any work starts
    import onnxruntime  # noqa: F401

    if args.data.is_file():
        return _calibrate_from_video(args)
    return _calibrate(args, args.data)


def _calibrate_from_video(args: argparse.Namespace) -> int:
    """--data VIDEO: pick -n diverse frames (every --stride-th) into a temporary folder, calibrate on it."""
    import tempfile

    from edgeseg.calibration.select import VIDEO_SUFFIXES, select_frames

    if args.data.suffix.lower() not in VIDEO_SUFFIXES:
        raise EdgesegError(f"--data {args.data} is a file but not a video ({', '.join(VIDEO_SUFFIXES)}): "
                           "pass a folder of images or a video")
    with tempfile.TemporaryDirectory(prefix="edgeseg-calib-") as tmp:
        picked = select_frames(args.data, args.n, Path(tmp) / "frames", seed=args.seed,
                               progress=not args.no_progress, stride=args.stride)
        print(f"calibrating on {len(picked.files)} frames picked from {picked.frames_seen} of {args.data}")
        return _calibrate(args, Path(tmp) / "frames")


def _calibrate(args: argparse.Namespace, data: Path) -> int:
    """Calibrate args.model on the images in `data` and write what was asked for."""
    from edgeseg.calibration.calibrate import calibrate_file

    outcome = calibrate_file(
        resolve_graph(args.model),
        data,
        args.out,
        recipe=args.recipe,
        budget=args.budget,
        held_out=args.eval,
        held_out_split=args.eval_split,
        cpu_out=args.cpu_out,
        cache_out=args.cache_out,
        check_budget=not args.no_budget,
        progress=not args.no_progress,
    )
    written = [
        p for p in (outcome.qdq_path, outcome.cpu_path, outcome.calibration_cache, outcome.report_path) if p
    ]
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
