"""`foreign` pass: rewrite sub-graphs that other exporters emit into our two plugins, only where exact.

Patterns (each checked in full; anything that differs leaves the graph untouched, and the pass says so):

* torchvision MultiScaleRoIAlign (traced export): per-level `RoiAlign` nodes, each reading the RoIs of
  `NonZero(Equal(levels, l))`, scattered back with `ScatterElements` into a zero tensor, where `levels`
  is the FPN rule floor(k0 + log2(sqrt(area) / s0) + 1e-6) clamped to the levels present. Becomes one
  EdgesegRoIAlign over all levels, fed the [R, 5] (batch, x1, y1, x2, y2) RoIs the pattern gathers from.
* single-class, single-image NonMaxSuppression whose selected box indices (column 2) are consumed only
  through prefixes `keep[:k]` (torchvision's batched_nms with the coordinate trick, then `[:k]`).
  Becomes EdgesegNMS with max_detections = K = min(k, max_output_boxes_per_class), the same IoU and score
  thresholds and pre_nms_top_k = min(N, 16384) (every candidate, up to the plugin's limit).
  Where the prefixes are graph outputs, they become fixed K slots (-1 padded, as det_indices) and the
  count becomes a graph output `<keep>_num_detections`: static shapes, as our own export has, which
  TensorRT and TrtBackend need. Where the kept indices feed more computation (torchvision gathers
  proposals and boxes with them), padded slots would change what follows, so there
  `keep = det_indices[0, :num_detections]` stays a slice by the runtime count (exact, data-dependent;
  lint's data-dependent-shape rule names it).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import onnx
import onnx_graphsurgeon as gs

from edgeseg.ops.spec import load_spec
from edgeseg.surgery.graphs import EDGESEG_DOMAIN, const_value, iter_graphs, producer
from edgeseg.surgery.plugins import NMS_MAX_CANDIDATES, nms_cap, to_plugin

# "No score threshold" for EdgesegNMS, which keeps score > threshold and takes finite thresholds only:
# every finite score passes, as without ONNX's optional score_threshold input (-inf scores would not).
LOWEST_SCORE = float(np.finfo(np.float32).min)


def _src(tensor: gs.Tensor, op: str) -> gs.Node | None:
    node = producer(tensor)
    return node if node is not None and node.op == op else None


def _skip(tensor: gs.Tensor, ops: tuple[str, ...] = ("Cast",)) -> gs.Tensor:
    """Walk up through single-input reshaping/casting nodes (their first input)."""
    node = producer(tensor)
    while node is not None and node.op in ops:
        tensor = node.inputs[0]
        node = producer(tensor)
    return tensor


def _const_eq(tensor: gs.Tensor, expected: float | list[float] | list[int], rtol: float = 1e-6) -> bool:
    value = const_value(tensor)
    if value is None:
        return False
    return value.shape == np.shape(expected) and bool(np.allclose(value, expected, rtol=rtol, atol=0))


def _gather_cols(tensor: gs.Tensor, cols: list[int] | int) -> gs.Tensor | None:
    """X if `tensor` = Gather(X, cols, axis=1) with constant cols, else None."""
    node = _src(tensor, "Gather")
    if node is None or node.attrs.get("axis", 0) != 1 or not _const_eq(node.inputs[1], cols):
        return None
    return node.inputs[0]


def _new_const(name: str, value: np.ndarray) -> gs.Constant:
    return gs.Constant(name, np.asarray(value))


# ----------------------------------------------------------------------------- multi-level RoIAlign


@dataclass
class RoIAlignMatch:
    graph: gs.Graph
    output: gs.Tensor  # the last ScatterElements output
    last_scatter: gs.Node
    features: list[gs.Tensor]
    rois5: gs.Tensor  # [R, 5]: batch index, x1, y1, x2, y2
    values: dict[str, object]  # edgeseg RoIAlign attributes


def _scatter_chain(last: gs.Node) -> list[gs.Node] | None:
    """ScatterElements nodes from the zero tensor to `last`, first level first."""
    chain = []
    node: gs.Node | None = last
    while node is not None and node.op == "ScatterElements":
        if node.attrs.get("axis", 0) != 0 or node.attrs.get("reduction", "none") != "none":
            return None
        chain.append(node)
        node = producer(node.inputs[0])
    if node is None or node.op != "ConstantOfShape":
        return None
    fill = node.attrs.get("value")
    if fill is not None and np.any(np.asarray(fill.values) != 0):
        return None
    return chain[::-1]


def _level_selector(index: gs.Tensor) -> tuple[gs.Tensor, int] | None:
    """(levels, l) if `index` = positions where levels == l (NonZero(Equal(levels, l)) reshaped)."""
    nonzero = _src(_skip(index, ("Squeeze", "Split", "Transpose", "Reshape", "Cast")), "NonZero")
    equal = _src(nonzero.inputs[0], "Equal") if nonzero else None
    level = const_value(equal.inputs[1]) if equal else None
    if equal is None or level is None or level.size != 1:
        return None
    return equal.inputs[0], int(level.reshape(-1)[0])


def _box_areas(tensor: gs.Tensor) -> list[gs.Tensor] | None:
    """[B_1..B_n] if `tensor` = Concat of (x2 - x1) * (y2 - y1) of boxes B_i (or one such product)."""
    concat = _src(tensor, "Concat")
    parts = list(concat.inputs) if concat is not None and concat.attrs.get("axis") == 0 else [tensor]
    boxes = []
    for part in parts:
        mul = _src(part, "Mul")
        if mul is None:
            return None
        width, height = _src(mul.inputs[0], "Sub"), _src(mul.inputs[1], "Sub")
        if width is None or height is None:
            return None
        columns = [
            _gather_cols(width.inputs[0], 2),
            _gather_cols(width.inputs[1], 0),
            _gather_cols(height.inputs[0], 3),
            _gather_cols(height.inputs[1], 1),
        ]
        first = columns[0]
        if first is None or any(c is not first for c in columns):
            return None
        boxes.append(first)
    return boxes


def _level_rule(levels: gs.Tensor) -> tuple[dict[str, float], gs.Tensor] | None:
    """(constants, areas) if `levels` is torchvision's LevelMapper graph applied to the tensor `areas`."""
    steps = [
        ("Sub", "k_min"),
        ("Clip", ""),
        ("Floor", ""),
        ("Add", "eps"),
        ("Add", "k0"),
        ("Div", "ln2"),
        ("Log", ""),
        ("Div", "s0"),
        ("Sqrt", ""),
    ]
    found: dict[str, float] = {}
    tensor = levels
    for op, key in steps:
        node = _src(_skip(tensor), op)
        if node is None:
            return None
        if op == "Clip":
            lo, hi = const_value(node.inputs[1]), const_value(node.inputs[2])
            if lo is None or hi is None:
                return None
            found["clip_lo"], found["clip_hi"] = float(lo), float(hi)
        elif key:
            value = const_value(node.inputs[1])
            if value is None or value.size != 1:
                return None
            found[key] = float(value.reshape(-1)[0])
        tensor = node.inputs[0]
    return found, tensor


