"""ONNX in, TensorRT engine + sidecar out: `build_onnx(path, ...)`.

Why this shape: every decision that does not need TensorRT (graph precision, optimization
profiles, cache key, reuse) is made first by pure code; TensorRT is imported lazily and only asked
to parse and build. An engine whose sidecar matches the requested key and options is reused, so
`edgeseg build` is cheap to call again and rebuilds exactly when TensorRT, the GPU, the model or
the options changed.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from edgeseg import __version__
from edgeseg.engine.onnx_info import OnnxSummary, summarize
from edgeseg.engine.profiles import BatchRange, ShapeRange, profile_shapes
from edgeseg.errors import EdgesegError
from edgeseg.hashing import sha256_file
from edgeseg.trt.compat import (
    Flavour,
    Precision,
    PrecisionPlan,
    TrtCapabilities,
    is_untested,
    load_tensorrt,
    network_flag_names,
    network_flags,
    plan_precision,
    set_builder_flags,
    set_compute_capabilities,
)
from edgeseg.trt.sidecar import (
    CacheKey,
    EngineMetadata,
    Target,
    read_sidecar,
    rebuild_reason,
    write_sidecar,
)

if TYPE_CHECKING:
    import tensorrt as trt

LOG = logging.getLogger(__name__)
GRAPH_SUFFIXES = re.compile(r"(\.(trt|int8|fp16|fp32|qdq|patched))+$")


@dataclass(frozen=True)
class BuildOptions:
    """How to build; everything here except `force`/`progress`/`timing_cache` is recorded in the sidecar."""

    precision: Precision = "fp32"
    flavour: Flavour = "tensorrt"  # "rtx": TensorRT for RTX, built ahead of time for compute_capabilities
    compute_capabilities: tuple[int, ...] = ()  # e.g. (86, 89, 120); ahead-of-time builds only
    batch: BatchRange | None = None
    shapes: Mapping[str, ShapeRange] = field(default_factory=dict)
    workspace_mb: int | None = None
    dla_core: int | None = None
    calib_cache: Path | None = None
    plugin_library: Path | None = None
    timing_cache: Path | None = None
    progress: bool = True
    force: bool = False

    def __post_init__(self) -> None:
        if self.compute_capabilities and self.flavour != "rtx":
            raise EdgesegError(
                "--compute-capability needs --target rtx (TensorRT builds for the GPU it runs on)"
            )


@dataclass(frozen=True)
class BuiltEngine:
    path: Path
    metadata: EngineMetadata
    reused: bool


@dataclass(frozen=True)
class ModelRecord:
    """Facts for the sidecar that the graph may not carry (from the zoo, calibration or the user)."""

    name: str | None = None
    task: str | None = None
    classes: list[str] | None = None
    calibration_set_sha256: str | None = None
    accuracy_vs_fp32: dict[str, Any] | None = None


def default_model_name(onnx_path: Path, summary: OnnxSummary) -> str:
    """The graph's recorded model name, else the file stem without stage suffixes (.trt, .int8)."""
    return summary.facts.name or GRAPH_SUFFIXES.sub("", onnx_path.stem) or "model"


def build_flags(
    plan: PrecisionPlan, options: BuildOptions, profiles: Mapping[str, ShapeRange], calib_sha: str | None
) -> dict[str, Any]:
    """The options that change the engine, as stored in (and compared with) the sidecar."""
    return {
        "strongly_typed": plan.strongly_typed,
        "builder_flags": list(plan.builder_flags),
        "calibration_cache_sha256": calib_sha,
        "workspace_mb": options.workspace_mb,
        "dla_core": options.dla_core,
        "profiles": {name: rng.as_json() for name, rng in sorted(profiles.items())},
    }


def machine_target(trt_version: str) -> Target:
    """This machine's TensorRT version and GPU (device 0), for cache keys and mismatch checks."""
    from edgeseg.trt.cuda import open_cuda

    gpu = open_cuda().gpu_info()
    return Target(tensorrt_version=trt_version, gpu_name=gpu.name, compute_capability=gpu.compute_capability)


def build_target(caps: TrtCapabilities, trt_version: str, options: BuildOptions) -> Target:
    """What the engine is for: named compute capabilities (ahead of time) or this machine's GPU."""
    if caps.ahead_of_time:
        if not options.compute_capabilities:
            raise EdgesegError(
                f"{caps.name} builds ahead of time for named GPUs: pass --compute-capability, "
                "e.g. 86,89,120 (RTX 30xx, 40xx, 50xx)"
            )
        return Target.ahead_of_time(caps.flavour, trt_version, options.compute_capabilities)
    return machine_target(trt_version)  # BuildOptions refuses capabilities without --target rtx


