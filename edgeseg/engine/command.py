"""The `build` verb: a zoo model name or an ONNX file in, a TensorRT engine and its sidecar out."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edgeseg.engine.profiles import ShapeRange
from edgeseg.errors import EdgesegError
from edgeseg.trt.compat import FLAVOURS, parse_compute_capabilities

EXAMPLE = """examples:
  edgeseg build model.trt.onnx --precision fp16 -o engines/
  edgeseg build maskrcnn_shapes --precision int8 --calib frames/ --max-batch 4
  edgeseg build model.trt.onnx --precision int8 --calib-cache model.calib   (TensorRT 10.x only)
  edgeseg build fcn_bilinear --target rtx --compute-capability 86,89,120 --precision fp16
      (TensorRT for RTX, `pip install 'edgeseg[rtx]'`: builds ahead of time on any machine, GPU or
       not, for RTX 30xx/40xx/50xx; the engine runs there with TensorRT for RTX)"""


def parse_shape(text: str) -> tuple[str, ShapeRange]:
    """'images:1x3x320x320/2x3x640x640/4x3x640x640' -> (name, ShapeRange)."""
    name, _, ranges = text.rpartition(":")
    parts = ranges.split("/")
    try:
        dims = [tuple(int(d) for d in p.lower().split("x")) for p in parts]
    except ValueError:
        dims = []
    if not name or len(dims) != 3:
        raise EdgesegError(
            f"--shape {text!r}: expected NAME:MINxDIMS/OPTxDIMS/MAXxDIMS, e.g. images:1x3x320x320/..."
        )
    return name, ShapeRange(*dims)


def run(args: argparse.Namespace) -> int:
    from edgeseg.engine.builder import BuildOptions
    from edgeseg.engine.chain import build_engine
    from edgeseg.engine.profiles import BatchRange

    if args.calib_cache and args.calib:
        raise EdgesegError("pass either --calib DIR (calibrate now) or --calib-cache FILE, not both")
    if args.workspace is not None and args.workspace <= 0:
        raise EdgesegError(f"--workspace must be a positive number of MB, got {args.workspace}")
    batch = None
    if args.min_batch or args.opt_batch or args.max_batch:
        opt = args.opt_batch or args.min_batch or 1
        batch = BatchRange(args.min_batch or 1, opt, args.max_batch or opt)
    options = BuildOptions(
        flavour=args.target,
        compute_capabilities=parse_compute_capabilities(args.compute_capability or ""),
        batch=batch,
        shapes=dict(parse_shape(s) for s in args.shape),
        workspace_mb=args.workspace,
        dla_core=args.dla,
        calib_cache=Path(args.calib_cache) if args.calib_cache else None,
        plugin_library=Path(args.plugins) if args.plugins else None,
        timing_cache=Path(args.timing_cache) if args.timing_cache else None,
        progress=not args.no_progress,
        force=args.force,
    )
    built = build_engine(
        args.model, precision=args.precision, calib=args.calib, out_dir=args.out, options=options
    )
    state = "reused" if built.reused else "built"
    print(f"{state} {built.path}")
    print(json.dumps(built.metadata.to_json(), indent=2, sort_keys=True))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "build",
        help="build a TensorRT engine (+ .engine.json sidecar) from a zoo model or ONNX file",
        description=(
            "Build a TensorRT engine. The file name carries the cache key (model hash, precision, GPU, "
            "TensorRT version); an engine with the same key and options is reused, anything else rebuilds."
        ),
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="zoo model name or ONNX file (model.trt.onnx, model.int8.onnx ...)")
    p.add_argument("--precision", choices=["fp32", "fp16", "int8"], default="fp32")
    p.add_argument(
        "--target",
        choices=FLAVOURS,
        default="tensorrt",
        help="tensorrt (default: TensorRT 10.3+, for this GPU) or rtx (TensorRT for RTX, ahead of time)",
    )
    p.add_argument(
        "--compute-capability",
        metavar="LIST",
        help="--target rtx: GPUs to build for, e.g. 86,89,120 (RTX 30xx, 40xx, 50xx); no GPU needed",
    )
    p.add_argument("--calib", help="folder of calibration images: run calibration for --precision int8")
    p.add_argument("--calib-cache", help="TensorRT 10 calibration cache for implicit INT8 (10.x only)")
    p.add_argument("--workspace", type=int, help="workspace memory-pool limit in MB")
    p.add_argument("--dla", type=int, help="DLA core to build for (Jetson AGX/NX Orin), GPU fallback on")
    p.add_argument("--timing-cache", help="timing cache file to read and update (speeds up rebuilds)")
    p.add_argument("--min-batch", type=int, help="optimization profile: smallest batch (default 1)")
    p.add_argument("--opt-batch", type=int, help="optimization profile: batch to tune for (default min)")
    p.add_argument("--max-batch", type=int, help="optimization profile: largest batch (default opt)")
    p.add_argument(
        "--shape",
        action="append",
        default=[],
        help="full range for an input with other dynamic axes: NAME:MIN/OPT/MAX, dims joined by x",
    )
    p.add_argument("--plugins", help="plugin library (default: edgeseg.plugins.library_path())")
    p.add_argument("-o", "--out", help="output folder (default: beside the ONNX file, or engines/NAME)")
    p.add_argument("--force", action="store_true", help="rebuild even if a matching engine exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)
