"""Parse and build every plugin-free segment of an ONNX graph with a real TensorRT-family builder.

Why: TensorRT for RTX installs from PyPI and builds ahead of time without a GPU, so it is the one
real TensorRT parser and builder a CPU-only CI can run. A green check here is necessary, not
sufficient, for a Jetson's TensorRT 10.3 (another parser version, plugins included there). Each
segment is parsed from memory and built for one compute capability; the report keeps the parser's
or builder's own words and the node they name, so a failure reads like TensorRT's.

Precisions follow strong typing: FP16 comes from edgeseg's FP16 pass (float16 tensors in the
graph), INT8 from a symmetric Q/DQ graph; the builder is never asked to pick types itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from edgeseg.engine.segments import PLUGIN_BACKED_OPS, Segment, split_nodes, split_segments
from edgeseg.errors import EdgesegError
from edgeseg.trt.compat import TrtCapabilities, load_tensorrt, set_compute_capabilities

CHECK_PRECISIONS = ("fp32", "fp16", "int8")
# Small 1-D integer tensors measured by `with_boundary_shapes` (candidate shape tensors), kept in the
# check copy's metadata so a segment whose input TensorRT treats as a shape tensor gets its value.
SHAPE_VALUES_KEY = "edgeseg.check.shape_values"
MAX_SHAPE_VALUES = 8
DEFAULT_COMPUTE_CAPABILITY = 86
# A Q/DQ scale for every activation when the check only asks "does TensorRT take this INT8 graph":
# accuracy is calibration's business (edgeseg calibrate), not the parser's.
STRUCTURAL_AMAX = 8.0


@dataclass(frozen=True)
class SegmentReport:
    """What TensorRT said about one segment in one precision."""

    graph: str
    segment: int
    nodes: int
    precision: str
    parsed: bool
    built: bool
    engine_bytes: int
    seconds: float
    message: str  # the parser's or builder's errors ('' when it built)

    @property
    def ok(self) -> bool:
        return self.parsed and self.built


@contextlib.contextmanager
def _collected_errors() -> Iterator[list[str]]:
    """TensorRT's ERROR lines logged while the block runs (through edgeseg.trt.hooks' logger)."""
    lines: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.ERROR:
                lines.append(record.getMessage().removeprefix("[TensorRT] ").strip())

    handler = _Collect()
    log = logging.getLogger("edgeseg.tensorrt")
    log.addHandler(handler)
    try:
        yield lines
    finally:
        log.removeHandler(handler)


def build_bytes(
    trt: ModuleType,
    caps: TrtCapabilities,
    onnx_bytes: bytes,
    compute_capability: int,
    shape_values: Mapping[str, list[int]] | None = None,
) -> tuple[bool, bool, int, str]:
    """(parsed, built, engine size, errors) for one serialized ONNX model.

    `shape_values`: the values of inputs TensorRT treats as shape tensors (a segment cut through a
    computed Reshape shape, say); each gets an optimization profile fixing it to that value.
    """
    from edgeseg.engine.builder import parse

    with _collected_errors() as logged:
        builder, network, _parser, errors = parse(trt, caps, onnx_bytes, strongly_typed=True)
        if errors is not None:
            return False, False, 0, "; ".join(errors) or "; ".join(logged)
        config = builder.create_builder_config()
        if caps.ahead_of_time:
            set_compute_capabilities(config, trt, (compute_capability,))
        shape_inputs = [network.get_input(i) for i in range(network.num_inputs)]
        shape_inputs = [t for t in shape_inputs if t.is_shape_tensor]
        if shape_inputs:
            missing = [t.name for t in shape_inputs if t.name not in (shape_values or {})]
            if missing:
                return True, False, 0, f"shape input(s) {', '.join(missing)} have no measured value"
            profile = builder.create_optimization_profile()
            for tensor in shape_inputs:
                value = list((shape_values or {})[tensor.name])
                profile.set_shape_input(tensor.name, value, value, value)
            config.add_optimization_profile(profile)
        engine = builder.build_serialized_network(network, config)
        if engine is None:
            return True, False, 0, "; ".join(logged) or "the builder returned no engine"
        return True, True, int(engine.nbytes), ""


def with_boundary_shapes(model: Any, split_ops: Iterable[str] = PLUGIN_BACKED_OPS) -> Any:
    """`model` at batch 1, with the concrete shape of every tensor recorded.

    Why: exporters record plugin outputs with symbolic dims (and shape inference cannot follow a
    Reshape to a computed shape), while a segment built alone needs static inputs, and a segment
    boundary may fall on any tensor. One ONNX Runtime run on a blank frame (edgeseg's CPU kernels
    stand in for the plugins) measures them all; the graphs are static apart from the batch, fixed
    to 1 here, so the shapes do not depend on the frame.
    """
    import numpy as np
    import onnx

    from edgeseg.calibration.ranges import with_outputs
    from edgeseg.calibration.session import make_session

    model = at_batch_one(model)
    if not split_nodes(model, split_ops):
        return model  # one segment, the whole graph: its inputs are already static
    outputs = {o.name for o in model.graph.output}
    names = list(dict.fromkeys(t for n in model.graph.node for t in n.output if t and t not in outputs))
    session = make_session(with_outputs(model, names), threads=1)
    initializers = {t.name for t in model.graph.initializer}
    feed = {
        value.name: np.zeros(
            [d.dim_value for d in value.type.tensor_type.shape.dim],  # static: at_batch_one fixed them
            dtype=onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type),
        )
        for value in model.graph.input
        if value.name not in initializers
    }
    arrays = dict(zip([o.name for o in session.get_outputs()], session.run(None, feed), strict=True))
    small_ints = {
        name: [int(v) for v in array.reshape(-1)]
        for name, array in arrays.items()
        if array.dtype.kind in "iu" and array.ndim == 1 and array.size <= MAX_SHAPE_VALUES
    }
    model.metadata_props.add(key=SHAPE_VALUES_KEY, value=json.dumps(small_ints))
    keep = [v for v in model.graph.value_info if v.name not in names]
    del model.graph.value_info[:]
    model.graph.value_info.extend(keep)
    for name in names:
        array = arrays[name]
        elem = onnx.helper.np_dtype_to_tensor_dtype(array.dtype)
        model.graph.value_info.append(onnx.helper.make_tensor_value_info(name, elem, list(array.shape)))
    return model  # a copy: at_batch_one made it


def at_batch_one(model: Any) -> Any:
    """A copy of `model` whose graph inputs and outputs have every symbolic dim (the batch) set to 1."""
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    for value in [*out.graph.input, *out.graph.output]:
        for dim in value.type.tensor_type.shape.dim:
            if not dim.HasField("dim_value"):
                dim.dim_value = 1
    return out


def with_static_dims_of(model: Any, reference: Any) -> Any:
    """`model` whose symbolic value_info dims are filled from same-named tensors of `reference`.

    The precision passes re-declare plugin outputs with symbolic dims and change element types,
    never shapes: the dims `with_boundary_shapes` measured on the FP32 graph still hold. Tensors the
    passes add (casts, Q/DQ pairs) get theirs from `split_segments`' shape inference.
    """
    static = {v.name: v.type.tensor_type.shape for v in reference.graph.value_info if _is_static(v)}
    for value in model.graph.value_info:
        if value.name in static and not _is_static(value):
            value.type.tensor_type.shape.CopyFrom(static[value.name])
    return model


def _is_static(value: Any) -> bool:
    tensor = value.type.tensor_type
    return bool(tensor.HasField("shape")) and all(d.HasField("dim_value") for d in tensor.shape.dim)


def graph_for_precision(model: Any, precision: str) -> Any:
    """The graph TensorRT should see for `precision` under strong typing."""
    if precision == "fp32":
        return model
    if precision == "fp16":
        from edgeseg.calibration.fp16 import to_fp16
        from edgeseg.calibration.fp16_plan import DEFAULT_KEEP_FP32_OPS

        return to_fp16(model, frozenset(DEFAULT_KEEP_FP32_OPS), keep_io_types=True)
    if precision == "int8":
        from edgeseg.calibration.qdq import trt_qdq_graph
        from edgeseg.calibration.ranges import TensorRange, activation_names

        amax = STRUCTURAL_AMAX
        ranges = {name: TensorRange(-amax, amax, amax) for name in activation_names(model)}
        return trt_qdq_graph(model, ranges)
    raise EdgesegError(f"unknown precision {precision!r}: use one of {', '.join(CHECK_PRECISIONS)}")


class SegmentChecker:
    """Parses and builds segments with TensorRT for RTX, remembering results by segment hash.

    The cache (a folder of small JSON files) lets a developer rerun the ladder step in seconds;
    a fresh clone simply builds everything.
    """

    def __init__(self, compute_capability: int = DEFAULT_COMPUTE_CAPABILITY, cache_dir: Path | None = None):
        self.trt, self.caps = load_tensorrt("rtx")
        self.compute_capability = compute_capability
        self.cache_dir = cache_dir

    def check_model(self, name: str, model: Any, precision: str) -> list[SegmentReport]:
        """Every segment of `model` (FP32 ONNX, boundary shapes recorded) in `precision`, in graph order."""
        try:
            typed = with_static_dims_of(graph_for_precision(model, precision), model)
            segments = split_segments(typed)
        except EdgesegError as err:
            return [SegmentReport(name, -1, 0, precision, False, False, 0, 0.0, str(err))]
        props = {p.key: p.value for p in model.metadata_props}
        values: dict[str, list[int]] = json.loads(props.get(SHAPE_VALUES_KEY, "{}"))
        return [self.check_segment(name, seg, precision, values) for seg in segments]

    def check_segment(
        self, name: str, segment: Segment, precision: str, values: Mapping[str, list[int]] | None = None
    ) -> SegmentReport:
        data = segment.model.SerializeToString()
        shape_values = {n: list(v) for n, v in (values or {}).items() if n in segment.inputs}
        key = hashlib.sha256(
            data + f"|{precision}|{self.caps.version_str}|{self.compute_capability}|{shape_values}".encode()
        ).hexdigest()[:24]
        cached = self._cached(key)
        if cached is not None:
            return SegmentReport(**{**cached, "graph": name, "segment": segment.index})
        start = time.perf_counter()
        parsed, built, size, message = build_bytes(
            self.trt, self.caps, data, self.compute_capability, shape_values
        )
        report = SegmentReport(
            name, segment.index, segment.num_nodes, precision, parsed, built, size,
            round(time.perf_counter() - start, 2), message,
        )
        self._store(key, report)
        return report

    def _cached(self, key: str) -> dict[str, Any] | None:
        path = self.cache_dir / f"{key}.json" if self.cache_dir else None
        if path is None or not path.is_file():
            return None
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return data if data.get("built") else None  # failures are always rebuilt
        except (OSError, ValueError):
            return None

    def _store(self, key: str, report: SegmentReport) -> None:
        if self.cache_dir is None or not report.ok:
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        (self.cache_dir / f"{key}.json").write_text(json.dumps(asdict(report)), encoding="utf-8")


def format_table(reports: list[SegmentReport]) -> str:
    """One line per graph and precision: segments built, engine bytes, seconds, first failure."""
    rows: dict[tuple[str, str], list[SegmentReport]] = {}
    for r in reports:
        rows.setdefault((r.graph, r.precision), []).append(r)
    lines = [f"{'graph':34} {'prec':5} {'segments':>9} {'engine KB':>10} {'build s':>8}  result"]
    for (graph, precision), group in rows.items():
        built = sum(r.ok for r in group)
        failed = next((r for r in group if not r.ok), None)
        result = "ok" if failed is None else f"segment {failed.segment}: {failed.message[:160]}"
        kilobytes = sum(r.engine_bytes for r in group) / 1024
        seconds = sum(r.seconds for r in group)
        lines.append(
            f"{graph:34} {precision:5} {built:>4}/{len(group):<4} {kilobytes:>10.0f} {seconds:>8.1f}  "
            + result
        )
    return "\n".join(lines)