def check_plugin_support(caps: TrtCapabilities, custom_ops: list[str], onnx_path: Path) -> None:
    """Refuse plugin graphs on a TensorRT that cannot hold plugin layers, before it aborts the process."""
    if custom_ops and not caps.plugin_layers:
        raise EdgesegError(
            f"{onnx_path.name} holds plugin nodes ({', '.join(sorted(set(custom_ops)))}) and "
            f"{caps.name} takes no custom plugin layers (its parser aborts the process on one): build it "
            "for TensorRT 10.3+ (`--target tensorrt`); its plugin-free segments are checked by "
            "`edgeseg.engine.segments`"
        )


def build_onnx(
    onnx_path: str | Path,
    options: BuildOptions | None = None,
    out_dir: str | Path | None = None,
    record: ModelRecord | None = None,
) -> BuiltEngine:
    """Build (or reuse) the engine for `onnx_path`; the engine lands in `out_dir` (default: beside it)."""
    onnx_path = Path(onnx_path)
    options = options or BuildOptions()
    record = record or ModelRecord()
    summary = summarize(onnx_path)
    profiles = profile_shapes(summary.inputs, options.batch, options.shapes)
    trt_module, caps = load_tensorrt(options.flavour)
    if is_untested(caps):
        LOG.warning("%s is newer than any edgeseg was tested with", caps.name)
    check_plugin_support(caps, list(summary.custom_ops), onnx_path)
    plan = plan_precision(caps, options.precision, summary.precision, options.calib_cache is not None)
    calib_sha = sha256_file(options.calib_cache) if options.calib_cache else None
    flags = build_flags(plan, options, profiles, calib_sha)
    target = build_target(caps, str(trt_module.__version__), options)
    key = CacheKey(model_sha256=sha256_file(onnx_path), precision=options.precision, target=target)
    model_name = record.name or default_model_name(onnx_path, summary)
    engine_path = Path(out_dir or onnx_path.parent) / key.file_name(model_name)

    reason = "--force" if options.force else rebuild_reason(engine_path, key, flags)
    if reason is None:
        LOG.info("reusing %s (same model, precision, machine and options)", engine_path)
        return BuiltEngine(engine_path, read_sidecar(engine_path), reused=True)
    LOG.info("building %s (%s)", engine_path.name, reason)

    plugin_sha = None
    if summary.custom_ops or options.plugin_library:
        from edgeseg.trt.plugin_loader import load_plugin_library

        plugin_sha = load_plugin_library(options.plugin_library).sha256
    plan_bytes = _build_serialized(trt_module, onnx_path, options, plan, profiles, caps)
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = engine_path.with_name(engine_path.name + ".tmp")
    tmp.write_bytes(plan_bytes)
    tmp.replace(engine_path)
    meta = EngineMetadata(
        model_name=model_name,
        model_sha256=key.model_sha256,
        precision=options.precision,
        target=target,
        engine_sha256=hashlib.sha256(plan_bytes).hexdigest(),
        task=record.task or summary.facts.task,
        classes=record.classes or summary.facts.classes,
        input_size=summary.facts.input_size,
        labels=summary.facts.labels,
        vocabulary=summary.facts.vocabulary,
        plugin_library_sha256=plugin_sha,
        build_flags=flags,
        calibration_set_sha256=record.calibration_set_sha256,
        accuracy_vs_fp32=record.accuracy_vs_fp32,
        edgeseg_version=__version__,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    )
    write_sidecar(engine_path, meta)
    LOG.info("wrote %s (%.1f MB) and its sidecar", engine_path, len(plan_bytes) / 1e6)
    return BuiltEngine(engine_path, meta, reused=False)


def parse(trt: ModuleType, caps: TrtCapabilities, source: Path | bytes, strongly_typed: bool) -> Any:
    """(builder, network, parser, errors) for an ONNX file or serialized model; `errors` is None when
    it parsed, else the parser's own messages with the nodes they name (possibly none). The parser
    must outlive the network it filled, hence it is returned too."""
    from edgeseg.trt.hooks import logger

    builder = trt.Builder(logger(trt))
    network = builder.create_network(network_flags(trt, network_flag_names(caps, strongly_typed)))
    parser = trt.OnnxParser(network, logger(trt))
    parsed = parser.parse(source) if isinstance(source, bytes) else parser.parse_from_file(str(source))
    errors = None if parsed else [parser_error_text(parser.get_error(i)) for i in range(parser.num_errors)]
    return builder, network, parser, errors


