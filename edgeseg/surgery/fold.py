"""`fold` pass: constant folding, shape inference, dead-node cleanup, opset and IR version checks.

Why: exporters leave shape arithmetic (Shape -> Gather -> Concat ...) and constant sub-graphs that the
TensorRT parser would turn into layers; folding them and inferring shapes makes the graph smaller and the
lint's dynamic-shape findings precise. Folding runs the constant sub-graphs on ONNX Runtime through
onnx-graphsurgeon; where that fails (a custom op, a missing runtime) the pass goes on without it.
"""

from __future__ import annotations

import onnx
import onnx_graphsurgeon as gs

from edgeseg.errors import EdgesegError
from edgeseg.surgery.graphs import export_model, import_graph
from edgeseg.surgery.io import MIN_OPSET, max_opset

# Each round's inferred shapes let the next fold more (torchvision Mask R-CNN settles after ~10 rounds).
MAX_ROUNDS = 25


def check_versions(graph: gs.Graph) -> None:
    """Refuse opsets and IR versions we do not read (load_model checks files; this checks any graph)."""
    opset = int(graph.opset) if graph.opset is not None else None
    if opset is None or not MIN_OPSET <= opset <= max_opset():
        raise EdgesegError(
            f"ONNX opset {opset} is not supported ({MIN_OPSET}..{max_opset()}); re-export the model"
        )
    if graph.ir_version is not None and graph.ir_version > onnx.IR_VERSION:
        raise EdgesegError(f"IR version {graph.ir_version} is newer than this onnx reads ({onnx.IR_VERSION})")


def _infer_shapes(graph: gs.Graph) -> gs.Graph:
    """ONNX shape inference (custom-domain nodes are skipped by it), re-imported into a gs graph."""
    model = onnx.shape_inference.infer_shapes(export_model(graph), check_type=False, strict_mode=False)
    return import_graph(model)


def _fold_once(graph: gs.Graph, notes: list[str]) -> gs.Graph:
    try:
        graph.fold_constants(error_ok=True)
    except Exception as err:  # noqa: BLE001 - folding is an optimisation: any failure leaves constants as they are
        notes.append(f"constant folding skipped ({type(err).__name__}: {str(err).splitlines()[0][:120]})")
    graph.cleanup().toposort()
    try:
        graph = _infer_shapes(graph)
    except Exception as err:  # noqa: BLE001 - shape inference is an optimisation too
        notes.append(f"shape inference skipped ({type(err).__name__})")
    return graph


def run(graph: gs.Graph) -> tuple[gs.Graph, list[str]]:
    """Fold, clean up and infer shapes until nothing changes (inferred shapes make more folds possible),
    so a second run finds nothing to do."""
    check_versions(graph)
    before = len(graph.nodes)
    notes: list[str] = []
    for _ in range(MAX_ROUNDS):
        previous = export_model(graph).SerializeToString()
        graph = _fold_once(graph, notes)
        if export_model(graph).SerializeToString() == previous:
            break
    else:
        notes.append(f"still folding after {MAX_ROUNDS} rounds: run `fold` again")
    notes.insert(0, f"folded and cleaned: {before} -> {len(graph.nodes)} top-level nodes")
    return graph, sorted(set(notes), key=notes.index)
