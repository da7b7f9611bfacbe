"""Passes by name, and running a list of them over a model.

Each pass is `run(graph) -> (graph, notes)`: it may edit the graph in place or return a new one, and it
is idempotent (running it on its own output changes nothing), so passes compose in any order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import onnx
import onnx_graphsurgeon as gs

from edgeseg.errors import EdgesegError
from edgeseg.surgery import fold, foreign, normalize, plugins
from edgeseg.surgery.graphs import export_model, import_graph
from edgeseg.surgery.io import load_model, save_model

Pass = Callable[[gs.Graph], tuple[gs.Graph, list[str]]]

PASSES: dict[str, Pass] = {
    "foreign": foreign.run,
    "plugins": plugins.run,
    "normalize": normalize.run,
    "fold": fold.run,
}
DEFAULT_PASSES = ("foreign", "plugins", "fold")


def parse_passes(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in PASSES]
    if unknown or not names:
        raise EdgesegError(f"unknown pass(es) {unknown or text!r}; choose from {', '.join(PASSES)}")
    return names


def apply(model: onnx.ModelProto, names: Sequence[str]) -> tuple[onnx.ModelProto, list[str]]:
    """Run the named passes in order; returns the new model and one note per change or non-change."""
    graph = import_graph(model)
    notes = []
    for name in names:
        graph, pass_notes = PASSES[name](graph)
        notes += [f"[{name}] {note}" for note in pass_notes]
    out = export_model(graph)
    return out, notes


def patch_file(src: str | os.PathLike[str], dst: str | os.PathLike[str],
               passes: Sequence[str] = DEFAULT_PASSES) -> Path:
    """The build chain's surgery stage (edgeseg.engine.chain): `src` patched by `passes` into `dst`.

    What `edgeseg patch src -o dst` does, without the printing: the file is checked on loading and
    `dst` is written atomically, only when every pass succeeded. Returns `dst`.
    """
    if Path(src).resolve() == Path(dst).resolve():
        raise EdgesegError(f"{dst}: the output path equals the input path; write the patched graph elsewhere")
    unknown = [name for name in passes if name not in PASSES]
    if unknown:
        raise EdgesegError(f"unknown pass(es) {unknown}; choose from {', '.join(PASSES)}")
    patched, _ = apply(load_model(src), passes)
    save_model(patched, dst)
    return Path(dst)