def _roi_source(roi_align: gs.Node, index: gs.Tensor) -> gs.Tensor | None:
    """R5 if the RoiAlign reads rois = R5[index][:, 1:5] and batch = int(R5[index][:, 0])."""
    picked = _gather_cols(roi_align.inputs[1], [1, 2, 3, 4])
    gather = _src(picked, "Gather") if picked is not None else None
    if gather is None or gather.attrs.get("axis", 0) != 0 or gather.inputs[1] is not index:
        return None
    batch = _skip(_skip(roi_align.inputs[2]), ("Squeeze",))
    if _gather_cols(batch, [0]) is not picked and _gather_cols(batch, 0) is not picked:
        return None
    return gather.inputs[0]


def _match_roi_align(graph: gs.Graph, last: gs.Node, opset: int) -> RoIAlignMatch | str | None:
    chain = _scatter_chain(last)
    if not chain or len(chain) < 2:
        return None
    aligns, levels_seen, features, sources = [], [], [], []
    levels_tensor = None
    for pos, scatter in enumerate(chain):
        roi_align = _src(_skip(scatter.inputs[2]), "RoiAlign")
        index = _skip(scatter.inputs[1], ("Expand", "Reshape"))
        selector = _level_selector(index)
        if roi_align is None or selector is None:
            return None
        levels, level = selector
        if levels_tensor is not None and levels is not levels_tensor:
            return "RoiAlign/ScatterElements chain: levels come from different tensors"
        levels_tensor = levels
        source = _roi_source(roi_align, index)
        if source is None:
            return "RoiAlign/ScatterElements chain: RoIs are not gathered from one [R, 5] tensor"
        aligns.append(roi_align)
        levels_seen.append(level)
        features.append(roi_align.inputs[0])
        sources.append(source)
        if level != pos:
            return f"RoiAlign/ScatterElements chain: level {level} at position {pos}"
    if any(s is not sources[0] for s in sources):
        return "RoiAlign/ScatterElements chain: levels read RoIs from different tensors"
    legacy = "output_half_pixel" if opset < 16 else "half_pixel"
    first = aligns[0].attrs
    common = {k: first.get(k) for k in ("output_height", "output_width", "sampling_ratio", "mode")}
    modes = {a.attrs.get("coordinate_transformation_mode", legacy) for a in aligns}
    if any({k: a.attrs.get(k) for k in common} != common for a in aligns) or len(modes) != 1:
        return "RoiAlign/ScatterElements chain: levels differ in output size, sampling or mode"
    if common["mode"] not in (None, "avg"):
        return "RoiAlign/ScatterElements chain: max mode (ONNX max pooling differs from ours)"
    scales = [float(a.attrs.get("spatial_scale", 1.0)) for a in aligns]
    k_min = round(-math.log2(scales[0]))
    if any(not math.isclose(s, 2.0 ** -(k_min + i), rel_tol=1e-6) for i, s in enumerate(scales)):
        return f"RoiAlign/ScatterElements chain: spatial scales {scales} are not successive powers of 1/2"
    assert levels_tensor is not None
    found = _level_rule(levels_tensor)
    k_max = k_min + len(scales) - 1
    if found is None:
        return "RoiAlign/ScatterElements chain: level selection is not the FPN rule"
    rule, areas = found
    checks = [
        (rule["k_min"], k_min),
        (rule["clip_lo"], k_min),
        (rule["clip_hi"], k_max),
        (rule["eps"], float(np.float32(1e-6))),
        (rule["ln2"], float(np.float32(math.log(2)))),
    ]
    if any(not math.isclose(got, want, rel_tol=1e-6) for got, want in checks):
        return (
            f"RoiAlign/ScatterElements chain: FPN rule constants {rule} do not match levels {k_min}..{k_max}"
        )
    area_boxes = _box_areas(areas)
    if area_boxes is None or not _rois_are(sources[0], area_boxes):
        return "RoiAlign/ScatterElements chain: levels are not computed from the pooled RoIs"
    values = {
        "output_height": common["output_height"] or 1,
        "output_width": common["output_width"] or 1,
        "sampling_ratio": common["sampling_ratio"] if common["sampling_ratio"] is not None else 0,
        "aligned": int(modes.pop() == "half_pixel"),
        "mode": 0,
        "quantized": 0,
        "spatial_scales": scales,
        "canonical_scale": rule["s0"],
        "canonical_level": int(round(rule["k0"])),
    }
    return RoIAlignMatch(graph, last.outputs[0], last, features, sources[0], values)


