"""`plugins` pass: turn exported edgeseg-domain nodes into the nodes TensorRT's ONNX parser maps to plugins.

The parser looks a custom node up by creator name = op_type, version = `plugin_version` attribute and
namespace = `plugin_namespace` attribute, and forwards only attributes named in the creator's field list,
INT as int32 and FLOAT as float32. So the node gets op_type = plugin name, every spec field (the node's
value or the spec default, typed by the spec) and the two string attributes. The domain stays `edgeseg`:
ONNX Runtime dispatches custom ops only in a non-default domain (our CPU kernels are registered there
under the plugin names), TensorRT 10.3's parser ignores the domain, and 10.10+ use it only as a fallback
namespace when the first lookup fails, which is the same string `edgeseg`.
"""

from __future__ import annotations

import onnx_graphsurgeon as gs

from edgeseg.errors import EdgesegError
from edgeseg.ops.spec import OPS, OpSpec, load_spec
from edgeseg.surgery.graphs import EDGESEG_DOMAIN, iter_graphs

# The EdgesegNMS plugin's limit on candidates per image (plugins/nms: its suppression bitmask holds
# candidates^2 bits); its configurePlugin refuses a node whose min(pre_nms_top_k, N * C) can exceed it.
NMS_MAX_CANDIDATES = 16384


def nms_cap(candidates: int) -> int:
    """pre_nms_top_k for at most `candidates` scored (box, class) pairs per image.

    min(candidates, 16384): every candidate while the plugin can take them all, else the 16384 best,
    which is exact whenever no more than that pass the score threshold. A cap of 0 (keep all) makes the
    plugin refuse a large head, e.g. COCO's 1000 proposals x 90 classes.
    """
    return max(1, min(int(candidates), NMS_MAX_CANDIDATES))


def spec_for_onnx_node(domain: str | None, op_type: str) -> OpSpec | None:
    """The spec of an exported (edgeseg-domain, not yet patched) node, or None."""
    return next(
        (s for s in map(load_spec, OPS) if (s.onnx_domain, s.onnx_op_type) == (domain, op_type)), None
    )


def spec_for_plugin(op_type: str) -> OpSpec | None:
    """The spec of a patched (plugin) node, or None."""
    return next((s for s in map(load_spec, OPS) if s.plugin_name == op_type), None)


def to_plugin(node: gs.Node, spec: OpSpec) -> None:
    """Make `node` the plugin node: op_type, typed fields, plugin_version and plugin_namespace."""
    try:
        attrs: dict[str, object] = dict(spec.resolve(dict(node.attrs)))
    except EdgesegError as err:
        raise EdgesegError(
            f"node {node.name!r}: {err}; re-export the model with this edgeseg version"
        ) from None
    attrs["plugin_version"] = spec.plugin_version
    attrs["plugin_namespace"] = spec.plugin_namespace
    node.attrs = attrs
    node.op = spec.plugin_name
    node.domain = EDGESEG_DOMAIN


def run(graph: gs.Graph) -> tuple[gs.Graph, list[str]]:
    """Patch every edgeseg-domain node (subgraphs included); a patched node no longer matches (idempotent)."""
    notes = []
    for sub in iter_graphs(graph):
        for node in sub.nodes:
            spec = spec_for_onnx_node(node.domain, node.op)
            if spec is not None:
                to_plugin(node, spec)
                notes.append(f"{node.name}: {spec.onnx_domain}::{spec.onnx_op_type} -> {spec.plugin_name}")
    if not notes:
        notes.append("no edgeseg-domain RoIAlign/NMS nodes: graph unchanged")
    return graph, notes
