"""Lint an ONNX graph for a TensorRT target: what will fail, what needs care, and which pass fixes it.

Every rule cites its source (docs/surgery.md prints the table): the onnx-tensorrt operator matrix of
the 10.x parser and our TensorRT facts sheet. Findings about TensorRT 11 from the 10.x operator matrix
say so, as no newer matrix was checked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import onnx_graphsurgeon as gs

from edgeseg.surgery import foreign
from edgeseg.surgery.graphs import EDGESEG_DOMAIN, const_value, iter_graphs
from edgeseg.surgery.plugins import spec_for_onnx_node, spec_for_plugin

TARGETS = ("trt10.3", "trt11")
OPS_MATRIX = "onnx-tensorrt docs/operators.md (10.1 parser, the 10.x matrix)"
FACTS = "TensorRT facts sheet"

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
                    "run `foreign` (fixed-size EdgesegNMS) or avoid the op in the deploy graph",
                    FACTS + " 2, 5",
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


def _int64_findings(graph: gs.Graph) -> list[Finding]:
    """INT64 at the network boundary and into plugin nodes (plugin inputs and size tensors are INT32)."""
    out = []
    for t in list(graph.inputs) + list(graph.outputs):
        if t.dtype is not None and np.dtype(t.dtype) == np.int64:
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
                if t.dtype is not None and np.dtype(t.dtype) == np.int64:
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
    out += _int64_findings(graph) + _foldable_findings(graph)
    rank = {"error": 0, "warning": 1, "info": 2}
    return sorted(out, key=lambda f: rank[f.severity])
