"""`edgeseg eval`: score predictions against a dataset split and print a metric table."""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError
from edgeseg.eval.formatting import per_class_table, summary_table
from edgeseg.eval.layout import TASKS, GroundTruth, prediction_path, prediction_present
from edgeseg.eval.tasks import evaluate_task

log = logging.getLogger(__name__)

EXAMPLES = """\
examples:
  edgeseg eval --gt out/demo --split val --pred gt --task all        # sanity check: all metrics 1.0
  edgeseg eval --gt out/shapes --pred preds/bbox.json --task bbox --json
  edgeseg eval --gt out/shapes --pred preds/semantic --task semantic  # folder of label PNGs
  edgeseg eval --gt out/shapes --pred preds/densecap.json --task densecap --json
  edgeseg eval --gt out/shapes --pred preds/ --task all               # bbox.json, segm.json, ... in preds/

--pred FILE is a COCO results list (bbox, segm, keypoints) or a COCO panoptic JSON whose PNGs lie in
the folder of the same name; --pred DIR is a prediction folder (see docs/eval.md); --pred gt scores the
ground truth against itself.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate predictions: box/mask/keypoint AP, mIoU, PQ, dense-captioning mAP",
        description="Evaluate predictions against a ShapesWorld/COCO dataset split: box, mask and "
                    "keypoint AP (pycocotools), semantic mIoU, panoptic PQ/SQ/RQ, dense-captioning mAP.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--gt", required=True, type=Path, metavar="DIR",
                        help="dataset folder (images/, annotations/, semantic/, panoptic/)")
    parser.add_argument("--split", default="val", help="split to evaluate (default: val)")
    parser.add_argument("--pred", required=True, metavar="FILE_OR_DIR|gt",
                        help="prediction file or folder, or `gt` to use the ground truth as predictions")
    parser.add_argument("--task", required=True, choices=[*TASKS, "all"], help="what to score")
    parser.add_argument("--json", action="store_true",
                        help="print the metrics as one JSON object on the last line")
    parser.set_defaults(func=run)


def _tasks_to_run(task: str, pred: Path | None, gt: GroundTruth) -> list[str]:
    """`all` with a prediction folder scores the tasks it has predictions for, and says which it skips;
    with `--pred gt`, dense captioning only where the split has phrases (captions_<split>.json)."""
    if task != "all":
        return [task]
    if pred is None:
        return [t for t in TASKS if t != "densecap" or gt.captions.is_file()]
    if not pred.is_dir():
        raise EdgesegError(f"--task all needs --pred gt or a prediction folder, and {pred} is not a "
                           "folder: pass a folder with bbox.json, segm.json, keypoints.json, semantic/, "
                           "panoptic.json, densecap.json")
    found = [t for t in TASKS if prediction_present(pred, t)]
    if not found:
        raise EdgesegError(f"{pred} holds no predictions (bbox.json, segm.json, keypoints.json, "
                           "semantic/*.png, panoptic.json): write them there, or pass one file with --task")
    for t in TASKS:
        if t not in found:
            log.info("skipping %s: no %s", t, prediction_path(pred, t))
    return found


def _rounded(value: Any) -> Any:
    """Six decimals in the JSON line: COCOeval divides by tp + fp + eps, so a perfect AP is 1 - 2e-16."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def run(args: argparse.Namespace) -> int:
    gt = GroundTruth(args.gt, args.split)
    pred = None if args.pred == "gt" else Path(args.pred)
    if pred is not None and not pred.exists():
        raise EdgesegError(f"prediction path {pred} not found: pass a results file, a prediction folder, "
                           "or `gt`")
    verbose = bool(getattr(args, "verbose", False))
    results: dict[str, Any] = {}
    for task in _tasks_to_run(args.task, pred, gt):
        results[task] = evaluate_task(gt, task, pred, verbose)
    print(summary_table(results))
    if len(results) == 1:
        task, metrics = next(iter(results.items()))
        detail = per_class_table(task, metrics)
        if detail:
            print()
            print(detail)
    if args.json:
        print(json.dumps(_rounded(results), sort_keys=True))
    return 0
