#!/usr/bin/env python3
"""Segment a live camera and show it: the smallest complete edgeseg app.

    python examples/camera_demo.py                       # camera 0 -> window, panoptic zoo model
    python examples/camera_demo.py mask_rcnn --input /dev/video1 --output out.mp4
    python examples/camera_demo.py model.engine --input rtsp://192.168.1.20/stream --backend trt

Inputs and outputs are URIs (see docs/runtime.md). Policy `live`: when the model is slower than
the camera, old frames are dropped, so what you see is always fresh. Press q (window) or Ctrl-C.
"""
import argparse
import sys
from contextlib import closing

from edgeseg.errors import EdgesegError
from edgeseg.runtime.pipeline import Pipeline
from edgeseg.runtime.resolve import open_model

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("model", nargs="?", default="panoptic_rcnn", help="zoo name, .onnx or .engine")
parser.add_argument("--input", default="0", help="camera index, device, stream or file URI")
parser.add_argument("--output", default="display://", help="display://, out.mp4 or results.jsonl")
parser.add_argument("--backend", choices=["auto", "ort", "trt"], default="auto",
                    help="default auto: trt for .engine, else ort")
parser.add_argument("--frames", type=int, default=0, help="stop after N frames (0: until stopped)")
args = parser.parse_args()

try:
    model, backend = open_model(args.model, args.backend, threads=0)
    with closing(backend), Pipeline(args.input, model=model, backend=backend, sinks=[args.output],
                                     policy="live") as stream:
        try:
            for count, result in enumerate(stream, start=1):
                objects = 0 if result.boxes is None else len(result.boxes)
                print(f"frame {result.frame_id}: {objects} objects, {(result.latency() or 0) * 1e3:.0f} ms")
                if count == args.frames:
                    break
        except KeyboardInterrupt:
            pass  # the pipeline closes its sinks on every way out: a video output still plays
    print(stream.stats.table())
except EdgesegError as err:
    sys.exit(f"camera_demo: {err}")
