"""TensorRT callbacks: its logger routed to Python logging, its build progress shown as tqdm bars.

Why: TensorRT prints to its own logger and builds can take minutes with no sign of life. The hook
classes subclass the interfaces of the TensorRT module in use (TensorRT or TensorRT for RTX, whose
classes are distinct types), so they are made per module, once, after `compat.load_tensorrt()`
succeeded. The severity mapping and the progress bookkeeping are plain code, tested alone.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

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


class ProgressBars:
    """One tqdm bar per TensorRT build phase, nested under its parent phase."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.bars: dict[str, Any] = {}

    def start(self, phase_name: str, num_steps: int) -> None:
        if not self.enabled:
            return
        position = len(self.bars)
        self.bars[phase_name] = tqdm(
            total=num_steps, desc=phase_name, position=position, leave=position == 0, unit="step"
        )

    def step(self, phase_name: str, step: int) -> bool:
        bar = self.bars.get(phase_name)
        if bar is not None:
            bar.n = step + 1
            bar.refresh()
        return True  # False would cancel the build

    def finish(self, phase_name: str) -> None:
        bar = self.bars.pop(phase_name, None)
        if bar is not None:
            bar.close()


_LOGGERS: dict[str, Any] = {}


def logger(trt_module: ModuleType) -> Any:
    """The process-wide logger for `trt_module` (TensorRT expects one logger object to outlive its users)."""
    key = trt_module.__name__
    if key not in _LOGGERS:

        class LoggingLogger(trt_module.ILogger):  # type: ignore[name-defined,misc]
            """Forwards every TensorRT message to the `edgeseg.tensorrt` logger."""

            def __init__(self) -> None:
                trt_module.ILogger.__init__(self)

            def log(self, severity: Any, msg: str) -> None:
                LOG.log(python_level(severity.name), "[TensorRT] %s", msg)

        _LOGGERS[key] = LoggingLogger()
    return _LOGGERS[key]


def progress_monitor(trt_module: ModuleType, enabled: bool = True) -> Any:
    """A TensorRT progress monitor drawing `ProgressBars` (a new one per build)."""

    class TqdmProgressMonitor(trt_module.IProgressMonitor):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            trt_module.IProgressMonitor.__init__(self)
            self.bars = ProgressBars(enabled)

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            self.bars.start(phase_name, num_steps)

        def step_complete(self, phase_name: str, step: int) -> bool:
            return self.bars.step(phase_name, step)

        def phase_finish(self, phase_name: str) -> None:
            self.bars.finish(phase_name)

    return TqdmProgressMonitor()
