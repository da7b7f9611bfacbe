#!/usr/bin/env python3
"""Build a TensorRT engine for a zoo model or an exported ONNX graph, then stream a clip through it.

    python examples/build_engine.py panoptic_rcnn.trt.onnx --precision fp16
    python examples/build_engine.py mask_rcnn --precision int8 --calib frames/ --run clip.mp4

Needs TensorRT: JetPack's python3-libnvinfer on a Jetson, `pip install 'edgeseg[trt]'` on a
desktop. Without it, this says so and exits with status 2. The engine's file name carries its cache
key (model hash, precision, GPU, TensorRT version); a matching engine is reused, not rebuilt.
"""
import argparse
import sys
from contextlib import closing

from edgeseg.errors import EdgesegError

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("model", help="zoo model name or ONNX file (model.trt.onnx, model.int8.onnx)")
parser.add_argument("--precision", choices=["fp32", "fp16", "int8"], default="fp16")
parser.add_argument("--calib", help="folder of calibration images (int8)")
parser.add_argument("--out", default="engines", help="folder for the engine and its sidecar")
parser.add_argument("--run", metavar="SOURCE", help="then stream this source through the engine")
args = parser.parse_args()

try:
    from edgeseg.engine import build_engine
    from edgeseg.trt.compat import load_tensorrt

    trt, caps = load_tensorrt()  # the clear "TensorRT is not installed" message, before any work
    print(f"TensorRT {trt.__version__}: building {args.model} ({args.precision}) ...")
    built = build_engine(args.model, precision=args.precision, calib=args.calib, out_dir=args.out)
    meta = built.metadata
    print(f"{'reused' if built.reused else 'built'} {built.path}")
    print(f"  task {meta.task}, input {meta.input_size}, for {meta.target.describe()}")
    if args.run:
        from edgeseg.runtime.pipeline import Pipeline
        from edgeseg.runtime.resolve import open_model

        model, backend = open_model(str(built.path), "trt", threads=0)
        with closing(backend):
            print(Pipeline(args.run, model=model, backend=backend, sinks=[]).run().table())
except EdgesegError as err:
    print(f"build_engine: {err}", file=sys.stderr)
    sys.exit(2)
