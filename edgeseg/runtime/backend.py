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