def _rois_are(rois5: gs.Tensor, boxes: list[gs.Tensor]) -> bool:
    """True if rois5 = Concat([batch column, Concat(boxes)], axis=1), boxes in the same order."""
    concat = _src(rois5, "Concat")
    if concat is None or concat.attrs.get("axis") != 1 or len(concat.inputs) != 2:
        return False
    joined = _src(concat.inputs[1], "Concat")
    parts = (
        list(joined.inputs) if joined is not None and joined.attrs.get("axis") == 0 else [concat.inputs[1]]
    )
    return len(parts) == len(boxes) and all(p is b for p, b in zip(parts, boxes, strict=True))


def _rewrite_roi_align(m: RoIAlignMatch) -> str:
    spec = load_spec("roi_align")
    base = m.last_scatter.name or m.output.name
    rois = gs.Variable(f"{base}/edgeseg_rois", dtype=m.rois5.dtype)
    batch_f = gs.Variable(f"{base}/edgeseg_batch_f", dtype=m.rois5.dtype)
    batch = gs.Variable(f"{base}/edgeseg_batch_idx", dtype=np.int32)
    nodes = [
        gs.Node(
            "Gather",
            f"{base}/edgeseg_rois_gather",
            {"axis": 1},
            [m.rois5, _new_const(f"{base}/edgeseg_cols", np.array([1, 2, 3, 4], np.int64))],
            [rois],
        ),
        gs.Node(
            "Gather",
            f"{base}/edgeseg_batch_gather",
            {"axis": 1},
            [m.rois5, _new_const(f"{base}/edgeseg_col0", np.array(0, np.int64))],
            [batch_f],
        ),
        gs.Node("Cast", f"{base}/edgeseg_batch_cast", {"to": onnx.TensorProto.INT32}, [batch_f], [batch]),
    ]
    plugin = gs.Node(
        spec.onnx_op_type,
        f"{base}/EdgesegRoIAlign",
        dict(m.values),
        [*m.features, rois, batch],
        [],
        domain=EDGESEG_DOMAIN,
    )
    to_plugin(plugin, spec)
    m.last_scatter.outputs.clear()
    plugin.outputs.append(m.output)
    m.graph.nodes.extend([*nodes, plugin])
    return f"{plugin.name}: {len(m.features)} RoiAlign levels + ScatterElements merge -> {spec.plugin_name}"


