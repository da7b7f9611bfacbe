"""Accuracy budget: FP32 vs INT8 on the held-out set, and greedy per-layer fallback when INT8 loses too much.

Sensitivity of a layer = what the graph loses when only that layer is INT8, on a few held-out
frames: first the task-metric drop, then (to order layers the metric cannot tell apart) the
relative change of the graph's outputs. The most sensitive layers move to FP32 one at a time,
re-scored on the whole held-out set after each move, until the drop is within budget. If the
recipe's `max_fallback` layers are not enough, the result says so (`within_budget` false): the
caller reports it instead of writing a degraded model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeseg.calibration.evaluate import HeldOut, run_graph, score_graph, score_outputs

Builder = Callable[[list[str], list[str]], Any]  # (keep_fp32, only) -> quantized ModelProto


def metric_drop(reference: Mapping[str, float], candidate: Mapping[str, float]) -> float:
    """The largest loss over the tasks, in points (negative when INT8 is better everywhere)."""
    return max(reference[t] - candidate[t] for t in reference)


def output_error(reference: list[dict[str, np.ndarray]], candidate: list[dict[str, np.ndarray]]) -> float:
    """Mean over outputs of sum|a - b| / sum|b|: a continuous tie-breaker for discrete metrics."""
    errors = []
    for ref, got in zip(reference, candidate, strict=True):
        for name, value in ref.items():
            b = value.astype(np.float64)
            a = got[name].astype(np.float64)
            errors.append(float(np.abs(a - b).sum() / max(np.abs(b).sum(), 1e-12)))
    return float(np.mean(errors)) if errors else 0.0


@dataclass(frozen=True)
class Sensitivity:
    node: str
    drop: float  # metric points lost with only this layer in INT8
    error: float  # relative output change with only this layer in INT8


@dataclass
class BudgetResult:
    budget: float
    fp32: dict[str, float]
    int8_initial: dict[str, float]
    int8_final: dict[str, float]
    fallback: list[str] = field(default_factory=list)
    steps: list[tuple[str, dict[str, float]]] = field(default_factory=list)
    sensitivity: list[Sensitivity] = field(default_factory=list)

    @property
    def drop(self) -> float:
        return metric_drop(self.fp32, self.int8_final)

    @property
    def within_budget(self) -> bool:
        return self.drop <= self.budget

    def table(self) -> str:
        """The fallback table printed to the user (one row per step, then the sensitivity list)."""
        tasks = list(self.fp32)
        labels = ["FP32", "INT8 (all layers)", *(f"+ FP32 {node}" for node, _ in self.steps)]
        width = min(max(len(label) for label in labels), 64)
        head = f"{'step':<{width}} " + " ".join(f"{t:>10}" for t in tasks) + f" {'drop':>7}"
        rows = [head, "-" * len(head)]
        for label, metrics in zip(
            labels, [self.fp32, self.int8_initial, *(m for _, m in self.steps)], strict=True
        ):
            values = " ".join(f"{metrics[t]:>10.2f}" for t in tasks)
            rows.append(f"{label[:width]:<{width}} {values} {metric_drop(self.fp32, metrics):>7.2f}")
        if self.sensitivity:
            rows += ["", f"{'layer (most sensitive first)':<{width}} {'drop alone':>10} {'out err':>9}"]
            rows += [f"{s.node[:width]:<{width}} {s.drop:>10.2f} {s.error:>9.4f}" for s in self.sensitivity]
        return "\n".join(rows)


def sensitivities(
    model: Any,
    build: Builder,
    keep: list[str],
    candidates: Sequence[str],
    held: HeldOut,
    frames: int,
    progress: bool = True,
) -> list[Sensitivity]:
    """Per-layer sensitivity on the first `frames` held-out frames, most sensitive first."""
    from tqdm import tqdm

    picks = list(range(min(frames, len(held.records))))
    ref_out = run_graph(model, held, picks)
    ref = score_outputs(held, picks, ref_out)
    found = []
    for node in tqdm(candidates, desc="layer sensitivity", unit="layer", disable=not progress):
        out = run_graph(build(keep, [node]), held, picks)
        found.append(
            Sensitivity(node, metric_drop(ref, score_outputs(held, picks, out)), output_error(ref_out, out))
        )
    return sorted(found, key=lambda s: (-s.drop, -s.error, s.node))


def fit_budget(
    model: Any,
    build: Builder,
    keep: list[str],
    candidates: Sequence[str],
    held: HeldOut,
    budget: float,
    sensitivity_frames: int,
    max_fallback: int,
    progress: bool = True,
) -> BudgetResult:
    """Score FP32 and INT8; fall back the most sensitive layers greedily until within `budget`."""
    fp32 = score_graph(model, held)
    initial = score_graph(build(keep, []), held)
    result = BudgetResult(budget, fp32, initial, initial)
    if result.within_budget:
        return result
    movable = [c for c in candidates if c not in keep]
    result.sensitivity = sensitivities(model, build, keep, movable, held, sensitivity_frames, progress)
    for item in result.sensitivity[:max_fallback]:
        result.fallback.append(item.node)
        result.int8_final = score_graph(build([*keep, *result.fallback], []), held)
        result.steps.append((item.node, result.int8_final))
        if result.within_budget:
            break
    return result
