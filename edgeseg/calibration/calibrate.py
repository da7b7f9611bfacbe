"""`calibrate_file`: FP32 graph + calibration frames -> TensorRT Q/DQ graph, CPU INT8 graph, cache, report.

Order: check every frame, measure ranges once, score FP32 vs INT8 on the held-out set (falling
back sensitive layers if needed), and only then write the graphs. A budget that cannot be met
writes the report and raises: no degraded model is left under the requested name.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.calibration.budget import BudgetResult, Builder, fit_budget
from edgeseg.calibration.cache import write_cache
from edgeseg.calibration.cpu_int8 import CPU_OP_TYPES, normalize_input, quantize_normalized
from edgeseg.calibration.evaluate import HeldOut, load_held_out
from edgeseg.calibration.images import GraphInput, check_all, iter_feeds, list_images
from edgeseg.calibration.manifest import build_manifest
from edgeseg.calibration.qdq import quantizable_nodes, trt_qdq_graph
from edgeseg.calibration.ranges import TensorRange, collect_ranges, save_ranges
from edgeseg.calibration.recipe import Recipe, load_recipe
from edgeseg.errors import EdgesegError
from edgeseg.outputs import check_output_file

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


def check_outputs(src: Path, dst: Path, cpu_out: Path | None = None, cache_out: Path | None = None) -> None:
    """Every output writable, none of them the model or each other: checked before minutes of
    calibration, so a bad path fails at once instead of after the work."""
    named = [("-o", dst), ("--cpu-out", cpu_out), ("--cache-out", cache_out)]
    given = [(flag, Path(path)) for flag, path in named if path is not None]
    for index, (flag, path) in enumerate(given):
        if path.resolve() == Path(src).resolve():
            raise EdgesegError(f"{flag} {path} is the model being calibrated: give a different output path")
        for other_flag, other in given[:index]:
            if path.resolve() == other.resolve():
                raise EdgesegError(f"{flag} {path} is also given as {other_flag}: give each output its "
                                   "own path")
        check_output_file(path, flag)


def copy_metadata(source: Any, target: Any) -> None:
    """Give `target` the source graph's metadata_props it lacks (task, classes, input, ...): `edgeseg run`
    and the engine build read them from the file, and a quantized graph without them cannot run."""
    present = {prop.key for prop in target.metadata_props}
    for prop in source.metadata_props:
        if prop.key not in present:
            target.metadata_props.add(key=prop.key, value=prop.value)


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


@dataclass
class GraphPlan:
    """One INT8 graph to write: how to build it, which layers stay FP32, what it scored."""

    label: str
    build: Builder
    layers: list[str]  # the nodes this graph quantizes: the precision map's keys, the fallback candidates
    fp32_layers: list[str]
    result: BudgetResult | None = None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "precision": {n: "fp32" if n in self.fp32_layers else "int8" for n in self.layers},
            "fallback": self.result.fallback if self.result else [],
        }
        if self.result is not None:
            r = self.result
            out["accuracy"] = {
                "fp32": r.fp32,
                "int8_all_layers": r.int8_initial,
                "int8": r.int8_final,
                "drop": r.drop,
                "within_budget": r.within_budget,
                "sensitivity": [asdict(s) for s in r.sensitivity],
            }
        return out


def fit_plans(
    plans: list[GraphPlan],
    model: Any,
    held: HeldOut,
    limit: float,
    recipe: Recipe,
    progress: bool,
) -> None:
    """Run the budget (and fallback) for each graph; print each table."""
    for plan in plans:
        plan.result = fit_budget(
            model,
            plan.build,
            plan.fp32_layers,
            plan.layers,
            held,
            limit,
            recipe.sensitivity_frames,
            recipe.max_fallback,
            progress,
        )
        plan.fp32_layers = plan.fp32_layers + plan.result.fallback
        print(f"\n{plan.label}: FP32 vs INT8 on {len(held.records)} held-out frames\n{plan.result.table()}")


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
    """Calibrate ONNX `src` with the images in `data`; write the TensorRT Q/DQ graph to `dst`
    (and the CPU graph, the cache). Each graph gets its own fallback: their INT8 kernels differ."""
    import onnx

    src, data, dst = Path(src), Path(data), Path(dst)
    if budget is not None and not (math.isfinite(budget) and budget >= 0):
        raise EdgesegError(f"budget {budget} is not an allowed metric drop: give a finite number of "
                           "points >= 0")
    check_outputs(src, dst, cpu_out, cache_out)
    recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    limit = recipe.budget if budget is None else budget
    model = load_model(src)
    graph_input = GraphInput.of(model)
    files = pick_files(data, recipe)
    check_all(files)
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
    plans = [GraphPlan("trt_qdq", lambda fp32, only: trt_qdq_graph(model, ranges, fp32, only), nodes, keep)]
    if cpu_out is not None:
        cpu_nodes = quantizable_nodes(model, CPU_OP_TYPES)
        cpu_model = normalize_input(model)  # once: the budget quantizes it again for every candidate
        plans.append(
            GraphPlan(
                "cpu_int8",
                lambda fp32, only: quantize_normalized(cpu_model, ranges, fp32, only),
                cpu_nodes,
                recipe.kept(cpu_nodes),
            )
        )
    report: dict[str, Any] = {
        "model": src.name,
        "recipe": asdict(recipe),
        "budget": limit,
        "frames": len(files),
        "calibration_set_sha256": manifest["set_sha256"],
        "calibration_files": manifest["files"],
    }
    report_path = dst.with_suffix(".json")
    dst.parent.mkdir(parents=True, exist_ok=True)
    if check_budget:
        with tempfile.TemporaryDirectory(prefix="edgeseg-heldout-") as tmp:
            held = (
                load_held_out(held_out, held_out_split, recipe.held_out_frames)
                if held_out is not None
                else generated_held_out(graph_input, recipe.held_out_frames, Path(tmp))
            )
            fit_plans(plans, model, held, limit, recipe, progress)
        report["held_out"] = {
            "root": str(held_out or "generated ShapesWorld val"),
            "frames": len(held.records),
        }
    report["graphs"] = {plan.label: plan.summary() for plan in plans}
    failed = [p for p in plans if p.result is not None and not p.result.within_budget]
    if failed:
        report_path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        worst = failed[0]
        assert worst.result is not None
        raise EdgesegError(
            f"{worst.label}: INT8 loses {worst.result.drop:.2f} points (budget {limit}) even with "
            f"{len(worst.result.fallback)} layer(s) moved to FP32 (max_fallback {recipe.max_fallback}); "
            f"no graph written, report in {report_path}: raise max_fallback or --budget, add frames, "
            "or try method percentile"
        )
    trt = plans[0]
    qdq = trt.build(trt.fp32_layers, [])
    copy_metadata(model, qdq)
    qdq.metadata_props.add(
        key="edgeseg.calibration",
        value=json.dumps(
            {
                "calibration_set_sha256": manifest["set_sha256"],
                "method": recipe.method,
                "fp32_layers": trt.fp32_layers,
                "accuracy": report["graphs"]["trt_qdq"].get("accuracy", {}).get("int8"),
            }
        ),
    )
    onnx.save(qdq, str(dst))
    outcome = CalibrationOutcome(
        dst, None, None, report_path, str(manifest["set_sha256"]), report["graphs"]["trt_qdq"].get("accuracy")
    )
    if cpu_out is not None:
        cpu_graph = plans[1].build(plans[1].fp32_layers, [])
        copy_metadata(model, cpu_graph)
        Path(cpu_out).parent.mkdir(parents=True, exist_ok=True)
        onnx.save(cpu_graph, str(cpu_out))
        outcome.cpu_path = Path(cpu_out)
    if cache_out is not None:
        outcome.calibration_cache = write_cache(
            Path(cache_out), cache_entries(model, ranges, trt.fp32_layers)
        )
    save_ranges(dst.with_suffix(".ranges.json"), ranges)
    report["outputs"] = {
        "qdq": dst.name,
        "cpu_int8": Path(cpu_out).name if cpu_out else None,
        "cache": Path(cache_out).name if cache_out else None,
        "ranges": dst.with_suffix(".ranges.json").name,
    }
    report_path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return outcome