# ----------------------------------------------------------------------------- NonMaxSuppression


@dataclass
class NMSMatch:
    graph: gs.Graph
    nms: gs.Node
    keep: gs.Tensor  # 1-D int64 selected box indices
    keep_producer: gs.Node
    values: dict[str, object]
    static_outputs: list[gs.Tensor]  # graph outputs keep[:k] (when every reader is one), else empty


def _unsqueezed(tensor: gs.Tensor, times: int) -> bool:
    """True if `tensor` is `times` leading size-1 axes added by Unsqueeze(axis 0) (casts allowed)."""
    for _ in range(times):
        node = _src(_skip(tensor), "Unsqueeze")
        axes = const_value(node.inputs[1]) if node is not None and len(node.inputs) > 1 else None
        if node is None or axes is None or axes.reshape(-1).tolist() != [0]:
            return False
        tensor = node.inputs[0]
    return True


def _leading_ones(tensor: gs.Tensor, count: int) -> bool:
    shape = tensor.shape
    return shape is not None and len(shape) == 3 and all(d == 1 for d in shape[:count])


def _slice_prefix(node: gs.Node) -> int | None:
    """k if `node` is Slice(x, starts=[0], ends=[k], axes=[0], steps=[1]) with constants, else None."""
    if node.op != "Slice" or len(node.inputs) < 3:
        return None
    consts = [const_value(t) for t in node.inputs[1:]]
    if any(c is None for c in consts):
        return None
    starts, ends = consts[0], consts[1]
    axes = consts[2] if len(consts) > 2 else np.array([0])
    steps = consts[3] if len(consts) > 3 else np.array([1])
    vectors = [np.asarray(v).reshape(-1).tolist() for v in (starts, ends, axes, steps)]
    if vectors[0] != [0] or vectors[2] != [0] or vectors[3] != [1] or vectors[1][0] >= 2**31:
        return None
    return int(vectors[1][0])


def _prefix_bound(
    keep: gs.Tensor, parents: dict[int, tuple[gs.Node, gs.Graph]], graph: gs.Graph
) -> int | None:
    """The largest k over the `keep[:k]` readers of keep (followed out of If branches), else None."""
    readers: list[gs.Node] = list(keep.outputs)
    if any(t is keep for t in graph.outputs):
        parent = parents.get(id(graph))
        if parent is None or parent[0].op != "If":
            return None
        readers += list(parent[0].outputs[[id(t) for t in graph.outputs].index(id(keep))].outputs)
    bounds = [_slice_prefix(r) for r in readers]
    if not bounds or None in bounds:
        return None
    return max(b for b in bounds if b is not None)


