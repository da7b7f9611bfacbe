"""TensorRT callbacks: its logger routed to Python logging, its build progress shown as tqdm bars.

Why: TensorRT prints to its own logger and builds can take minutes with no sign of life. This
module subclasses TensorRT interfaces, so it imports TensorRT at the top: import it only after
`trt_compat.load_tensorrt()` succeeded. The severity mapping is a plain function, tested alone.
"""

from __future__ import annotations

import logging
from typing import Any

import tensorrt as trt
from tqdm import tqdm

LOG = logging.getLogger("edgeseg.tensorrt")

# TensorRT severity name -> Python logging level. TensorRT's INFO is build chatter: keep it at DEBUG.
SEVERITY_LEVELS = {
    "INTERNAL_ERROR": logging.CRITICAL,
    "ERROR": logging.ERROR,
    "WARNING": logging.WARNING,
    "INFO": logging.DEBUG,
    "VERBOSE": logging.DEBUG,
}


def python_level(severity_name: str) -> int:
    """The logging level for a TensorRT severity name (unknown names log as WARNING)."""
    return SEVERITY_LEVELS.get(severity_name, logging.WARNING)


class LoggingLogger(trt.ILogger):
    """A TensorRT logger that forwards every message to the `edgeseg.tensorrt` logger."""

    def __init__(self) -> None:
        trt.ILogger.__init__(self)

    def log(self, severity: trt.ILogger.Severity, msg: str) -> None:
        LOG.log(python_level(severity.name), "[TensorRT] %s", msg)


class TqdmProgressMonitor(trt.IProgressMonitor):
    """One tqdm bar per TensorRT build phase, nested under its parent phase."""

    def __init__(self, enabled: bool = True) -> None:
        trt.IProgressMonitor.__init__(self)
        self._enabled = enabled
        self._bars: dict[str, Any] = {}

    def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
        if not self._enabled:
            return
        position = len(self._bars)
        self._bars[phase_name] = tqdm(
            total=num_steps, desc=phase_name, position=position, leave=position == 0, unit="step"
        )

    def step_complete(self, phase_name: str, step: int) -> bool:
        bar = self._bars.get(phase_name)
        if bar is not None:
            bar.n = step + 1
            bar.refresh()
        return True  # False would cancel the build

    def phase_finish(self, phase_name: str) -> None:
        bar = self._bars.pop(phase_name, None)
        if bar is not None:
            bar.close()


_LOGGER: LoggingLogger | None = None


def logger() -> LoggingLogger:
    """The process-wide TensorRT logger (TensorRT expects one logger object to outlive its users)."""
    global _LOGGER
    if _LOGGER is None:
        _LOGGER = LoggingLogger()
    return _LOGGER