def parse_onnx(trt: ModuleType, caps: TrtCapabilities, onnx_path: Path, strongly_typed: bool) -> Any:
    """(builder, network, parser) holding the parsed graph; the parser's own messages on failure."""
    builder, network, parser, errors = parse(trt, caps, onnx_path, strongly_typed)
    if errors is not None:
        raise EdgesegError(
            f"{caps.name} cannot parse {onnx_path.name}: {'; '.join(errors)}. Plugin nodes need the plugin "
            "library (edgeseg.plugins) and the patched graph (`edgeseg patch`)"
        )
    return builder, network, parser


def parser_error_text(error: Any) -> str:
    """One parser error with the node it names: 'node 12 (/input/Transpose, Transpose): message'."""
    text = str(error.desc()) if hasattr(error, "desc") else str(error)
    node = int(error.node()) if hasattr(error, "node") else -1
    if node < 0:
        return text
    name = str(error.node_name()) if hasattr(error, "node_name") else ""
    op = str(error.node_operator()) if hasattr(error, "node_operator") else ""
    return f"node {node} ({name}, {op}): {text}"


def _build_serialized(
    trt: ModuleType,
    onnx_path: Path,
    options: BuildOptions,
    plan: PrecisionPlan,
    profiles: Mapping[str, ShapeRange],
    caps: TrtCapabilities,
) -> bytes:
    """Parse and build with TensorRT (the only part that needs it)."""
    from edgeseg.trt.hooks import progress_monitor

    builder, network, _parser = parse_onnx(trt, caps, onnx_path, plan.strongly_typed)
    config = builder.create_builder_config()
    if caps.ahead_of_time:
        set_compute_capabilities(config, trt, options.compute_capabilities)
    if options.workspace_mb is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mb << 20)
    set_builder_flags(config, trt, plan.builder_flags)
    if profiles:
        profile = builder.create_optimization_profile()
        for name, rng in profiles.items():
            profile.set_shape(name, trt.Dims(list(rng.min)), trt.Dims(list(rng.opt)), trt.Dims(list(rng.max)))
        config.add_optimization_profile(profile)
    if plan.use_calibration_cache and options.calib_cache is not None:
        from edgeseg.engine.calib_cache import cache_calibrator

        config.int8_calibrator = cache_calibrator(options.calib_cache, caps)
        if profiles:
            config.set_calibration_profile(profile)
    if options.dla_core is not None:
        _use_dla(builder, config, options.dla_core, options.precision)
    if caps.timing_cache:
        _load_timing_cache(config, options.timing_cache)
    config.progress_monitor = progress_monitor(trt, enabled=options.progress)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EdgesegError(
            f"TensorRT could not build an engine from {onnx_path.name}: run with -v to see TensorRT's log "
            "(common causes: too small --workspace, an unsupported layer on DLA, a missing plugin)"
        )
    if caps.timing_cache and options.timing_cache is not None:
        _save_timing_cache(config, options.timing_cache)
    return bytes(memoryview(serialized))


def check_dla(precision: str) -> None:
    """Refuse DLA for FP32: the DLA runs only FP16 and INT8 layers, so with GPU fallback a (strongly
    typed) FP32 engine would silently run every layer on the GPU."""
    if precision == "fp32":
        raise EdgesegError(
            "--dla needs --precision fp16 or int8: the DLA runs no FP32 layers, so an FP32 engine would "
            "run entirely on the GPU"
        )


def _use_dla(builder: trt.Builder, config: trt.IBuilderConfig, core: int, precision: str) -> None:
    """Run on a DLA core (Jetson), falling back to the GPU for layers the DLA cannot run."""
    check_dla(precision)
    import tensorrt as trt

    available = int(builder.num_DLA_cores)
    if not 0 <= core < available:
        where = f"cores 0..{available - 1}" if available else "no DLA cores (Jetson AGX/NX Orin have them)"
        raise EdgesegError(f"--dla {core} is not available: this device has {where}")
    config.default_device_type = trt.DeviceType.DLA
    config.DLA_core = core
    config.set_flag(trt.BuilderFlag.GPU_FALLBACK)


def _load_timing_cache(config: trt.IBuilderConfig, path: Path | None) -> None:
    """Start from the persisted timing cache if it fits this TensorRT/GPU, else from an empty one.

    The cache makes rebuilds (new precision, new options) skip tactic timing already done here.
    """
    data = path.read_bytes() if path is not None and path.is_file() else b""
    cache = config.create_timing_cache(data)
    if not config.set_timing_cache(cache, False):
        LOG.warning("timing cache %s does not match this TensorRT/GPU; starting a new one", path)
        config.set_timing_cache(config.create_timing_cache(b""), False)


def _save_timing_cache(config: trt.IBuilderConfig, path: Path) -> None:
    """Persist the timing cache, now holding this build's measurements too."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(bytes(memoryview(config.get_timing_cache().serialize())))
    tmp.replace(path)
