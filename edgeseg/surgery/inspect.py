"""`edgeseg inspect`: what a graph contains (I/O with dynamic dims, op histogram, custom and plugin nodes)
and what the lint says about it for a TensorRT target, as text or JSON."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnx_graphsurgeon as gs

from edgeseg.surgery.graphs import import_graph, iter_graphs, op_counts
from edgeseg.surgery.io import default_opset
from edgeseg.surgery.lint import STOCK_PLUGINS, lint


def _tensor_info(t: gs.Tensor) -> dict[str, Any]:
    shape = None if t.shape is None else [d if isinstance(d, int) else str(d) for d in t.shape]
    return {
        "name": t.name,
        "dtype": None if t.dtype is None else np.dtype(t.dtype).name,
        "shape": shape,
        "dynamic_dims": [] if shape is None else [i for i, d in enumerate(shape) if not isinstance(d, int)],
    }


def _is_plugin_node(node: gs.Node) -> bool:
    return "plugin_version" in node.attrs or any(node.op == rule.op for rule in STOCK_PLUGINS)


def report(model: onnx.ModelProto, target: str = "trt10.3") -> dict[str, Any]:
    """Everything `inspect` prints, as plain data (the --json output)."""
    graph = import_graph(model)
    nodes = [n for g in iter_graphs(graph) for n in g.nodes]
    return {
        "opset": default_opset(model),
        "ir_version": model.ir_version,
        "target": target,
        "inputs": [_tensor_info(t) for t in graph.inputs],
        "outputs": [_tensor_info(t) for t in graph.outputs],
        "op_histogram": dict(sorted(op_counts(model).items(), key=lambda kv: (-kv[1], kv[0]))),
        "custom_nodes": [
            {"name": n.name, "domain": n.domain, "op_type": n.op}
            for n in nodes
            if n.domain not in (None, "", "ai.onnx")
        ],
        "plugin_nodes": [
            {
                "name": n.name,
                "op_type": n.op,
                "version": n.attrs.get("plugin_version"),
                "namespace": n.attrs.get("plugin_namespace"),
            }
            for n in nodes
            if _is_plugin_node(n)
        ],
        "findings": [f.as_dict() for f in lint(graph, target)],
    }


def render_text(rep: dict[str, Any]) -> str:
    """A terminal-friendly rendering of `report`."""
    lines = [f"opset {rep['opset']}, IR {rep['ir_version']}, target {rep['target']}"]
    for kind in ("inputs", "outputs"):
        lines.append(f"{kind}:")
        for t in rep[kind]:
            dyn = f"  (dynamic dims {t['dynamic_dims']})" if t["dynamic_dims"] else ""
            lines.append(f"  {t['name']}: {t['dtype']} {t['shape']}{dyn}")
    lines.append("ops: " + ", ".join(f"{op} {n}" for op, n in rep["op_histogram"].items()))
    for kind in ("custom_nodes", "plugin_nodes"):
        lines.append(f"{kind.replace('_', ' ')}: {len(rep[kind])}")
        lines += [f"  {n['op_type']} {n['name']!r}" for n in rep[kind]]
    findings = rep["findings"]
    lines.append(f"lint ({len(findings)} findings):" if findings else "lint: no findings")
    for f in findings:
        lines.append(
            f"  {f['severity']:7s} {f['code']}: {f['where']}: {f['message']}. Fix: {f['fix']} [{f['source']}]"
        )
    return "\n".join(lines)
