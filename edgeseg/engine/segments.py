"""The plugin-free segments of an ONNX graph, each a standalone ONNX model a TensorRT can build alone.

Why: TensorRT for RTX 1.7 takes no custom plugin layers (its ONNX parser aborts the process right
after creating one), and its built-in RoiAlign importer asks for a plugin it does not ship. So a
real-parser check of an R-CNN graph cuts it at its plugin nodes: connected ordinary nodes behind the
same number of plugins (their depth) form one model whose inputs are the graph inputs, plugin
outputs and earlier segments' tensors it reads, and whose outputs are the tensors read outside it.
Grouping by depth keeps the segments and plugins in a chain: a segment never reads a plugin that
reads it back, so they also run one after the other. Built one by one, the segments cover every
ordinary node of the graph; the plugin nodes are checked on their own (`one_node_graph`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from edgeseg.errors import EdgesegError, missing_extra

STANDARD_DOMAINS = frozenset({"", "ai.onnx"})
# Standard ONNX ops TensorRT for RTX 1.7 cannot build, so the segments stop at them too: RoiAlign
# (its parser maps it to the ROIAlign_TRT plugin, onnxOpImporters.cpp, which it does not ship) and
# NonMaxSuppression (parsed into an NMS layer for which its SM86 builder "has no runners").
PLUGIN_BACKED_OPS = frozenset({"RoiAlign", "NonMaxSuppression"})


@dataclass(frozen=True)
class Segment:
    """One plugin-free part of a graph as its own model."""

    index: int
    model: Any  # onnx.ModelProto
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    num_nodes: int

    def describe(self) -> str:
        ins, outs = len(self.inputs), len(self.outputs)
        return f"segment {self.index} ({self.num_nodes} nodes, {ins} in, {outs} out)"


def is_split_node(node: Any, split_ops: Iterable[str] = PLUGIN_BACKED_OPS) -> bool:
    """A node the segments stop at: any custom-domain node (our plugins) or a plugin-backed ONNX op."""
    return node.domain not in STANDARD_DOMAINS or node.op_type in set(split_ops)


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise EdgesegError(missing_extra("onnx", "deploy")) from None
    return onnx


class _Groups:
    """Union-find over node indices."""

    def __init__(self, count: int) -> None:
        self.parent = list(range(count))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def _typed_values(model: Any) -> dict[str, Any]:
    """name -> ValueInfoProto for every tensor whose type is known (after ONNX shape inference)."""
    onnx = _onnx()
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - inference is a best effort; recorded value_info still counts
        inferred = model
    graph = inferred.graph
    values = [*graph.value_info, *graph.input, *graph.output]
    return {v.name: v for v in values if v.type.tensor_type.elem_type}


def split_segments(model: Any, split_ops: Iterable[str] = PLUGIN_BACKED_OPS) -> list[Segment]:
    """The plugin-free segments of `model` (an onnx.ModelProto), in graph order.

    A graph without split nodes gives one segment equal to the whole graph (minus nothing).
    """
    onnx = _onnx()
    graph = model.graph
    nodes = list(graph.node)
    split = [is_split_node(n, split_ops) for n in nodes]
    ordinary = [i for i, n in enumerate(nodes) if not split[i]]
    depth = _plugin_depths(nodes, split, {t.name for t in graph.initializer})
    producer = {out: i for i in ordinary for out in nodes[i].output if out}
    groups = _Groups(len(nodes))
    for i in ordinary:
        for name in nodes[i].input:
            if name in producer and depth[producer[name]] == depth[i]:
                groups.join(i, producer[name])
    members: dict[int, list[int]] = {}
    for i in ordinary:
        members.setdefault(groups.find(i), []).append(i)

    initializers = {t.name: t for t in graph.initializer}
    graph_outputs = {o.name for o in graph.output}
    consumers: dict[str, set[int]] = {}
    for i, node in enumerate(nodes):
        for name in node.input:
            consumers.setdefault(name, set()).add(i)
    typed = _typed_values(model)

    segments: list[Segment] = []
    for group in sorted(members.values(), key=lambda g: (depth[g[0]], min(g))):
        inside = set(group)
        produced = [out for i in group for out in nodes[i].output if out]
        read = [name for i in group for name in nodes[i].input if name]
        inputs = _unique(n for n in read if n not in producer or producer[n] not in inside)
        inputs = [n for n in inputs if n not in initializers]
        outputs = _unique(
            n for n in produced if n in graph_outputs or consumers.get(n, set()) - inside
        )
        if not outputs:
            continue
        untyped = [n for n in [*inputs, *outputs] if n not in typed]
        if untyped:
            raise EdgesegError(
                f"cannot cut the graph at its plugins: tensor(s) {', '.join(untyped[:3])} have no recorded "
                "type or shape; re-export the model with this edgeseg version"
            )
        sub = onnx.helper.make_graph(
            [nodes[i] for i in sorted(group)],
            f"{graph.name or 'graph'}_segment{len(segments)}",
            [typed[n] for n in inputs],
            [typed[n] for n in outputs],
            [initializers[n] for n in _unique(read) if n in initializers],
            value_info=[typed[n] for n in produced if n in typed and n not in outputs],
        )
        seg_model = onnx.helper.make_model(sub, opset_imports=list(model.opset_import))
        seg_model.ir_version = model.ir_version
        segments.append(Segment(len(segments), seg_model, tuple(inputs), tuple(outputs), len(group)))
    return segments


def _plugin_depths(nodes: list[Any], split: list[bool], constants: set[str]) -> list[int]:
    """For each node (in the graph's topological order), how many split nodes lie behind it at most.

    A node reading only weights (a Constant, a weight's DequantizeLinear) takes the lowest depth of
    its readers instead of 0, so it joins the segment that uses it rather than standing alone.
    """
    tensor_depth: dict[str, int] = {}
    depths = []
    for node, is_split in zip(nodes, split, strict=True):
        depth = max((tensor_depth.get(name, 0) for name in node.input if name), default=0)
        depths.append(depth)
        for out in node.output:
            tensor_depth[out] = depth + int(is_split)
    readers: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        for name in node.input:
            readers.setdefault(name, []).append(i)
    for i in reversed(range(len(nodes))):
        if split[i] or any(name and name not in constants for name in nodes[i].input):
            continue
        reader_depths = [depths[r] for out in nodes[i].output for r in readers.get(out, [])]
        if reader_depths:
            depths[i] = min(reader_depths)
    return depths


def split_nodes(model: Any, split_ops: Iterable[str] = PLUGIN_BACKED_OPS) -> list[Any]:
    """The nodes `split_segments` cuts at (plugin nodes), in graph order."""
    return [n for n in model.graph.node if is_split_node(n, split_ops)]


def one_node_graph(model: Any, node: Any) -> Any:
    """A model holding only `node`, with its attributes and its inputs' and outputs' recorded types."""
    onnx = _onnx()
    typed = _typed_values(model)
    initializers = {t.name: t for t in model.graph.initializer}
    names = [n for n in node.input if n and n not in initializers]
    untyped = [n for n in [*names, *node.output] if n and n not in typed]
    if untyped:
        raise EdgesegError(f"node {node.name!r}: tensor(s) {', '.join(untyped[:3])} have no recorded type")
    graph = onnx.helper.make_graph(
        [node],
        f"{node.op_type}_alone",
        [typed[n] for n in names],
        [typed[n] for n in node.output if n],
        [initializers[n] for n in node.input if n in initializers],
    )
    one = onnx.helper.make_model(graph, opset_imports=list(model.opset_import))
    one.ir_version = model.ir_version
    return one


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))
