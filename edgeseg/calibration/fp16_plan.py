"""Which nodes of an FP32 graph stay FP32 in the FP16 pass, and the tensor types that decision needs.

Why a plan of our own: ONNX Runtime's float16 converter blocks nodes by op type or name only. We
also keep FP32 the cheap ops that follow an FP32 value (data movement, elementwise arithmetic,
comparisons, casts), the way torch.autocast runs such ops in the widest input type. Otherwise box
coordinates and scores leaving NMS or box decoding are rounded to FP16 on their way to the next
FP32 op or a graph output (FP16 has 0.25 px steps at 256..512 px and 1 px steps at 1024..2048 px).
Heavy ops (Conv, Gemm, MatMul, ...) are never in that list, so the FP32 region stops at them.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx
from onnx import TensorProto

from edgeseg.ops.spec import OPS, load_spec

EDGESEG_DOMAIN = "edgeseg"


def custom_op_types() -> frozenset[str]:
    """Op types of our custom ops, exported (RoIAlign, NMS) and patched (EdgesegRoIAlign, EdgesegNMS)."""
    specs = [load_spec(op) for op in OPS]
    return frozenset([s.plugin_name for s in specs] + [s.onnx_op_type for s in specs])


# Kept FP32 by default (docs/fp16.md has the measurements behind the numerically sensitive ones):
# - our plugin/custom op types (edgeseg-domain nodes are kept whatever this set says);
# - detection ops that select or index: NonMaxSuppression, RoiAlign, TopK, Range, CumSum;
# - Exp and Log (box decoding: with them FP32 the whole decode stays FP32 through the followers;
#   measured box error 0.2 px -> 1e-4 px; exp(dw) would also overflow FP16 above dw = 11.1);
# - Softmax and Sigmoid (scores that are thresholded and ranked; score error 7e-5 -> 4e-6).
# Resize and ReduceMean measured no gain on the zoo graphs and stay FP16 unless asked for.
DEFAULT_KEEP_FP32_OPS: frozenset[str] = custom_op_types() | frozenset(
    {"NonMaxSuppression", "RoiAlign", "TopK", "Range", "CumSum", "Exp", "Log", "Softmax", "Sigmoid"}
)

# Ops that run in FP32 when any of their non-constant float inputs is FP32 (cheap per element).
FP32_FOLLOWERS: frozenset[str] = frozenset(
    {
        # data movement
        "Reshape",
        "Unsqueeze",
        "Squeeze",
        "Flatten",
        "Transpose",
        "Expand",
        "Tile",
        "Identity",
        "Gather",
        "GatherElements",
        "GatherND",
        "Slice",
        "Concat",
        "Split",
        "Pad",
        "Where",
        "ScatterND",
        "ScatterElements",
        # elementwise arithmetic, clipping and rounding
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Neg",
        "Abs",
        "Sqrt",
        "Clip",
        "Min",
        "Max",
        "Floor",
        "Ceil",
        "Round",
        "Relu",
        # comparisons, casts and small reductions (outputs are bool, int or a few floats)
        "Less",
        "LessOrEqual",
        "Greater",
        "GreaterOrEqual",
        "Equal",
        "Cast",
        "ArgMax",
        "ArgMin",
        "ReduceMax",
        "ReduceMin",
    }
)


@dataclass(frozen=True)
class Fp16Plan:
    """The node names that stay FP32, split by why (for the report and the tests)."""

    blocked: tuple[str, ...]
    followers: tuple[str, ...]
    constants: tuple[str, ...]

    @property
    def fp32_nodes(self) -> frozenset[str]:
        return frozenset(self.blocked + self.followers + self.constants)


def name_nodes(graph: onnx.GraphProto) -> None:
    """Give every node a unique name: the converter blocks nodes by name."""
    seen: set[str] = set()
    for i, node in enumerate(graph.node):
        if not node.name or node.name in seen:
            node.name = f"{node.name or node.op_type}__fp16pass_{i}"
        seen.add(node.name)


def annotate_custom_outputs(model: onnx.ModelProto) -> None:
    """Declare the output types of edgeseg nodes (ONNX shape inference skips ops it has no schema for,
    so without this nothing downstream of RoIAlign/NMS would be typed)."""
    graph = model.graph
    typed = {v.name for v in list(graph.value_info) + list(graph.output)}
    for node in graph.node:
        if node.domain != EDGESEG_DOMAIN:
            continue
        spec = next((load_spec(op) for op in OPS if node.op_type in _spec_names(op)), None)
        if spec is None:
            continue
        for name, out in zip(node.output, spec.outputs, strict=False):
            if name and name not in typed:
                elem = TensorProto.INT32 if out["type"] == "int32" else TensorProto.FLOAT
                graph.value_info.append(onnx.helper.make_tensor_value_info(name, elem, None))


def _spec_names(op: str) -> tuple[str, str]:
    spec = load_spec(op)
    return spec.plugin_name, spec.onnx_op_type


def tensor_types(model: onnx.ModelProto) -> dict[str, int]:
    """Element type of every tensor whose type is known (inputs, outputs, value_info, constants)."""
    graph = model.graph
    types = {v.name: v.type.tensor_type.elem_type for v in [*graph.input, *graph.output, *graph.value_info]}
    types.update({t.name: t.data_type for t in graph.initializer})
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    types[node.output[0]] = attr.t.data_type
    return {k: v for k, v in types.items() if v != TensorProto.UNDEFINED}


def plan(model: onnx.ModelProto, keep_fp32_ops: frozenset[str], keep_io_types: bool) -> Fp16Plan:
    """Decide the FP32 nodes of the top-level graph; nodes must be named and topologically sorted."""
    graph = model.graph
    types = tensor_types(model)
    constants = {t.name for t in graph.initializer}
    constants |= {n.output[0] for n in graph.node if n.op_type == "Constant"}
    fp32: set[str] = set()
    if keep_io_types:
        fp32 |= {i.name for i in graph.input if i.type.tensor_type.elem_type == TensorProto.FLOAT}
    blocked, followers = [], []
    for node in graph.node:
        float_inputs = [t for t in node.input if types.get(t) == TensorProto.FLOAT and t not in constants]
        if node.domain == EDGESEG_DOMAIN or node.op_type in keep_fp32_ops:
            blocked.append(node.name)
        elif node.op_type in FP32_FOLLOWERS and any(t in fp32 for t in float_inputs):
            followers.append(node.name)
        else:
            continue
        fp32.update(t for t in node.output if types.get(t) == TensorProto.FLOAT)
    kept = set(blocked) | set(followers)
    consumers: dict[str, list[str]] = {}
    for node in graph.node:
        for t in node.input:
            consumers.setdefault(t, []).append(node.name)
    graph_outputs = {o.name for o in graph.output}
    kept_constants = [
        n.name
        for n in graph.node
        if n.op_type == "Constant"
        and consumers.get(n.output[0])
        and n.output[0] not in graph_outputs
        and all(c in kept for c in consumers[n.output[0]])
    ]
    return Fp16Plan(tuple(blocked), tuple(followers), tuple(kept_constants))
