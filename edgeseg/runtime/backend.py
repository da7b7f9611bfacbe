"""The Backend protocol: what every inference engine (ONNX Runtime on CPU, TensorRT on GPU) offers.

A pipeline talks only to this protocol, so swapping backends is one argument. Backends take and
return numpy arrays keyed by the graph's tensor names; they never import torch.
"""
from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from edgeseg.errors import EdgesegError


@dataclass(frozen=True)
class TensorSpec:
    """A graph input or output. Dynamic dimensions are None (or the symbolic name as a str)."""

    name: str
    shape: tuple[int | str | None, ...]
    dtype: np.dtype


@runtime_checkable
class Backend(Protocol):
    name: str

    def inputs(self) -> list[TensorSpec]: ...

    def outputs(self) -> list[TensorSpec]: ...

    def infer(self, batch: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch synchronously."""
        ...

    def infer_async(self, batch: Mapping[str, np.ndarray]) -> Future[dict[str, np.ndarray]]:
        """Start one batch; the future resolves to the same dict `infer` returns."""
        ...

    def close(self) -> None: ...


def check_inputs(
    batch: Mapping[str, np.ndarray], inputs: list[TensorSpec], holder: str
) -> dict[str, np.ndarray]:
    """Names, dtypes and ranks of `batch` against a backend's `inputs`; `holder` is 'graph' or 'engine'.

    Shared so both backends refuse the same mistakes in the same words; each then checks the
    dimensions against its own limits (fixed graph dims, TensorRT profile ranges).
    """
    expected = {s.name for s in inputs}
    missing, extra = sorted(expected - set(batch)), sorted(set(batch) - expected)
    if missing or extra:
        raise EdgesegError(
            f"inputs do not match the {holder}: missing {missing or 'none'}, unexpected {extra or 'none'}; "
            f"the {holder} takes {sorted(expected)}"
        )
    feed = {}
    for spec in inputs:
        value = np.asarray(batch[spec.name])
        if value.dtype != spec.dtype:
            raise EdgesegError(
                f"input {spec.name!r} must be {spec.dtype}, got {value.dtype}: convert it (e.g. .astype)"
            )
        if value.ndim != len(spec.shape):
            raise EdgesegError(
                f"input {spec.name!r} must have rank {len(spec.shape)} {list(spec.shape)}, "
                f"got shape {list(value.shape)}"
            )
        feed[spec.name] = value
    return feed
