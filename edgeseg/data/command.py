"""`edgeseg data shapes`: generate a ShapesWorld split (and optionally annotated video clips)."""
from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLE = """example:
  edgeseg data shapes --out data/shapes --split train --images 1000 --size 320 --seed 0
  edgeseg data shapes --out data/shapes-val --split val --images 200 --seed 1 --video-frames 100 --clips 2
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("data", help="generate ShapesWorld datasets and video clips",
                                   description="Generate synthetic datasets.", epilog=EXAMPLE,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    shapes = kinds.add_parser(
        "shapes", help="the ShapesWorld COCO-format dataset", epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write images, COCO instances/keypoints/panoptic/captions JSON, panoptic and semantic "
                    "PNGs (and mp4 clips with per-frame annotations) into DIR. See docs/data.md.")
    shapes.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="output folder (must not exist)")
    shapes.add_argument("--split", default="train", choices=("train", "val"),
                        help="split name (default train)")
    shapes.add_argument("--images", type=int, default=1000, metavar="N",
                        help="number of images (default 1000)")
    shapes.add_argument("--size", type=int, default=320, help="image side in pixels, >= 64 (default 320)")
    shapes.add_argument("--seed", type=int, default=0, help="world seed (default 0)")
    shapes.add_argument("--video-frames", type=int, default=0, metavar="F",
                        help="also write mp4 clips of F frames each (default 0: no video)")
    shapes.add_argument("--clips", type=int, default=1,
                        help="number of clips with --video-frames (default 1)")
    shapes.add_argument("--force", action="store_true", help="replace DIR if it exists")
    # --no-progress as in run, train, build and calibrate; --quiet is its older name, kept for scripts
    shapes.add_argument("--no-progress", "--quiet", dest="no_progress", action="store_true",
                        help="no progress bar (--quiet: deprecated alias)")
    shapes.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgeseg.data.shapes import generate_dataset

    out = generate_dataset(args.out, args.split, args.images, size=args.size, seed=args.seed,
                           video_frames=args.video_frames, progress=not args.no_progress,
                           video_clips=args.clips, overwrite=args.force)
    print(f"wrote {args.images} {args.split} images to {out}")
    return 0
