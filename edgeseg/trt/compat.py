"""The one place where TensorRT versions and flavours differ (10.3 .. 10.x, 11.x, TensorRT for RTX).

Why one module: TensorRT 11 removed the FP16/INT8 builder flags, calibrators, EXPLICIT_BATCH and
several `_v2`-renamed attributes, and JetPack 6.0's TensorRT 8.6 lacks IPluginV3 entirely. Every
such difference is decided here from the version tuple alone, by pure functions returning a
`TrtCapabilities` object, so the rules are testable without TensorRT; the builder and the runtime
ask this object instead of checking versions themselves.

TensorRT for RTX (module `tensorrt_rtx`, or `tensorrt_rtx_bindings` from its PyPI wheels) is a third
flavour with its own version numbers (1.x): strongly typed only, no calibrators, and it builds ahead
of time for named compute capabilities on any machine, GPU or not; version 1.7 takes no custom plugin
layers (the ONNX parser aborts right after creating one).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Literal

from edgeseg.errors import EdgesegError

if TYPE_CHECKING:
    import tensorrt as trt

Precision = Literal["fp32", "fp16", "int8"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "fp16", "int8")
Flavour = Literal["tensorrt", "rtx"]
FLAVOURS: tuple[Flavour, ...] = ("tensorrt", "rtx")
MIN_VERSION = (10, 3)
NEWEST_KNOWN_MAJOR = 11
RTX_MIN_VERSION = (1, 4)  # the oldest TensorRT for RTX on PyPI with a Python ONNX parser and AOT builds
RTX_NEWEST_KNOWN = (1, 7)
RTX_MODULES = ("tensorrt_rtx", "tensorrt_rtx_bindings")  # the metapackage's name, then the wheel's

INSTALL_HINT = (
    "on Jetson use JetPack's python3-libnvinfer (JetPack 6.1/6.2 or newer); "
    "on desktop `pip install tensorrt` (or `pip install 'edgeseg[trt]'`)"
)
RTX_INSTALL_HINT = "`pip install 'edgeseg[rtx]'` (TensorRT for RTX: builds ahead of time, GPU or not)"


@dataclass(frozen=True)
class TrtCapabilities:
    """What one TensorRT version offers, as far as edgeseg cares."""

    version: tuple[int, ...]
    strongly_typed_only: bool  # 11+: every network is strongly typed; no precision builder flags
    implicit_int8_calibration: bool  # 10.x: BuilderFlag.INT8 + a calibrator reading a calibration cache
    device_memory_attr: str  # ICudaEngine attribute giving the activation memory size
    flavour: Flavour = "tensorrt"
    ahead_of_time: bool = False  # builds for named compute capabilities, not for the local GPU
    plugin_layers: bool = True  # networks may hold custom (IPluginV3) layers
    timing_cache: bool = True  # TensorRT for RTX keeps the API but makes it a deprecated no-op

    @property
    def version_str(self) -> str:
        return ".".join(str(v) for v in self.version)

    @property
    def name(self) -> str:
        return runtime_name(self.flavour, self.version_str)


def runtime_name(flavour: str, version: str) -> str:
    """'TensorRT 10.3.0' or 'TensorRT for RTX 1.7.1.116', for messages."""
    return f"TensorRT{' for RTX' if flavour == 'rtx' else ''} {version}"


def parse_version(text: str) -> tuple[int, ...]:
    """'10.3.0.30' -> (10, 3, 0, 30). Raises EdgesegError on anything else."""
    match = re.match(r"^\s*(\d+(?:\.\d+)*)", text)
    if not match:
        raise EdgesegError(f"cannot read the TensorRT version {text!r}: reinstall TensorRT ({INSTALL_HINT})")
    return tuple(int(p) for p in match.group(1).split("."))


def capabilities(version: tuple[int, ...]) -> TrtCapabilities:
    """The capabilities of TensorRT `version`; refuses versions edgeseg cannot run on."""
    if version[:2] < MIN_VERSION:
        found = ".".join(str(v) for v in version)
        jetpack = " (this is JetPack 6.0's TensorRT)" if version[0] == 8 else ""
        raise EdgesegError(
            f"TensorRT {found}{jetpack} is too old: edgeseg's plugins need IPluginV3 and explicit "
            f"quantization from TensorRT >= 10.3. Upgrade to JetPack 6.1/6.2 (TensorRT 10.3) or newer; "
            f"on desktop `pip install 'tensorrt>=10.3'`"
        )
    major = version[0]
    if major == 10:
        return TrtCapabilities(
            version=version,
            strongly_typed_only=False,
            implicit_int8_calibration=True,
            device_memory_attr="device_memory_size",
        )
    return TrtCapabilities(  # 11 and, until proven otherwise, later majors
        version=version,
        strongly_typed_only=True,
        implicit_int8_calibration=False,
        device_memory_attr="device_memory_size_v2",
    )


def rtx_capabilities(version: tuple[int, ...]) -> TrtCapabilities:
    """The capabilities of TensorRT for RTX `version` (its own 1.x numbering)."""
    if version[:2] < RTX_MIN_VERSION:
        found = ".".join(str(v) for v in version)
        raise EdgesegError(
            f"TensorRT for RTX {found} is too old: edgeseg needs >= {'.'.join(map(str, RTX_MIN_VERSION))}; "
            + RTX_INSTALL_HINT
        )
    return TrtCapabilities(
        version=version,
        strongly_typed_only=True,
        implicit_int8_calibration=False,
        device_memory_attr="device_memory_size_v2",
        flavour="rtx",
        ahead_of_time=True,
        timing_cache=False,
        plugin_layers=version[:2] > RTX_NEWEST_KNOWN,  # 1.7 aborts on any plugin layer; newer: try it
    )


def is_untested(caps: TrtCapabilities) -> bool:
    """True for versions newer than any edgeseg was written against (used for a warning)."""
    if caps.flavour == "rtx":
        return caps.version[:2] > RTX_NEWEST_KNOWN
    return caps.version[0] > NEWEST_KNOWN_MAJOR


def _import_real(names: tuple[str, ...]) -> ModuleType | None:
    """The first of `names` that imports as a real TensorRT module (stub-only folders do not count).

    The `tensorrt-stubs` package installs a `tensorrt/` folder holding only .pyi files, which Python
    imports as an empty namespace package; that is not TensorRT, so presence of `Builder` is checked.
    """
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "Builder") and hasattr(module, "__version__"):
            return module
    return None


def load_tensorrt(flavour: Flavour = "tensorrt") -> tuple[ModuleType, TrtCapabilities]:
    """Import TensorRT (or TensorRT for RTX) lazily and check its version."""
    if flavour not in FLAVOURS:
        raise EdgesegError(f"unknown TensorRT flavour {flavour!r}: use one of {', '.join(FLAVOURS)}")
    if flavour == "rtx":
        module = _import_real(RTX_MODULES)
        if module is None:
            raise EdgesegError(f"TensorRT for RTX is not installed: {RTX_INSTALL_HINT}")
        return module, rtx_capabilities(parse_version(str(module.__version__)))
    module = _import_real(("tensorrt",))
    if module is None:
        raise EdgesegError(
            "TensorRT is not installed (no `tensorrt` module, or only its type stubs): " + INSTALL_HINT
        )
    return module, capabilities(parse_version(str(module.__version__)))


# --- ahead-of-time targets (TensorRT for RTX) ----------------------------------------------------


def parse_compute_capabilities(text: str) -> tuple[int, ...]:
    """'86,89,120' (also '8.6', 'sm_86', 'SM86') -> (86, 89, 120), sorted and without repeats; '' -> ()."""
    values = []
    for part in (p.strip() for p in text.split(",") if text.strip()):
        match = re.fullmatch(r"(?i)(?:sm_?)?(\d+)(?:\.(\d))?", part)
        if not match:
            raise EdgesegError(
                f"compute capability {part!r} is not a number: write them like 86,89,120 (or 8.6, sm_86)"
            )
        major, minor = match.groups()
        values.append(int(major) * 10 + int(minor) if minor is not None else int(major))
    return tuple(sorted(set(values)))


def offered_compute_capabilities(trt_module: ModuleType) -> tuple[int, ...]:
    """The capabilities this TensorRT for RTX builds for, read from its ComputeCapability enum."""
    names = [n for n in dir(trt_module.ComputeCapability) if re.fullmatch(r"SM\d+", n)]
    return tuple(sorted(int(n[2:]) for n in names))


def set_compute_capabilities(
    config: trt.IBuilderConfig, trt_module: ModuleType, wanted: tuple[int, ...]
) -> None:
    """Ask an ahead-of-time builder for code for each of `wanted`; refuse ones it cannot target."""
    offered = offered_compute_capabilities(trt_module)
    missing = [cc for cc in wanted if cc not in offered]
    if not wanted or missing:
        what = f"SM{', SM'.join(map(str, missing))} not offered" if missing else "none given"
        raise EdgesegError(
            f"--compute-capability: {what}; this TensorRT for RTX builds for "
            f"{', '.join(map(str, offered))} (e.g. --compute-capability 86,89,120)"
        )
    config.num_compute_capabilities = len(wanted)  # type: ignore[attr-defined]
    for index, cc in enumerate(wanted):
        member = getattr(trt_module.ComputeCapability, f"SM{cc}")
        config.set_compute_capability(member, index)  # type: ignore[attr-defined]


# --- network creation --------------------------------------------------------------------------


def network_flag_names(caps: TrtCapabilities, strongly_typed: bool) -> tuple[str, ...]:
    """NetworkDefinitionCreationFlag members to set.

    10.x networks are always explicit batch (EXPLICIT_BATCH is a deprecated no-op there and gone in
    11, so it is never set); STRONGLY_TYPED is opt-in on 10.x and implicit (deprecated) on 11.
    """
    if strongly_typed and not caps.strongly_typed_only:
        return ("STRONGLY_TYPED",)
    return ()


def network_flags(trt_module: ModuleType, names: tuple[str, ...]) -> int:
    """The creation-flags bit mask, from enum members (their values were renumbered in 11)."""
    mask = 0
    for name in names:
        mask |= 1 << int(getattr(trt_module.NetworkDefinitionCreationFlag, name))
    return mask


# --- precision ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphPrecision:
    """What precision the ONNX graph itself carries (read by edgeseg.engine.onnx_info)."""

    has_fp16: bool  # float16 tensors: produced by the FP16 precision pass
    has_qdq: bool  # QuantizeLinear/DequantizeLinear nodes: produced by calibration


@dataclass(frozen=True)
class PrecisionPlan:
    """How to get the requested precision out of this TensorRT and this graph."""

    strongly_typed: bool  # types come from the graph
    builder_flags: tuple[str, ...]  # BuilderFlag members to set (10.x weakly typed builds only)
    use_calibration_cache: bool  # implicit INT8 from a TensorRT 10 calibration cache


def plan_precision(
    caps: TrtCapabilities, precision: Precision, graph: GraphPrecision, calibration_cache: bool = False
) -> PrecisionPlan:
    """Decide flags and typing for `precision`; explain what to do when it cannot be had."""
    if precision not in PRECISIONS:
        raise EdgesegError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    if calibration_cache and precision != "int8":
        raise EdgesegError("a calibration cache only makes sense with --precision int8")
    if calibration_cache and not caps.implicit_int8_calibration:
        raise EdgesegError(
            f"TensorRT {caps.version_str} has no implicit INT8 calibration (calibration caches are "
            "TensorRT 10 only): build from the Q/DQ graph written by `edgeseg calibrate` instead"
        )
    if precision == "fp32":
        if graph.has_qdq or graph.has_fp16:
            kind = "Q/DQ (INT8)" if graph.has_qdq else "float16"
            raise EdgesegError(
                f"the ONNX graph carries {kind} tensors, so it cannot give an FP32 engine: build the FP32 "
                "graph (model.onnx / model.trt.onnx) or pass the matching --precision"
            )
        return PrecisionPlan(strongly_typed=True, builder_flags=(), use_calibration_cache=False)
    if precision == "fp16":
        if graph.has_qdq:
            raise EdgesegError("the ONNX graph has Q/DQ nodes: build it with --precision int8")
        if graph.has_fp16:
            return PrecisionPlan(strongly_typed=True, builder_flags=(), use_calibration_cache=False)
        if caps.strongly_typed_only:
            raise EdgesegError(
                f"TensorRT {caps.version_str} builds FP16 only from an FP16 ONNX graph (no FP16 builder flag "
                "since 11.0): convert the graph with the FP16 precision pass, or let "
                "`edgeseg build MODEL_NAME --precision fp16` do it"
            )
        return PrecisionPlan(strongly_typed=False, builder_flags=("FP16",), use_calibration_cache=False)
    if graph.has_qdq:
        return PrecisionPlan(strongly_typed=True, builder_flags=(), use_calibration_cache=False)
    if calibration_cache:
        return PrecisionPlan(strongly_typed=False, builder_flags=("INT8",), use_calibration_cache=True)
    extra = ""
    if caps.implicit_int8_calibration:
        extra = " or, on TensorRT 10, pass a calibration cache (--calib-cache)"
    raise EdgesegError(
        "INT8 needs a graph with Q/DQ nodes: run `edgeseg calibrate` "
        "(or `edgeseg build ... --calib DIR`)" + extra
    )


def set_builder_flags(config: trt.IBuilderConfig, trt_module: ModuleType, names: tuple[str, ...]) -> None:
    """Set BuilderFlag members by name (only ever called with names plan_precision chose)."""
    for name in names:
        config.set_flag(getattr(trt_module.BuilderFlag, name))


# --- engine and plugin registry attributes -------------------------------------------------------


def device_memory_bytes(engine: trt.ICudaEngine, caps: TrtCapabilities) -> int:
    """Activation memory the engine needs (`device_memory_size` on 10.x, `_v2` on 11)."""
    return int(getattr(engine, caps.device_memory_attr))


def plugin_creators(registry: trt.IPluginRegistry) -> list[tuple[str, str, str]]:
    """(name, version, namespace) of every registered creator, V1 and V3 alike.

    `all_creators` exists from 10.0 through 11 (11 removed the V1-only `plugin_creator_list`).
    """
    return [(str(c.name), str(c.plugin_version), str(c.plugin_namespace)) for c in registry.all_creators]


# --- TensorRT version as calibration cache headers write it (format: edgeseg.calibration.cache) ---


def encoded_version(version: tuple[int, ...]) -> int:
    """NV_TENSORRT_VERSION as written in cache headers: 10.3.0 -> 100300 (TensorRT 8 used 8600)."""
    major, minor, patch = (tuple(version) + (0, 0, 0))[:3]
    if major < 10:
        return major * 1000 + minor * 100 + patch
    return major * 10000 + minor * 100 + patch
