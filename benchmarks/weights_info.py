"""One line naming the weights a benchmark ran, so no figure is read as trained when it was not.

A random model floods eager post-processing with boxes while a trained one does not (issue 21:
the README's ORT speed-up was measured on random weights), so every benchmark that loads weights
prints their sha256 and whether they are trained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def graph_weights(graph: Path) -> str:
    """From an exported graph's metadata: `edgeseg export` records the weights' sha256, empty when random."""
    import onnx

    props = {p.key: p.value for p in onnx.load(str(graph), load_external_data=False).metadata_props}
    digest = props.get("edgeseg.weights_sha256", "")
    if digest:
        return f"{graph.parent.name}/{graph.name}: trained weights sha256 {digest}"
    return (f"{graph.parent.name}/{graph.name}: RANDOM INIT weights (no sha256 recorded): "
            "not comparable with trained figures")


def model_weights(name: str, info: Any) -> str:
    """From `zoo.get`'s ModelInfo (it hashes the file it loaded; `zoo.build` infos name no loaded file)."""
    if getattr(info, "sha256", None):
        return f"{name}: trained weights {Path(info.weights).name} sha256 {info.sha256}"
    return f"{name}: RANDOM INIT weights: not comparable with trained figures"
