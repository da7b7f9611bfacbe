"""`calibrate_file`: FP32 graph + calibration frames -> TensorRT Q/DQ graph, CPU INT8 graph, cache, report.

Order: check every frame, measure ranges once, score FP32 vs INT8 on the held-out set (falling
back sensitive layers if needed), and only then write the graphs. A budget that cannot be met
writes the report and raises: no degraded model is left under the requested name.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.calibration.budget import BudgetResult, fit_budget
from edgeseg.calibration.cache import write_cache
from edgeseg.calibration.cpu_int8 import cpu_int8_graph
from edgeseg.calibration.evaluate import HeldOut, load_held_out, score_graph
from edgeseg.calibration.images import GraphInput, check_all, iter_feeds, list_images
from edgeseg.calibration.manifest import build_manifest
from edgeseg.calibration.qdq import quantizable_nodes, trt_qdq_graph
from edgeseg.calibration.ranges import TensorRange, collect_ranges, save_ranges
from edgeseg.calibration.recipe import Recipe, load_recipe
from edgeseg.errors import EdgesegError

LOG = logging.getLogger(__name__)
HELD_OUT_SEED = 20240917  # generated held-out frames never coincide with the training seeds


@dataclass
class CalibrationOutcome:
    qdq_path: Path
    calibration_cache: Path | None
    cpu_path: Path | None
    report_path: Path
    calibration_set_sha256: str
    accuracy_vs_fp32: dict[str, Any] | None


def load_model(path: Path) -> Any:
    import onnx

    if not Path(path).is_file():
        raise EdgesegError(f"model {path} not found: export it first (`edgeseg export`, `edgeseg patch`)")
    try:
        return onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError and friends
        raise EdgesegError(f"{path} is not a readable ONNX model ({exc}): re-export it") from None


def pick_files(data: Path, recipe: Recipe) -> list[Path]:
    """Up to num_frames images, evenly spread over the sorted folder; too few is an error."""
    files = list_images(data)
    if len(files) < recipe.min_frames:
        raise EdgesegError(
            f"calibration set {data} has {len(files)} image(s), the recipe needs at least "
            f"{recipe.min_frames}: add frames (`edgeseg calibrate --select-from VIDEO_OR_DIR "
            f"-n {recipe.num_frames} -o DIR`) or lower min_frames"
        )
    if len(files) > recipe.num_frames:
        spread = np.linspace(0, len(files) - 1, recipe.num_frames).round().astype(int)
        files = [files[i] for i in spread]
    return files


def generated_held_out(graph_input: GraphInput, count: int, folder: Path) -> HeldOut:
    """A fresh ShapesWorld split at the graph's (square) frame size, when the user gave none."""
    from edgeseg.data.shapes import generate_dataset

    if graph_input.height is None or graph_input.height != graph_input.width:
        raise EdgesegError(
            "the graph's frames are not a fixed square size, so no ShapesWorld held-out set can be "
            "generated: pass --eval DATASET_DIR (a folder from `edgeseg data shapes`)"
        )
    generate_dataset(
        folder / "heldout", "val", count, size=graph_input.height, seed=HELD_OUT_SEED, progress=False
    )
    return load_held_out(folder / "heldout", "val", count)


def cache_entries(model: Any, ranges: dict[str, TensorRange], fp32_nodes: list[str]) -> dict[str, float]:
    """amax per tensor for the cache; inputs read only by FP32 layers are left out, so TensorRT keeps
    those layers out of INT8 (a tensor without a scale cannot be INT8 in implicit mode)."""
    fp32 = set(fp32_nodes)
    readers: dict[str, list[str]] = {}
    for node in model.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node.name)
    return {
        name: r.amax
        for name, r in ranges.items()
        if not (readers.get(name) and all(n in fp32 for n in readers[name]))
    }


