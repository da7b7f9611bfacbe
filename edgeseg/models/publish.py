"""Put a trained run into the zoo: copy its weights to edgeseg/zoo/, record sha256, training facts and
the metrics measured on the val split (and on its first 50 images, for the regression test).

    python -m edgeseg.models.publish NAME RUN_DIR --val VAL_DIR --val50 VAL50_DIR

Views that share the weights (zoo entries with "base": NAME) get the metrics of their tasks from
the same evaluation: dropping a head does not change the other heads' outputs.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import torch

from edgeseg.hashing import sha256_file
from edgeseg.models import zoo
from edgeseg.models.evaluate import evaluate, tasks_of

HEADLINE = {"bbox": ["AP", "AP50"], "segm": ["AP", "AP50"], "keypoints": ["AP", "AP50"], "semantic": ["mIoU"],
            "panoptic": ["All.PQ", "Things.PQ", "Stuff.PQ"],
            "densecap": ["mAP", "detection_mAP", "exact_phrase_accuracy", "matched_token_f1"]}
GUARD = {"bbox": "AP", "segm": "AP", "keypoints": "AP", "semantic": "mIoU", "panoptic": "All.PQ",
         "densecap": "mAP"}


def headline(metrics: dict[str, Any], keys: dict[str, Any]) -> dict[str, float]:
    """`task.key` -> value for the chosen keys of each task present (nested keys joined with dots)."""
    out: dict[str, float] = {}
    for task, wanted in keys.items():
        if task not in metrics:
            continue
        for key in [wanted] if isinstance(wanted, str) else wanted:
            value: Any = metrics[task]
            for part in key.split("."):
                value = value[part]
            out[f"{task}.{key}"] = round(float(value), 4)
    return out


def view_metrics(heads: list[str], base_metrics: dict[str, float]) -> dict[str, float]:
    """A view's share of its base's figures: the tasks its heads have (dropping a head does not change
    the other heads' outputs, so one evaluation of the base serves every view)."""
    tasks = set(tasks_of("rcnn", heads))
    return {k: v for k, v in base_metrics.items() if k.split(".")[0] in tasks}


def publish(name: str, run: Path, val: Path, val50: Path | None, note: str = "",
            reuse_val: bool = False) -> dict[str, Any]:
    state = zoo.read_state_dict(run / "model.pt", f"zoo model {name!r}")
    target = zoo.ZOO_DIR / f"{name}.pt"
    torch.save({k: v.contiguous() for k, v in state.items()}, target)
    with tempfile.TemporaryDirectory() as tmp:
        if reuse_val and (run / "val_metrics.json").is_file():  # `edgeseg train` scored these same tensors
            full = json.loads((run / "val_metrics.json").read_text(encoding="utf-8"))
        else:
            full = evaluate(name, target, val, "val", Path(tmp) / "pred", progress=False)
        small = evaluate(name, target, val50, "val", Path(tmp) / "pred50", progress=False) if val50 else None
    log = [json.loads(x) for x in (run / "train_log.jsonl").read_text(encoding="utf-8").splitlines()]
    run_info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    index_doc = json.loads(zoo.ZOO_INDEX.read_text(encoding="utf-8"))  # read late: other publishes may run
    entry = index_doc["models"][name]
    entry.update(weights=target.name, sha256=sha256_file(target), metrics={
        **headline(full, HEADLINE), "seconds_per_image": full["seconds_per_image"]})
    if small is not None:
        entry["metrics_val50"] = headline(small, GUARD)
    entry["training"] = {"steps": log[-1]["step"], "train_seconds": log[-1]["elapsed_s"],
                         "batch_size": int(run_info["batch_size"]), "lr": float(run_info["lr"]),
                         "images": run_info["images"], "seed": int(run_info["seed"]), "threads": 1,
                         "final_losses": {k: v for k, v in log[-1].items() if k.startswith("loss")},
                         "note": note}
    for other in index_doc["models"].values():
        if other.get("base") == name:
            other["metrics"] = view_metrics(other["heads"], entry["metrics"])
    zoo.ZOO_INDEX.write_text(json.dumps(index_doc, indent=2) + "\n", encoding="utf-8")
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument("run", type=Path)
    parser.add_argument("--val", type=Path, required=True)
    parser.add_argument("--val50", type=Path, default=None)
    parser.add_argument("--note", default="")
    parser.add_argument("--reuse-val", action="store_true",
                        help="take the val metrics from RUN_DIR/val_metrics.json (written by edgeseg train)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    entry = publish(args.name, args.run, args.val, args.val50, args.note, args.reuse_val)
    print(json.dumps({k: entry[k] for k in ("sha256", "metrics", "metrics_val50") if k in entry}))


if __name__ == "__main__":
    main()
