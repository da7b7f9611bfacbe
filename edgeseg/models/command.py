"""`edgeseg train NAME --data DIR --epochs E`: train a zoo architecture on a ShapesWorld-layout folder."""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from edgeseg.errors import EdgesegError, missing_extra

log = logging.getLogger(__name__)

EXAMPLE = """example:
  edgeseg data shapes --out data/train --split train --images 3000 --seed 1
  edgeseg train shapes_rcnn --data data/train --epochs 3 --out runs/rcnn --val-data data/val
  edgeseg train shapes_rcnn --data data/train --epochs 3 --out runs/rcnn --resume   # continue after a stop
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train a zoo model on a ShapesWorld/COCO-layout dataset",
                              description=__doc__, epilog=EXAMPLE,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="zoo model name (docs/models.md), e.g. shapes_rcnn, fcn_bilinear")
    p.add_argument("--data", type=Path, required=True, help="dataset folder holding the train split")
    p.add_argument("--epochs", type=int, default=1, help="passes over the training images (default 1)")
    p.add_argument("--out", type=Path, default=None, help="run folder (default runs/NAME)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--seed", type=int, default=0, help="seed for initialisation, order and crops (default 0)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (AdamW; default per family)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    p.add_argument("--images", type=int, default=None, help="use only the first N training images")
    p.add_argument("--crop", type=int, default=None,
                   help="train on random square crops of this size (default: 224 for FCNs, full images "
                        "for detectors)")
    p.add_argument("--init", type=Path, default=None, help="start from these weights (fine-tuning)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--val-data", type=Path, default=None,
                   help="dataset folder holding the val split (default: --data); evaluated at the end")
    p.add_argument("--val-images", type=int, default=None, help="evaluate on the first N val images only")
    p.add_argument("--no-eval", action="store_true", help="skip the evaluation at the end")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs still go to OUT)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import torch
    except ImportError:
        raise missing_extra("torch", "train") from None
    from edgeseg.models import zoo
    from edgeseg.models.train import TrainOptions, load_checkpoint, train

    if args.epochs <= 0:
        raise EdgesegError(f"--epochs must be >= 1, got {args.epochs}")
    if args.resume:  # refused before the model is built or run.json rewritten
        load_checkpoint((args.out or Path("runs") / args.name) / "checkpoint.pt")
    if args.threads:
        torch.set_num_threads(args.threads)
    model, info = zoo.build(args.name)
    out = args.out or Path("runs") / args.name
    defaults = {"rcnn": (2e-3, None), "fcn": (5e-3, 224), "rcnn_baseline": (2e-3, None),
                "densecap": (3e-3, None)}
    lr, crop = defaults[info.family]
    if args.crop is not None:
        if info.family != "fcn":
            raise EdgesegError(f"--crop applies to FCNs only; {args.name} trains on full images")
        stride = int(model.stride)  # type: ignore[arg-type]
        if args.crop <= 0 or args.crop % stride:
            raise EdgesegError(f"--crop must be a positive multiple of {stride} for {args.name}, "
                               f"got {args.crop}")
        crop = args.crop
    opts = TrainOptions(data=args.data, out=out, epochs=args.epochs, batch_size=args.batch_size,
                        lr=args.lr or lr, seed=args.seed, resume=args.resume, max_steps=args.max_steps,
                        images=args.images, init=args.init, crop=crop, progress=not args.no_progress)
    (out / "run.json").parent.mkdir(parents=True, exist_ok=True)
    run_info = {"name": args.name, "family": info.family, "config": info.config, "heads": info.heads,
                **{k: str(v) for k, v in vars(opts).items()}}
    (out / "run.json").write_text(json.dumps(run_info, indent=2) + "\n", encoding="utf-8")
    weights = train(model, info.family, opts)
    if args.no_eval:
        return 0
    from edgeseg.models.evaluate import evaluate

    metrics = evaluate(args.name, weights, args.val_data or args.data, "val", out / "val_pred",
                       limit=args.val_images, progress=not args.no_progress)
    (out / "val_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(metrics))
    return 0