def calibrate_file(
    src: Path,
    data: Path,
    dst: Path,
    recipe: Recipe | Path | None = None,
    budget: float | None = None,
    held_out: Path | None = None,
    held_out_split: str = "val",
    cpu_out: Path | None = None,
    cache_out: Path | None = None,
    check_budget: bool = True,
    progress: bool = True,
) -> CalibrationOutcome:
    """Calibrate ONNX `src` with the images in `data`; write the TensorRT Q/DQ graph to `dst`."""
    import onnx

    src, data, dst = Path(src), Path(data), Path(dst)
    recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    limit = recipe.budget if budget is None else budget
    model = load_model(src)
    graph_input = GraphInput.of(model)
    files = pick_files(data, recipe)
    check_all(graph_input, files)
    manifest = build_manifest(files)
    ranges = collect_ranges(
        model,
        iter_feeds(graph_input, files),
        recipe.method,
        recipe.percentile,
        total=len(files),
        progress=progress,
    )
    nodes = quantizable_nodes(model)
    if not nodes:
        raise EdgesegError(f"{src} has no Conv/Gemm/MatMul layers: there is nothing to run in INT8")
    keep = recipe.kept(nodes)

    def build(keep_fp32: list[str], only: list[str]) -> Any:
        return trt_qdq_graph(model, ranges, keep_fp32, only)

    report: dict[str, Any] = {
        "model": src.name,
        "recipe": asdict(recipe),
        "budget": limit,
        "frames": len(files),
        "calibration_set_sha256": manifest["set_sha256"],
        "calibration_files": manifest["files"],
    }
    result: BudgetResult | None = None
    held: HeldOut | None = None
    with tempfile.TemporaryDirectory(prefix="edgeseg-heldout-") as tmp:
        if check_budget:
            held = (
                load_held_out(held_out, held_out_split, recipe.held_out_frames)
                if held_out is not None
                else generated_held_out(graph_input, recipe.held_out_frames, Path(tmp))
            )
            result = fit_budget(
                model,
                build,
                keep,
                nodes,
                held,
                limit,
                recipe.sensitivity_frames,
                recipe.max_fallback,
                progress,
            )
            print(result.table())
        fp32_nodes = keep + (result.fallback if result else [])
        report["precision"] = {n: "fp32" if n in fp32_nodes else "int8" for n in nodes}
        report["fallback"] = result.fallback if result else []
        report_path = dst.with_suffix(".json")
        dst.parent.mkdir(parents=True, exist_ok=True)
        if result is not None:
            report["accuracy"] = {
                "fp32": result.fp32,
                "int8_all_layers": result.int8_initial,
                "int8": result.int8_final,
                "drop": result.drop,
                "within_budget": result.within_budget,
                "held_out": {
                    "root": str(held_out) if held_out else "generated ShapesWorld val",
                    "frames": len(held.records) if held else 0,
                },
                "sensitivity": [asdict(s) for s in result.sensitivity],
            }
            if not result.within_budget:
                report_path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
                raise EdgesegError(
                    f"INT8 loses {result.drop:.2f} points (budget {limit}) even with "
                    f"{len(result.fallback)} layer(s) in FP32 (max_fallback {recipe.max_fallback}); "
                    f"nothing written but the report {report_path}: "
                    "raise max_fallback or --budget, add calibration frames, or try method percentile"
                )
        qdq = build(fp32_nodes, [])
        qdq.metadata_props.add(
            key="edgeseg.calibration",
            value=json.dumps(
                {
                    "calibration_set_sha256": manifest["set_sha256"],
                    "method": recipe.method,
                    "fp32_layers": fp32_nodes,
                    "drop": result.drop if result else None,
                }
            ),
        )
        onnx.save(qdq, str(dst))
        outcome = CalibrationOutcome(
            dst, None, None, report_path, str(manifest["set_sha256"]), report.get("accuracy")
        )
        if cpu_out is not None:
            cpu = cpu_int8_graph(model, ranges, fp32_nodes)
            onnx.save(cpu, str(cpu_out))
            outcome.cpu_path = Path(cpu_out)
            if held is not None:
                report["accuracy"]["cpu_int8"] = score_graph(cpu, held)
        if cache_out is not None:
            outcome.calibration_cache = write_cache(Path(cache_out), cache_entries(model, ranges, fp32_nodes))
    save_ranges(dst.with_suffix(".ranges.json"), ranges)
    report["outputs"] = {
        "qdq": dst.name,
        "cpu_int8": Path(cpu_out).name if cpu_out else None,
        "cache": Path(cache_out).name if cache_out else None,
        "ranges": dst.with_suffix(".ranges.json").name,
    }
    report_path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return outcome
