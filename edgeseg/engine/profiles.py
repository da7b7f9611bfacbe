"""Optimization-profile shapes (min, opt, max) for each dynamic ONNX input.

Why: TensorRT needs one explicit range per dynamic input. The batch axis gets the range the user
asks for; any other dynamic axis (image size) must be given explicitly, because guessing an image
range would silently build an engine tuned for the wrong size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from edgeseg.errors import EdgesegError

Dim = int | str | None  # ONNX dims: a size, a symbolic name, or unknown


@dataclass(frozen=True)
class InputInfo:
    """An ONNX graph input as the builder sees it."""

    name: str
    shape: tuple[Dim, ...]


@dataclass(frozen=True)
class BatchRange:
    min: int = 1
    opt: int = 1
    max: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.min <= self.opt <= self.max:
            raise EdgesegError(
                f"batch range min={self.min} opt={self.opt} max={self.max} is invalid: "
                "need 1 <= min <= opt <= max"
            )


@dataclass(frozen=True)
class ShapeRange:
    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]

    def as_json(self) -> dict[str, list[int]]:
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max)}


def is_dynamic(dim: Dim) -> bool:
    return not isinstance(dim, int) or dim < 0


def _check_override(info: InputInfo, rng: ShapeRange) -> None:
    rank = len(info.shape)
    for label, shape in (("min", rng.min), ("opt", rng.opt), ("max", rng.max)):
        if len(shape) != rank:
            raise EdgesegError(
                f"input {info.name!r} has rank {rank}, but its {label} shape {shape} has {len(shape)} dims"
            )
    for axis, dim in enumerate(info.shape):
        lo, mid, hi = rng.min[axis], rng.opt[axis], rng.max[axis]
        if not 1 <= lo <= mid <= hi:
            raise EdgesegError(
                f"input {info.name!r} axis {axis}: need 1 <= min <= opt <= max, got {lo}, {mid}, {hi}"
            )
        if not is_dynamic(dim) and not lo == mid == hi == dim:
            raise EdgesegError(
                f"input {info.name!r} axis {axis} is fixed to {dim} in the ONNX graph, but the range "
                f"asks for {lo}..{hi}: re-export the model with that axis dynamic, or drop it from the range"
            )


def profile_shapes(
    inputs: Sequence[InputInfo],
    batch: BatchRange | None = None,
    overrides: Mapping[str, ShapeRange] | None = None,
) -> dict[str, ShapeRange]:
    """The profile for every input that has a dynamic axis; static inputs need none.

    `batch` applies to axis 0 of inputs whose axis 0 is dynamic (default 1/1/1); a graph without
    any dynamic batch axis refuses a batch range other than 1. `overrides` gives full ranges for
    inputs with other dynamic axes and wins over `batch`.
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - {i.name for i in inputs})
    if unknown:
        names = ", ".join(i.name for i in inputs)
        raise EdgesegError(
            f"shape range given for unknown input(s) {', '.join(unknown)}: the graph's inputs are {names}"
        )
    profiles: dict[str, ShapeRange] = {}
    batched = False
    for info in inputs:
        if info.name in overrides:
            _check_override(info, overrides[info.name])
            if any(is_dynamic(d) for d in info.shape):
                profiles[info.name] = overrides[info.name]
            continue
        if not info.shape:
            continue
        head, *rest = info.shape
        for axis, dim in enumerate(rest, start=1):
            if is_dynamic(dim):
                raise EdgesegError(
                    f"input {info.name!r} axis {axis} is dynamic ({dim!r}) in the ONNX graph: give its range "
                    f"(shapes={{'{info.name}': ShapeRange(min=..., opt=..., max=...)}} or --shape), "
                    "or export with a fixed size"
                )
        if not is_dynamic(head):
            continue  # a fixed leading axis (e.g. anchors [1000, 4]) is not a batch axis
        fixed = tuple(int(d) for d in rest)  # type: ignore[arg-type]  # checked static just above
        b = batch or BatchRange()
        profiles[info.name] = ShapeRange((b.min, *fixed), (b.opt, *fixed), (b.max, *fixed))
        batched = True
    if batch is not None and not batched and not overrides and (batch.min, batch.max) != (1, 1):
        raise EdgesegError(
            f"no input of the ONNX graph has a dynamic batch axis, so batch range {batch.min}..{batch.max} "
            "cannot be built: re-export with a dynamic batch axis, or build with batch 1"
        )
    return profiles