def _match_nms(graph: gs.Graph, nms: gs.Node, parents: dict[int, tuple[gs.Node, gs.Graph]]) -> NMSMatch | str:
    where = f"NonMaxSuppression {nms.name!r}"
    if nms.attrs.get("center_point_box", 0) != 0:
        return f"{where}: center-point boxes (EdgesegNMS takes corners)"
    inputs = list(nms.inputs) + [gs.Variable.empty()] * (5 - len(nms.inputs))
    consts = [const_value(t) if t.name else None for t in inputs[2:]]
    if any(t.name and c is None for t, c in zip(inputs[2:], consts, strict=True)):
        return f"{where}: max boxes / thresholds are not constants"
    max_per_class = int(consts[0].reshape(-1)[0]) if consts[0] is not None else 0
    if max_per_class <= 0:
        return f"{where}: max_output_boxes_per_class is 0 or absent (selects nothing)"
    if not (_unsqueezed(inputs[0], 1) or _leading_ones(inputs[0], 1)):
        return f"{where}: batch size is not provably 1"
    if not (_unsqueezed(inputs[1], 2) or _leading_ones(inputs[1], 2)):
        return f"{where}: scores do not provably have one image and one class"
    readers = list(nms.outputs[0].outputs)
    gather = readers[0] if len(readers) == 1 and readers[0].op == "Gather" else None
    if gather is None or gather.attrs.get("axis", 0) != 1:
        return f"{where}: selected indices are used other than through their box column"
    keep, keep_node = gather.outputs[0], gather
    if _const_eq(gather.inputs[1], [2]):
        squeeze = keep.outputs[0] if len(keep.outputs) == 1 else None
        axes = const_value(squeeze.inputs[1]) if squeeze is not None and len(squeeze.inputs) > 1 else None
        if squeeze is None or squeeze.op != "Squeeze" or axes is None or axes.reshape(-1).tolist() != [1]:
            return f"{where}: box column is not squeezed to 1-D"
        keep, keep_node = squeeze.outputs[0], squeeze
    elif not _const_eq(gather.inputs[1], 2):
        return f"{where}: Gather reads a column other than the box index"
    bound = _prefix_bound(keep, parents, graph)
    if bound is None:
        return f"{where}: kept indices are not only read as keep[:k] with a constant k (count unbounded)"
    iou = float(consts[1].reshape(-1)[0]) if consts[1] is not None else 0.0
    score = float(consts[2].reshape(-1)[0]) if consts[2] is not None else LOWEST_SCORE
    n = (_skip(inputs[1], ("Unsqueeze", "Cast")).shape or [None])[-1]  # candidates (one class)
    values: dict[str, object] = {
        "score_threshold": score,
        "iou_threshold": iou,
        "pre_nms_top_k": nms_cap(n) if isinstance(n, int) else NMS_MAX_CANDIDATES,
        "max_detections": min(bound, max_per_class),
    }
    prefixes = [r.outputs[0] for r in keep.outputs]
    root = id(graph) not in parents
    static = root and bool(prefixes) and all(any(p is o for o in graph.outputs) for p in prefixes)
    return NMSMatch(graph, nms, keep, keep_node, values, prefixes if static else [])


