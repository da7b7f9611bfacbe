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
  edgeseg eval --model mask_rcnn --gt out/shapes --task all           # run a deploy graph, then score it
  edgeseg eval --model my.onnx --gt instances.json --images photos/ --task all  # your COCO data

--pred FILE is a COCO results list (bbox, segm, keypoints) or a COCO panoptic JSON whose PNGs lie in
the folder of the same name; --pred DIR is a prediction folder (see docs/eval.md); --pred gt scores the
ground truth against itself. --model runs a zoo name, .onnx or .engine over the split's images (or, with
a COCO instances JSON as --gt, over --images) through the runtime, then scores what it wrote.
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
    parser.add_argument("--gt", required=True, type=Path, metavar="DIR|JSON",
                        help="dataset folder (images/, annotations/, semantic/, panoptic/), or with --model "
                             "a COCO instances/keypoints JSON file")
    parser.add_argument("--split", default="val", help="split to evaluate (default: val)")
    parser.add_argument("--pred", metavar="FILE_OR_DIR|gt",
                        help="prediction file or folder, or `gt` to use the ground truth as predictions")
    parser.add_argument("--model", metavar="MODEL",
                        help="instead of --pred: a zoo name, .onnx or .engine to run over the images first")
    parser.add_argument("--images", type=Path, metavar="DIR",
                        help="with --model and a JSON --gt: the folder its file_name entries are in")
    parser.add_argument("--backend", default="auto", help="with --model: auto, ort, trt or triton://HOST:PORT")
    parser.add_argument("--limit", type=int, metavar="N", help="with --model: the first N images only")
    parser.add_argument("--keep-pred", type=Path, metavar="DIR",
                        help="with --model: keep the written predictions here (default: a temporary folder)")
    parser.add_argument("--no-progress", action="store_true", help="with --model: no progress bar")
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
    if (args.pred is None) == (args.model is None):
        raise EdgesegError("pass either --pred (predictions to score) or --model (a model to run, then "
                           "score), not both")
    if args.model is not None:
        from edgeseg.eval.model_eval import evaluate_model

        return _report(evaluate_model(args.model, args.gt, args.task, split=args.split, images=args.images,
                                      backend=args.backend, limit=args.limit, keep_pred=args.keep_pred,
                                      progress=not args.no_progress), args.json)
    gt = GroundTruth(args.gt, args.split)
    pred = None if args.pred == "gt" else Path(args.pred)
    if pred is not None and not pred.exists():
        raise EdgesegError(f"prediction path {pred} not found: pass a results file, a prediction folder, "
                           "or `gt`")
    verbose = bool(getattr(args, "verbose", False))
    results: dict[str, Any] = {}
    for task in _tasks_to_run(args.task, pred, gt):
        results[task] = evaluate_task(gt, task, pred, verbose)
    return _report(results, args.json)


def _report(results: dict[str, Any], as_json: bool) -> int:
    """The summary table, the per-class table when one task was scored, and the JSON line if asked."""
    print(summary_table(results))
    if len(results) == 1:
        task, metrics = next(iter(results.items()))
        detail = per_class_table(task, metrics)
        if detail:
            print()
            print(detail)
    if as_json:
        print(json.dumps(_rounded(results), sort_keys=True))
    return 0
