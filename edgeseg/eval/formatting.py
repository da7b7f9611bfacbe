"""Plain-text metric tables for the terminal (the JSON line is for machines)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Per task: the headline metric, then the other numbers shown beside it in the summary.
SUMMARY_KEYS: dict[str, tuple[str, ...]] = {
    "bbox": ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100"),
    "segm": ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100"),
    "keypoints": ("AP", "AP50", "AP75", "APm", "APl", "AR"),
    "semantic": ("mIoU", "pixel_accuracy"),
    "panoptic": ("PQ", "SQ", "RQ", "PQ_things", "PQ_stuff"),
    "densecap": ("mAP", "detection_mAP", "exact_phrase_accuracy", "matched_token_f1"),
}


def fmt(value: Any) -> str:
    """Three decimals; COCOeval's -1 ("no ground truth in this range") shows as '-'."""
    if isinstance(value, float):
        return "-" if value == -1.0 else f"{value:.3f}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """Columns padded to their widest cell; `align` has one l/r per column (default: first l, rest r)."""
    cells = [list(headers)] + [[fmt(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    align = align or "l" + "r" * (len(headers) - 1)
    lines = []
    for row in cells:
        parts = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(row, widths, align, strict=True)]
        lines.append("  ".join(parts).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _flat(task: str, metrics: Mapping[str, Any]) -> dict[str, Any]:
    if task == "panoptic":
        return {"PQ": metrics["All"]["PQ"], "SQ": metrics["All"]["SQ"], "RQ": metrics["All"]["RQ"],
                "PQ_things": metrics["Things"]["PQ"], "PQ_stuff": metrics["Stuff"]["PQ"]}
    return dict(metrics)


def summary_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    """One row per task: its headline metric, then the rest as `name value` pairs."""
    rows = []
    for task, metrics in results.items():
        flat = _flat(task, metrics)
        keys = SUMMARY_KEYS[task]
        details = "  ".join(f"{k} {fmt(flat[k])}" for k in keys[1:])
        rows.append([task, keys[0], flat[keys[0]], details])
    return table(["task", "metric", "value", "details"], rows, align="llrl")


def per_class_table(task: str, metrics: Mapping[str, Any]) -> str | None:
    """Per-class numbers of semantic (IoU) and panoptic (PQ/SQ/RQ/TP/FP/FN, and the three groups)."""
    if task == "semantic":
        return table(["class", "IoU"], [[name, iou] for name, iou in metrics["per_class"].items()])
    if task == "panoptic":
        keys = ("PQ", "SQ", "RQ", "TP", "FP", "FN")
        groups = [[group, *(metrics[group][k] for k in ("PQ", "SQ", "RQ")), metrics[group]["n"]]
                  for group in ("All", "Things", "Stuff")]
        classes = [[name, *(row[k] for k in keys)] for name, row in metrics["per_class"].items()]
        return table(["", "PQ", "SQ", "RQ", "n"], groups) + "\n\n" + table(["class", *keys], classes)
    return None
