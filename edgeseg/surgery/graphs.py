"""Small onnx-graphsurgeon helpers shared by the passes: walking subgraphs, reading constants, op counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import numpy as np
import onnx
import onnx_graphsurgeon as gs

EDGESEG_DOMAIN = "edgeseg"


def import_graph(model: onnx.ModelProto) -> gs.Graph:
    return gs.import_onnx(model)


def export_model(graph: gs.Graph) -> onnx.ModelProto:
    """gs.Graph -> ModelProto, declaring the edgeseg opset when an edgeseg-domain node is present."""
    domains = {d.domain: d for d in graph.import_domains or []}
    if any(n.domain == EDGESEG_DOMAIN for g in iter_graphs(graph) for n in g.nodes):
        domains.setdefault(EDGESEG_DOMAIN, onnx.helper.make_opsetid(EDGESEG_DOMAIN, 1))
    graph.import_domains = list(domains.values())
    return gs.export_onnx(graph)


def iter_graphs(graph: gs.Graph) -> Iterator[gs.Graph]:
    """The graph and every nested subgraph (If/Loop/Scan bodies), outermost first."""
    yield graph
    for node in graph.nodes:
        for value in node.attrs.values():
            subgraphs = value if isinstance(value, list) else [value]
            for sub in subgraphs:
                if isinstance(sub, gs.Graph):
                    yield from iter_graphs(sub)


def const_value(tensor: gs.Tensor) -> np.ndarray | None:
    """The value of a constant tensor (initializer or Constant node output), else None."""
    if isinstance(tensor, gs.Constant):
        return np.asarray(tensor.values)
    if len(tensor.inputs) == 1 and tensor.inputs[0].op == "Constant" and not tensor.inputs[0].inputs:
        value = tensor.inputs[0].attrs.get("value")
        if isinstance(value, gs.Constant):
            return np.asarray(value.values)
    return None


def producer(tensor: gs.Tensor) -> gs.Node | None:
    return tensor.inputs[0] if len(tensor.inputs) == 1 else None


def only_consumer(tensor: gs.Tensor, graph_outputs: list[gs.Tensor]) -> gs.Node | None:
    """The single node reading `tensor`, or None when it has several readers or is a graph output."""
    if len(tensor.outputs) != 1 or any(t is tensor for t in graph_outputs):
        return None
    return tensor.outputs[0]


def op_counts(model: onnx.ModelProto) -> Counter[str]:
    """Histogram of `domain::op_type` (plain op_type for the default domain), subgraphs included."""
    counts: Counter[str] = Counter()

    def visit(graph: onnx.GraphProto) -> None:
        for node in graph.node:
            counts[
                f"{node.domain}::{node.op_type}" if node.domain not in ("", "ai.onnx") else node.op_type
            ] += 1
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    visit(attr.g)
                for sub in attr.graphs:
                    visit(sub)

    visit(model.graph)
    return counts
