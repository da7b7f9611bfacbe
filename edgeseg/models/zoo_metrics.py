"""Every zoo metric from one command on a fresh clone: generate the val split, score each model.

    python -m edgeseg.models.zoo_metrics --data out/zoo-metrics            # print, change nothing
    python -m edgeseg.models.zoo_metrics --data out/zoo-metrics --write    # rewrite zoo.json's metrics
    python -m edgeseg.models.zoo_metrics --data out/zoo-metrics --check    # exit 1 beyond the tolerance

Why: the figures first published in zoo.json were measured on a val split written by an older
ShapesWorld generator, and nobody could reproduce them (docs/models.md, "Where the first metrics came
from"). Here the split is (re)generated from the documented command and every model with weights is
scored by the same evaluation as `edgeseg eval --json`; views (zoo entries with a "base") take their
tasks' figures from their base's one evaluation, as publish does.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from edgeseg.models import zoo
from edgeseg.models.publish import HEADLINE, headline, view_metrics

# The split every zoo figure is on.
SPLIT_NAME, SPLIT_IMAGES, SPLIT_SEED, SPLIT_SIZE = "val", 500, 2, 320
TOLERANCE = 0.005
TIMING = "seconds_per_image"


def ensure_split(root: Path, progress: bool) -> Path:
    """The documented val split under `root`, generated unless a copy by this generator version is there."""
    from edgeseg.data.shapes import GENERATOR_VERSION, generate_dataset

    meta = root / "meta.json"
    wanted = {"version": GENERATOR_VERSION, "split": SPLIT_NAME, "count": SPLIT_IMAGES, "seed": SPLIT_SEED,
              "size": SPLIT_SIZE}
    if meta.is_file():
        recorded = json.loads(meta.read_text(encoding="utf-8"))
        if all(recorded.get(k) == v for k, v in wanted.items()):
            return root
    return generate_dataset(root, SPLIT_NAME, SPLIT_IMAGES, size=SPLIT_SIZE, seed=SPLIT_SEED,
                            progress=progress, overwrite=True)


def measured_models(index: dict[str, dict[str, Any]]) -> list[str]:
    """Zoo entries that own weights (views share their base's)."""
    return [name for name, entry in index.items() if entry.get("weights") and not entry.get("base")]


def measure(names: list[str], data: Path, progress: bool) -> dict[str, dict[str, float]]:
    """Headline metrics (and seconds per image) of each named model on `data`'s val split."""
    import torch

    from edgeseg.models.evaluate import evaluate

    torch.set_num_threads(1)
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            full = evaluate(name, None, data, SPLIT_NAME, Path(tmp) / name, progress=progress)
            out[name] = {**headline(full, HEADLINE), TIMING: full[TIMING]}
    return out


def with_views(index: dict[str, dict[str, Any]], measured: dict[str, dict[str, float]]
               ) -> dict[str, dict[str, float]]:
    """`measured` plus each view's share of its base's figures (the tasks its heads have)."""
    table = dict(measured)
    for name, entry in index.items():
        base = entry.get("base")
        if base in measured:
            table[name] = view_metrics(entry["heads"], measured[base])
    return table


def differences(index: dict[str, dict[str, Any]], table: dict[str, dict[str, float]]
                ) -> list[tuple[str, str, float, float]]:
    """(model, metric, recorded, measured) for every metric beyond the tolerance (timing excluded)."""
    off = []
    for name, metrics in table.items():
        recorded = index[name].get("metrics", {})
        for key, value in metrics.items():
            if key == TIMING:
                continue
            if key not in recorded or abs(recorded[key] - value) > TOLERANCE:
                off.append((name, key, float(recorded.get(key, float("nan"))), value))
    return off


def write(table: dict[str, dict[str, float]]) -> None:
    """Replace the metrics of the measured models and their views in zoo.json, keeping all else.
    The recorded seconds per image stay: a time is the machine's and its load's, not the weights'."""
    doc = json.loads(zoo.ZOO_INDEX.read_text(encoding="utf-8"))
    for name, metrics in table.items():
        recorded = doc["models"][name].get("metrics", {})
        kept = {TIMING: recorded[TIMING]} if TIMING in recorded else {}
        doc["models"][name]["metrics"] = {**{k: v for k, v in metrics.items() if k != TIMING}, **kept}
    zoo.ZOO_INDEX.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True,
                        help="folder for the val split (generated there when missing or different)")
    parser.add_argument("--models", nargs="+", metavar="NAME", help="only these (default: every zoo model)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite the metrics in edgeseg/zoo/zoo.json")
    mode.add_argument("--check", action="store_true",
                      help=f"exit 1 when a metric differs from zoo.json by more than {TOLERANCE}")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    index = zoo.load_index()
    names = measured_models(index)
    if args.models:
        unknown = sorted(set(args.models) - set(names))
        if unknown:
            parser.error(f"not a zoo model with its own weights: {', '.join(unknown)} (choose from "
                         f"{', '.join(names)})")
        names = [n for n in names if n in args.models]
    data = ensure_split(args.data, not args.no_progress)
    table = with_views(index, measure(names, data, not args.no_progress))
    print(json.dumps(table, indent=2, sort_keys=True))
    if args.write:
        write(table)
        print(f"wrote {len(table)} entries' metrics into {zoo.ZOO_INDEX.name}")
        return 0
    off = differences(index, table)
    for name, key, recorded, value in off:
        print(f"{name} {key}: zoo.json {recorded:.4f}, measured {value:.4f}", file=sys.stderr)
    if args.check and off:
        print(f"{len(off)} metric(s) differ from zoo.json by more than {TOLERANCE}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