def _rewrite_nms(m: NMSMatch) -> str:
    spec = load_spec("nms")
    base = m.nms.name or m.keep.name
    boxes, scores = m.nms.inputs[0], m.nms.inputs[1]
    k = int(m.values["max_detections"])  # type: ignore[call-overload]
    scores_bnc = gs.Variable(f"{base}/edgeseg_scores_bnc", dtype=np.float32)
    outs = [
        gs.Variable(f"{base}/edgeseg_{n}", dtype=t)
        for n, t in [
            ("det_boxes", np.float32),
            ("det_scores", np.float32),
            ("det_classes", np.int32),
            ("det_indices", np.int32),
            ("num_detections", np.int32),
        ]
    ]
    row = gs.Variable(f"{base}/edgeseg_indices_row", dtype=np.int32)
    count = gs.Variable(f"{base}/edgeseg_count", dtype=np.int64)
    kept32 = gs.Variable(f"{base}/edgeseg_kept", dtype=np.int32)
    plugin = gs.Node(
        spec.onnx_op_type,
        f"{base}/EdgesegNMS",
        dict(m.values),
        [boxes, scores_bnc],
        outs,
        domain=EDGESEG_DOMAIN,
    )
    to_plugin(plugin, spec)
    zero = _new_const(f"{base}/edgeseg_zero", np.array([0], np.int64))
    nodes = [
        gs.Node("Transpose", f"{base}/edgeseg_scores_t", {"perm": [0, 2, 1]}, [scores], [scores_bnc]),
        plugin,
        gs.Node("Squeeze", f"{base}/edgeseg_row", {}, [outs[3], zero], [row]),
        gs.Node("Cast", f"{base}/edgeseg_count_cast", {"to": onnx.TensorProto.INT64}, [outs[4]], [count]),
        gs.Node("Slice", f"{base}/edgeseg_take", {}, [row, zero, count, zero], [kept32]),
        gs.Node("Cast", f"{base}/edgeseg_keep_cast", {"to": onnx.TensorProto.INT64}, [kept32], []),
    ]
    m.keep_producer.outputs.clear()
    note = f"{plugin.name}: NonMaxSuppression + box-column Gather -> {spec.plugin_name} (max_detections={k})"
    if m.static_outputs:
        # fixed slots: keep = det_indices[0] (K, -1 padded), the count a graph output of its own
        nodes[-3:] = [gs.Node("Cast", f"{base}/edgeseg_keep_cast", {"to": onnx.TensorProto.INT64}, [row], [])]
        outs[4].name = f"{m.keep.name}_num_detections"
        outs[4].shape = [1]
        m.graph.outputs.append(outs[4])
        m.keep.shape, m.keep.dtype = [k], np.int64
        for prefix in m.static_outputs:
            end = _slice_prefix(prefix.inputs[0])
            prefix.shape, prefix.dtype = [min(k, end if end is not None else k)], np.int64
        note += f"; {len(m.static_outputs)} output(s) in {k} fixed slots + {outs[4].name!r}"
    else:
        note += "; kept indices feed more ops: sliced by the runtime count (data-dependent shape)"
    nodes[-1].outputs.append(m.keep)
    m.graph.nodes.extend(nodes)
    return note


# ----------------------------------------------------------------------------- the pass


def _parents(graph: gs.Graph) -> dict[int, tuple[gs.Node, gs.Graph]]:
    """id(subgraph) -> (the node holding it, the graph holding that node)."""
    found = {}
    for g in iter_graphs(graph):
        for node in g.nodes:
            for value in node.attrs.values():
                for sub in value if isinstance(value, list) else [value]:
                    if isinstance(sub, gs.Graph):
                        found[id(sub)] = (node, g)
    return found


def find(graph: gs.Graph) -> Iterator[RoIAlignMatch | NMSMatch | str]:
    """Every pattern match, and a reason string for each near miss (pattern seen but not exact)."""
    opset = int(graph.opset or 17)
    parents = _parents(graph)
    for g in list(iter_graphs(graph)):
        for node in list(g.nodes):
            if node.op == "ScatterElements" and not any(
                c.op == "ScatterElements" and c.inputs[0] is node.outputs[0] for c in node.outputs[0].outputs
            ):
                found = _match_roi_align(g, node, opset)
                if found is not None:
                    yield found
            elif node.op == "NonMaxSuppression" and node.domain in (None, "", "ai.onnx"):
                yield _match_nms(g, node, parents)


def run(graph: gs.Graph) -> tuple[gs.Graph, list[str]]:
    """Rewrite every exact match; report near misses and leave them alone."""
    matches = list(find(graph))
    notes = [f"left untouched: {m}" for m in matches if isinstance(m, str)]
    for m in matches:
        if isinstance(m, RoIAlignMatch):
            notes.append(_rewrite_roi_align(m))
        elif isinstance(m, NMSMatch):
            notes.append(_rewrite_nms(m))
    if not matches:
        notes.append("no foreign RoIAlign/NMS pattern found: graph unchanged")
    graph.cleanup().toposort()
    return graph, notes
