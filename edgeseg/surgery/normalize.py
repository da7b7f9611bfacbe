"""`normalize` pass: fold an input normalisation ((x - mean) / std, or x * a + b) into the first Conv.

conv(W, a*x + b) = conv(W*a, x) + sum(W*b) holds only where the conv sees no padding: a zero-padded
border of the normalised input is a border of value -b/a in the raw input, not zero. So the fold is done
when the conv pads nothing, or when b == 0 (pure scaling keeps zeros zero). Otherwise the chain of
elementwise ops is collapsed into one exact 1x1 convolution with a diagonal weight: ONNX Runtime runs a
per-channel Sub/Div on its NHWC layout with a 3-wide broadcast (measured 2.5-3 ms each at 320x320, five
of them in an edgeseg FCN graph), a 3->3 1x1 convolution in well under one. The collapsed conv writes
the chain's last tensor, so activation ranges measured on the original graph still apply. Grouped
convolutions are left alone (the per-channel bookkeeping differs).

The chain must start at a graph input, directly or through Cast/Transpose (an edgeseg export reads
uint8 NHWC frames: Transpose -> Cast -> Div 255 -> Sub mean -> Div std).
"""

from __future__ import annotations

import numpy as np
import onnx_graphsurgeon as gs

from edgeseg.surgery.graphs import const_value, only_consumer, producer

AFFINE_OPS = ("Add", "Sub", "Mul", "Div")


def _per_channel(value: np.ndarray, channels: int) -> np.ndarray | None:
    """The constant as a [channels] vector if it broadcasts per channel over NCHW, else None."""
    if value.ndim > 4 or value.size not in (1, channels):
        return None
    if value.size == channels and channels > 1:
        shape = (1,) * (4 - value.ndim) + value.shape
        if shape[1] != channels:
            return None
    return np.broadcast_to(value.astype(np.float64).reshape(-1), (channels,)).copy()


def _affine_chain(
    graph: gs.Graph, x: gs.Tensor, channels: int
) -> tuple[gs.Tensor, np.ndarray, np.ndarray] | None:
    """(source, a, b) with x = a * source + b per channel, walking up Add/Sub/Mul/Div by constants.

    Only single-reader intermediate tensors are absorbed, so nothing else in the graph changes.
    """
    a, b = np.ones(channels), np.zeros(channels)
    steps = 0
    while steps == 0 or only_consumer(x, graph.outputs) is not None:
        node = producer(x)
        if node is None or node.op not in AFFINE_OPS or len(node.inputs) != 2:
            break
        consts = [const_value(t) for t in node.inputs]
        k = 1 if consts[1] is not None else 0
        if consts[1 - k] is not None or consts[k] is None or (node.op in ("Sub", "Div") and k == 0):
            break
        c = _per_channel(consts[k], channels)  # type: ignore[arg-type]
        if c is None:
            break
        # x = a * t + b and t = op(s, c)  =>  x = a' * s + b'
        if node.op == "Add":
            b = b + a * c
        elif node.op == "Sub":
            b = b - a * c
        elif node.op == "Mul":
            a = a * c
        else:
            a = a / c
        x, steps = node.inputs[1 - k], steps + 1
    return None if steps == 0 else (x, a, b)


def _reads_graph_input(graph: gs.Graph, tensor: gs.Tensor) -> bool:
    """`tensor` is a graph input, or a Cast/Transpose (possibly repeated) of one."""
    while not any(tensor is t for t in graph.inputs):
        node = producer(tensor)
        if node is None or node.op not in ("Cast", "Transpose"):
            return False
        tensor = node.inputs[0]
    return True


def _collapse_to_conv(
    graph: gs.Graph, conv: gs.Node, source: gs.Tensor, a: np.ndarray, b: np.ndarray, dtype: np.dtype
) -> None:
    """Make the chain's last tensor (conv's input) the output of a new 1x1 conv computing a * source + b;
    `cleanup` then drops the chain."""
    target = conv.inputs[0]
    old = producer(target)
    assert old is not None  # the chain has at least one op
    old.outputs.clear()
    weight = np.diag(a).reshape(len(a), len(a), 1, 1)
    name = f"{conv.name}/input_affine"
    collapsed = gs.Node(
        "Conv",
        name=name,
        inputs=[
            source,
            gs.Constant(f"{name}/weight", weight.astype(dtype)),
            gs.Constant(f"{name}/bias", b.astype(dtype)),
        ],
        outputs=[target],
        attrs={"kernel_shape": [1, 1]},
    )
    graph.nodes.append(collapsed)


def _pads_input(conv: gs.Node) -> bool:
    auto_pad = conv.attrs.get("auto_pad", "NOTSET")
    return auto_pad not in ("NOTSET", "VALID") or any(int(p) != 0 for p in conv.attrs.get("pads", []))


def run(graph: gs.Graph) -> tuple[gs.Graph, list[str]]:
    """Fold the normalisation in front of each Conv that reads (through it) a graph input."""
    notes = []
    for conv in [n for n in graph.nodes if n.op == "Conv"]:
        weight = const_value(conv.inputs[1])
        if weight is None or weight.ndim != 4:
            continue
        found = _affine_chain(graph, conv.inputs[0], weight.shape[1])
        if found is None or not _reads_graph_input(graph, found[0]):
            continue
        source, a, b = found
        if int(conv.attrs.get("group", 1)) != 1:
            notes.append(f"{conv.name}: normalisation not folded: grouped convolution")
            continue
        if _pads_input(conv) and np.any(b != 0):
            _collapse_to_conv(graph, conv, source, a, b, weight.dtype)
            notes.append(
                f"{conv.name}: normalisation collapsed into one 1x1 conv, not folded: the conv zero-pads "
                "its input, and a shift by mean/std is not exact at the borders"
            )
            continue
        bias = const_value(conv.inputs[2]) if len(conv.inputs) > 2 else None
        new_w = weight.astype(np.float64) * a[None, :, None, None]
        new_b = (0.0 if bias is None else bias.astype(np.float64)) + (weight * b[None, :, None, None]).sum(
            (1, 2, 3)
        )
        conv.inputs[0] = source
        conv.inputs[1] = gs.Constant(f"{conv.name}/weight_folded", new_w.astype(weight.dtype))
        bias_t = gs.Constant(f"{conv.name}/bias_folded", new_b.astype(weight.dtype))
        if len(conv.inputs) > 2:
            conv.inputs[2] = bias_t
        else:
            conv.inputs.append(bias_t)
        notes.append(f"{conv.name}: folded the input normalisation of {source.name!r} into weights and bias")
    if not notes:
        notes.append("no normalisation feeding a Conv from a graph input: graph unchanged")
    graph.cleanup().toposort()
    return graph, notes
