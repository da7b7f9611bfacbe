"""Lint an ONNX graph for a TensorRT target: what will fail, what needs care, and which pass fixes it.

Every rule cites its source (docs/surgery.md prints the table): the onnx-tensorrt operator matrix of
the 10.x parser and our TensorRT facts sheet. Findings about TensorRT 11 from the 10.x operator matrix
say so, as no newer matrix was checked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import onnx
import onnx_graphsurgeon as gs

from edgeseg.surgery import foreign
from edgeseg.surgery.graphs import EDGESEG_DOMAIN, const_value, iter_graphs, producer
from edgeseg.surgery.plugins import NMS_MAX_CANDIDATES, spec_for_onnx_node, spec_for_plugin

TARGETS = ("trt10.3", "trt11", "rtx1.7")
OPS_MATRIX = "onnx-tensorrt docs/operators.md (10.1 parser, the 10.x matrix)"
FACTS = "TensorRT facts sheet"
# onnx-tensorrt parser sources (10.1) behind the rules TensorRT for RTX's parser taught us (facts, cited)
PARSER_UINT8 = (
    "onnx-tensorrt ModelImporter.cpp (UINT8 only as network input/output) and onnxOpImporters.cpp "
    "(per-op UINT8 input refusals, e.g. Transpose)"
)
PARSER_CAST = "onnx-tensorrt onnxOpImporters.cpp (Cast -> addCast; casts to UINT8 only from FLOAT/HALF)"
PARSER_OUTPUTS = "onnx-tensorrt ModelImporter.cpp (graph outputs are marked with their converted elem_type)"
PARSER_DDS = "onnx-tensorrt ModelImporter.cpp (isDDSOp) and onnxOpImporters.cpp (Slice with runtime bounds)"
NMS_PLUGIN = "plugins/nms (configurePlugin: at most 16384 candidates per image)"
RTX_MEASURED = "TensorRT for RTX 1.7.1 as measured by the test ladder (docs/build.md)"
# What TensorRT for RTX 1.7 cannot build, beyond the 10.x parser's rules.
RTX_UNBUILDABLE = {
    "RoiAlign": "its parser imports RoiAlign as the ROIAlign_TRT plugin, which it does not ship",
    "NonMaxSuppression": "its builder has no runners for the NMS layer (SM86)",
}
FLOAT_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)
QDQ = ("QuantizeLinear", "DequantizeLinear")
# inputs that set an output's size: a runtime value there makes the shape data-dependent
SIZE_INPUTS = {"Slice": (1, 2), "Range": (0, 1, 2), "ConstantOfShape": (0,), "Expand": (1,), "Tile": (1,),
               "TopK": (1,), "Reshape": (1,)}

# ONNX ops the 10.x parser does not import (operator matrix, "Supported: N").
UNSUPPORTED_OPS = [
    "AffineGrid",
    "Bernoulli",
    "BitShift",
    "BitwiseAnd",
    "BitwiseNot",
    "BitwiseOr",
    "BitwiseXor",
    "BlackmanWindow",
    "CenterCropPad",
    "Compress",
    "ConcatFromSequence",
    "ConvInteger",
    "DFT",
    "Det",
    "DynamicQuantizeLinear",
    "HammingWindow",
    "HannWindow",
    "ImageDecoder",
    "MatMulInteger",
    "MaxRoiPool",
    "MaxUnpool",
    "MelWeightMatrix",
    "Multinomial",
    "NegativeLogLikelihoodLoss",
    "Optional",
    "OptionalGetElement",
    "OptionalHasElement",
    "QLinearConv",
    "QLinearMatMul",
    "RegexFullMatch",
    "STFT",
    "SequenceAt",
    "SequenceConstruct",
    "SequenceEmpty",
    "SequenceErase",
    "SequenceInsert",
    "SequenceLength",
    "SequenceMap",
    "SoftmaxCrossEntropyLoss",
    "SplitToSequence",
    "StringConcat",
    "StringNormalizer",
    "StringSplit",
    "TfIdfVectorizer",
    "Unique",
]
MAX_PARSER_OPSET = 20  # "opset 9 to opset 20" (operator matrix)
TOPK_MAX_K = 3840  # "K input must be less than 3840" (operator matrix)
# Ops whose output size depends on the data: TensorRT treats them as data-dependent shapes (DDS), which
# need an IOutputAllocator or max-size buffers at runtime (facts sheet sections 2 and 5).
DDS_OPS = {"NonZero": "NonZero", "NonMaxSuppression": "INMSLayer (NonMaxSuppression)"}


@dataclass(frozen=True)
class PluginRule:
    """A stock TensorRT plugin node and what each target does with it (facts sheet section 5)."""

    op: str
    trt103: str  # "ok" | "deprecated" | "removed"
    trt11: str
    note: str


STOCK_PLUGINS = (
    PluginRule(
        "EfficientNMS_TRT", "ok", "deprecated", "deprecated since 10.12 (still in 11.1); use INMSLayer"
    ),
    PluginRule("EfficientNMS_ONNX_TRT", "ok", "removed", "removed in 10.16"),
    PluginRule("BatchedNMS_TRT", "deprecated", "removed", "deprecated in 10.3, gone from the 11.0 tree"),
    PluginRule(
        "BatchedNMSDynamic_TRT", "deprecated", "removed", "deprecated in 10.3, gone from the 11.0 tree"
    ),
    PluginRule("NMS_TRT", "ok", "removed", "removed in 11.0"),
    PluginRule("PyramidROIAlign_TRT", "ok", "deprecated", "deprecated in 11.0, no alternative planned"),
    PluginRule("MultilevelCropAndResize_TRT", "ok", "deprecated", "deprecated since 10.12"),
)
ONNX_OP_NAMES = {"RoiAlign", "NonMaxSuppression", "TopK", "Resize", "NonZero"}


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str  # error | warning | info
    where: str
    message: str
    fix: str
    source: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _default_domain(node: gs.Node) -> bool:
    return node.domain in (None, "", "ai.onnx")


def _node_findings(node: gs.Node, target: str) -> list[Finding]:
    out = []
    where = f"{node.op} {node.name!r}"
    later = "" if target == "trt10.3" else " (10.x matrix; not re-checked for 11)"
    if target.startswith("rtx"):
        out += _rtx_node_findings(node, where)
    if _default_domain(node):
        if node.op in UNSUPPORTED_OPS:
            out.append(
                Finding(
                    "unsupported-op",
                    "error",
                    where,
                    f"the TensorRT ONNX parser has no importer{later}",
                    "rewrite this part of the model before export",
                    OPS_MATRIX,
                )
            )
        if node.op in DDS_OPS:
            out.append(
                Finding(
                    "data-dependent-shape",
                    "warning",
                    where,
                    f"{DDS_OPS[node.op]} output size depends on the data: the engine needs an output "
                    "allocator or max-size buffers",
                    "run `foreign` (EdgesegNMS; fixed slots where the kept indices are graph outputs, "
                    "else a slice by count stays) or avoid the op in the deploy graph",
                    FACTS + " 2, 5",
                )
            )
        if node.op == "MaxPool" and len(node.outputs) > 1 and node.outputs[1].name:
            out.append(
                Finding(
                    "maxpool-indices",
                    "error",
                    where,
                    "MaxPool with its indices output: the parser takes MaxPool with one output only",
                    "compute the unpooling positions another way (e.g. compare with the upsampled max)",
                    "onnx-tensorrt onnxOpCheckers.cpp (MaxPool checker)",
                )
            )
        if node.op == "TopK" and len(node.inputs) > 1:
            k = const_value(node.inputs[1])
            if k is not None and int(k.reshape(-1)[0]) >= TOPK_MAX_K:
                out.append(
                    Finding(
                        "topk-too-large",
                        "error",
                        where,
                        f"K = {int(k.reshape(-1)[0])} >= {TOPK_MAX_K}{later}",
                        "lower K (e.g. a pre-NMS top-k below 3840)",
                        OPS_MATRIX,
                    )
                )
        return out
    if spec_for_onnx_node(node.domain, node.op) is not None:
        out.append(
            Finding(
                "unpatched-custom-op",
                "error",
                where,
                f"{node.domain}::{node.op} has no TensorRT importer or plugin of that name",
                "run the `plugins` pass",
                "docs/surgery.md",
            )
        )
    elif node.domain == EDGESEG_DOMAIN and spec_for_plugin(node.op) is None:
        out.append(
            Finding(
                "unknown-custom-op",
                "error",
                where,
                f"{node.domain}::{node.op} is not an edgeseg op",
                "re-export with this edgeseg version",
                "edgeseg/ops/specs",
            )
        )
    if node.op in ONNX_OP_NAMES:
        out.append(
            Finding(
                "plugin-name-collision",
                "error",
                where,
                "a custom node named like an ONNX op reaches the built-in importer, not a plugin",
                "rename the op type (e.g. EdgesegRoIAlign)",
                FACTS + " 1",
            )
        )
    for attr, value in node.attrs.items():
        if isinstance(value, gs.Constant) and value.dtype in (np.int64, np.uint8, np.bool_):
            out.append(
                Finding(
                    "plugin-attr-type",
                    "error",
                    f"{where} attribute {attr}",
                    f"{value.dtype} tensor attributes are rejected by the parser",
                    "use INT/INTS or an int32 tensor",
                    FACTS + " 1",
                )
            )
    for rule in STOCK_PLUGINS:
        state = rule.trt103 if target == "trt10.3" else rule.trt11
        if node.op == rule.op and state != "ok":
            out.append(
                Finding(
                    f"plugin-{state}",
                    "error" if state == "removed" else "warning",
                    where,
                    rule.note,
                    "use the edgeseg plugins (`foreign` rewrites torchvision NMS/RoIAlign)",
                    FACTS + " 5",
                )
            )
    return out


def _rtx_node_findings(node: gs.Node, where: str) -> list[Finding]:
    """What TensorRT for RTX 1.7 refuses: plugin layers of any kind, and two ONNX ops it cannot build."""
    if not _default_domain(node):
        return [
            Finding(
                "rtx-plugin-layer",
                "error",
                where,
                "TensorRT for RTX 1.7 takes no custom plugin layers: its parser aborts the process "
                "right after creating one",
                "build this graph for TensorRT 10.3+; for RTX, check its plugin-free segments "
                "(edgeseg.engine.segment_check, make test) or keep the model plugin-free",
                RTX_MEASURED,
            )
        ]
    if node.op in RTX_UNBUILDABLE:
        return [
            Finding(
                "rtx-unbuildable-op",
                "error",
                where,
                f"TensorRT for RTX 1.7: {RTX_UNBUILDABLE[node.op]}",
                "export with `--ops edgeseg` and build for TensorRT 10.3+, or cut the graph there",
                RTX_MEASURED,
            )
        ]
    return []


def _int64_findings(graph: gs.Graph) -> list[Finding]:
    """INT64 at the network boundary and into plugin nodes (plugin inputs and size tensors are INT32)."""
    out = []
    for t in list(graph.inputs) + list(graph.outputs):
        if t.dtype is not None and not isinstance(t.dtype, int) and np.dtype(t.dtype) == np.int64:
            out.append(
                Finding(
                    "int64-io",
                    "info",
                    f"tensor {t.name!r}",
                    "INT64 network input/output",
                    "cast to int32 in the export wrapper if the consumer allows",
                    OPS_MATRIX,
                )
            )
    for g in iter_graphs(graph):
        for node in g.nodes:
            if spec_for_plugin(node.op) is None:
                continue
            for t in node.inputs:
                if t.dtype is not None and not isinstance(t.dtype, int) and np.dtype(t.dtype) == np.int64:
                    out.append(
                        Finding(
                            "int64-plugin-input",
                            "error",
                            f"{node.op} {node.name!r} input {t.name!r}",
                            "our plugins take INT32 index inputs",
                            "insert a Cast to int32",
                            "edgeseg/ops/specs",
                        )
                    )
    return out


def _foldable_findings(graph: gs.Graph) -> list[Finding]:
    """Non-Constant nodes whose inputs are all constants: work the `fold` pass does once, offline."""
    nodes = [
        node
        for g in iter_graphs(graph)
        for node in g.nodes
        if node.op != "Constant"
        and node.inputs
        and _default_domain(node)
        and all(not t.name or const_value(t) is not None for t in node.inputs)
    ]
    if not nodes:
        return []
    examples = ", ".join(f"{n.op} {n.name!r}" for n in nodes[:3])
    return [
        Finding(
            "constant-subgraph",
            "info",
            f"{len(nodes)} nodes (e.g. {examples})",
            "compute constants at runtime",
            "run the `fold` pass; what stays cannot be folded by ONNX Runtime",
            "docs/surgery.md",
        )
    ]


def _inferred(graph: gs.Graph) -> tuple[dict[str, int], dict[str, list[int | None]]]:
    """ONNX shape inference's element types and shapes by tensor name (empty where it fails)."""
    try:
        model = onnx.shape_inference.infer_shapes(gs.export_onnx(graph.copy(), do_type_check=False))
    except Exception:  # an invalid graph: the rules below fall back to what the graph declares
        return {}, {}
    g = model.graph
    infos = [*g.input, *g.output, *g.value_info]
    types = {v.name: v.type.tensor_type.elem_type for v in infos}
    types.update({t.name: t.data_type for t in g.initializer})
    shapes = {
        v.name: [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
        for v in infos
        if v.type.tensor_type.HasField("shape")
    }
    return types, shapes


def _elem_type(tensor: gs.Tensor, types: dict[str, int]) -> int:
    """The ONNX element type of `tensor` (0 = unknown), from inference or the graph's own dtype."""
    if types.get(tensor.name):
        return types[tensor.name]
    if tensor.dtype is None:
        return 0
    if isinstance(tensor.dtype, int):  # gs keeps an ONNX type it has no numpy type for (UNDEFINED = 0)
        return tensor.dtype
    try:
        return int(onnx.helper.np_dtype_to_tensor_dtype(np.dtype(tensor.dtype)))
    except (TypeError, KeyError):
        return 0


def _cast_to(node: gs.Node) -> int:
    return int(node.attrs.get("to", 0)) if node.op == "Cast" else 0


def _uint8_findings(graph: gs.Graph, types: dict[str, int]) -> list[Finding]:
    """uint8 read by anything but a Cast to float/half; a Cast to uint8 from a non-float type."""
    out = []
    u8 = onnx.TensorProto.UINT8
    for g in iter_graphs(graph):
        for node in g.nodes:
            if node.op in QDQ:  # the parser reads UINT8 zero points as INT8 (Q/DQ is its own path)
                continue
            where = f"{node.op} {node.name!r}"
            for t in node.inputs:
                if t.name and _elem_type(t, types) == u8 and _cast_to(node) not in FLOAT_TYPES:
                    out.append(Finding(
                        "uint8-intermediate", "error", f"{where} input {t.name!r}",
                        "TensorRT takes uint8 only as network I/O through a Cast to float/half: this "
                        "node is refused (e.g. a uint8 Transpose at node 0)",
                        "cast the uint8 tensor to float first, then transpose/scale it", PARSER_UINT8))
            source = _elem_type(node.inputs[0], types) if node.inputs else 0
            if _cast_to(node) == u8 and source and source not in FLOAT_TYPES:
                name = onnx.TensorProto.DataType.Name(source)
                out.append(Finding(
                    "uint8-cast-source", "error", where, f"Cast to UINT8 from {name}: TensorRT casts to "
                    "uint8 only from float/half", "cast to float32 first (e.g. argmax -> float -> uint8)",
                    PARSER_CAST))
    return out


def _untyped_output_findings(graph: gs.Graph, types: dict[str, int]) -> list[Finding]:
    """Graph outputs without an element type: the parser cannot mark them (plugin one-node graphs too)."""
    return [
        Finding("untyped-output", "error", f"tensor {t.name!r}", "graph output with UNDEFINED element type",
                "declare the output's elem_type (for a plugin node: the type its spec gives)", PARSER_OUTPUTS)
        for t in graph.outputs
        if not _elem_type(t, types)
    ]


def _data_dependent(tensor: gs.Tensor, memo: dict[int, bool]) -> bool:
    """True if `tensor`'s value depends on runtime data (not only on constants and tensor shapes)."""
    key = id(tensor)
    if key not in memo:
        memo[key] = False  # cycles (none in a DAG) and revisits stop here
        node = producer(tensor)
        if const_value(tensor) is not None or (node is None and not tensor.name):
            memo[key] = False
        elif node is None:
            memo[key] = not isinstance(tensor, gs.Constant)  # a graph input (or an outer-scope value)
        elif node.op in ("Shape", "Size"):
            memo[key] = False
        else:
            memo[key] = any(_data_dependent(t, memo) for t in node.inputs if t.name)
    return memo[key]


def _dds_size_findings(graph: gs.Graph) -> list[Finding]:
    """Slice/Range/Expand/... whose size inputs are runtime values (e.g. keep[:num_detections])."""
    memo: dict[int, bool] = {}
    out = []
    for g in iter_graphs(graph):
        for node in g.nodes:
            slots = SIZE_INPUTS.get(node.op, ()) if _default_domain(node) else ()
            sized = [node.inputs[i] for i in slots if i < len(node.inputs) and node.inputs[i].name]
            if any(_data_dependent(t, memo) for t in sized):
                out.append(Finding(
                    "data-dependent-size", "warning", f"{node.op} {node.name!r}",
                    "output size set by a runtime value (e.g. a slice by a detection count): a "
                    "data-dependent shape, which TrtBackend refuses",
                    "keep fixed slots plus a count output (as `edgeseg export` does)", PARSER_DDS))
    return out


def _nms_cap_findings(graph: gs.Graph, shapes: dict[str, list[int | None]]) -> list[Finding]:
    """EdgesegNMS (or edgeseg::NMS) nodes that can reach more than 16384 candidates per image."""
    out = []
    for g in iter_graphs(graph):
        for node in g.nodes:
            spec = spec_for_plugin(node.op) or spec_for_onnx_node(node.domain, node.op)
            if spec is None or spec.op != "nms" or len(node.inputs) < 2:
                continue
            top_k = int(node.attrs.get("pre_nms_top_k", 1000))
            dims = shapes.get(node.inputs[1].name) or list(node.inputs[1].shape or [])
            known = len(dims) == 3 and all(isinstance(d, int) and d > 0 for d in dims[1:])
            candidates = int(dims[1]) * int(dims[2]) if known else None  # type: ignore[arg-type]
            if top_k > 0:
                reach: int | None = min(top_k, candidates) if candidates else top_k
            else:
                reach = candidates
            if reach is not None and reach <= NMS_MAX_CANDIDATES:
                continue
            where = f"{node.op} {node.name!r}"
            message = (f"pre_nms_top_k = {top_k} lets {reach} candidates per image reach NMS"
                       if reach is not None else f"pre_nms_top_k = {top_k} and N * C unknown: not bounded")
            out.append(Finding(
                "nms-candidates", "error" if reach is not None else "warning", where,
                f"{message}; the plugin refuses more than {NMS_MAX_CANDIDATES} at engine build",
                f"set pre_nms_top_k to min(N * C, {NMS_MAX_CANDIDATES}) (edgeseg export does)", NMS_PLUGIN))
    return out


def lint(graph: gs.Graph, target: str = "trt10.3") -> list[Finding]:
    """All findings for `target`, most severe first."""
    out: list[Finding] = []
    if graph.opset is not None and int(graph.opset) > MAX_PARSER_OPSET:
        out.append(
            Finding(
                "opset-too-new",
                "warning",
                "model",
                f"opset {graph.opset} > {MAX_PARSER_OPSET}, the newest the 10.x parser matrix lists",
                "re-export with opset_version <= 20",
                OPS_MATRIX,
            )
        )
    for g in iter_graphs(graph):
        for node in g.nodes:
            out += _node_findings(node, target)
    for match in foreign.find(graph):
        if not isinstance(match, str):
            node = match.last_scatter if isinstance(match, foreign.RoIAlignMatch) else match.nms
            out.append(
                Finding(
                    "foreign-pattern",
                    "warning",
                    f"{node.op} {node.name!r}",
                    "a torchvision RoIAlign/NMS pattern our plugins replace exactly",
                    "run the `foreign` pass",
                    "docs/surgery.md",
                )
            )
    types, shapes = _inferred(graph)
    out += _uint8_findings(graph, types) + _untyped_output_findings(graph, types)
    out += _dds_size_findings(graph) + _nms_cap_findings(graph, shapes)
    out += _int64_findings(graph) + _foldable_findings(graph)
    rank = {"error": 0, "warning": 1, "info": 2}
    return sorted(out, key=lambda f: rank[f.severity])
