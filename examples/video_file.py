#!/usr/bin/env python3
"""Annotate a video file: every frame, in order, into an mp4 (and a JSONL of results).

    python examples/video_file.py clip.mp4 annotated.mp4
    python examples/video_file.py 'frames/*.jpg' annotated.mp4 --model mask_rcnn --jsonl results.jsonl

Policy `all`: the pipeline blocks instead of dropping, so no frame is lost however slow the model
is; decoding, inference and encoding still overlap in their own threads.
"""
import argparse
import sys
from collections import Counter
from contextlib import closing

from edgeseg.errors import EdgesegError
from edgeseg.runtime.overlays import category_name
from edgeseg.runtime.pipeline import Pipeline
from edgeseg.runtime.resolve import open_model

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("input", help="video file, image glob or any source URI")
parser.add_argument("output", help="annotated video (.mp4, .mkv, .mov, .avi)")
parser.add_argument("--model", default="panoptic_rcnn", help="zoo name, .onnx or .engine")
parser.add_argument("--jsonl", help="also write one JSON line of results per frame")
parser.add_argument("--backend", choices=["auto", "ort", "trt"], default="auto",
                    help="default auto: trt for .engine, else ort")
parser.add_argument("--batch", type=int, default=1, help="frames per inference call")
args = parser.parse_args()

sinks = [args.output] + ([args.jsonl] if args.jsonl else [])
seen: Counter[str] = Counter()
try:
    model, backend = open_model(args.model, args.backend, threads=0)
    with closing(backend), Pipeline(args.input, model=model, backend=backend, sinks=sinks, policy="all",
                                     batch=args.batch) as stream:
        for result in stream:
            if result.classes is not None:
                seen.update(category_name(int(c), result.labels) for c in result.classes)
except EdgesegError as err:
    sys.exit(f"video_file: {err}")
print(stream.stats.table())
print(f"wrote {', '.join(sinks)}; detections per class: {dict(sorted(seen.items()))}")
