"""Every plugin node of every zoo graph, parsed alone by TensorRT for RTX with our plugin library loaded.

    python tools/rtx_plugin_nodes.py build/rtx-plugins/libedgeseg_trt_plugins.so   (make trt-rtx-plugins)

Why one node per process: TensorRT for RTX 1.7 takes no custom plugin layers. Its parser finds our
creator by name, version and namespace, our createPlugin accepts the node's fields ("Successfully
created plugin" in its log), and then the process aborts inside the parser library. So each node's
one-node graph (its own attributes and recorded input/output types and shapes) is parsed in a child
process, and a node passes when that log line appears: it proves the name, version, namespace and
every field reach our creator as it expects. The abort that follows is TensorRT for RTX's limit,
not ours, and is reported as such. Needs the plugin library built against TensorRT headers (which
no registry ships): `make trt-rtx-plugins HEADERS=/path/to/TensorRT/include`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CREATED = "Successfully created plugin"

CHILD = """
import sys
import tensorrt_rtx_bindings as trt

class Echo(trt.ILogger):
    def __init__(self):
        trt.ILogger.__init__(self)
    def log(self, severity, msg):
        print(f"[{severity.name}] {msg}", flush=True)

logger = Echo()
trt.get_plugin_registry().load_library(sys.argv[1])
builder = trt.Builder(logger)
network = builder.create_network(0)
parser = trt.OnnxParser(network, logger)
ok = parser.parse_from_file(sys.argv[2])
errors = [str(parser.get_error(i).desc()) for i in range(parser.num_errors)]
print("parsed" if ok else "refused: " + "; ".join(errors))
"""


def plugin_nodes(graph: Path, work: Path) -> list[tuple[str, Path]]:
    """(node name, one-node ONNX file) for each plugin node of the patched `graph`."""
    import onnx

    from edgeseg.engine.segment_check import with_boundary_shapes
    from edgeseg.engine.segments import one_node_graph, split_nodes
    from edgeseg.surgery.registry import patch_file

    patched = patch_file(graph, work / f"{graph.stem}.trt.onnx")
    model = with_boundary_shapes(onnx.load(str(patched)))
    found = []
    for k, node in enumerate(split_nodes(model)):
        path = work / f"{graph.stem}.node{k}.onnx"
        onnx.save(one_node_graph(model, node), str(path))
        found.append((node.name or node.op_type, path))
    return found


def check_node(library: Path, path: Path) -> tuple[bool, str]:
    """(created, last words) for one node: created means our createPlugin accepted it."""
    run = subprocess.run(
        [sys.executable, "-c", CHILD, str(library), str(path)], capture_output=True, text=True, timeout=120
    )
    log = run.stdout + run.stderr
    created = CREATED in log
    if run.returncode == 0:
        words = log.strip().splitlines()[-1] if log.strip() else "no output"
    else:
        words = f"process ended with {run.returncode} after the plugin was created" if created else log[-300:]
    return created, words


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("library", type=Path, help="libedgeseg_trt_plugins.so built against TensorRT headers")
    parser.add_argument("graphs", nargs="*", type=Path, help="ONNX graphs (default: every zoo graph)")
    args = parser.parse_args(argv)
    if not args.library.is_file():
        parser.error(f"{args.library} does not exist: run `make trt-rtx-plugins HEADERS=...` to build it")
    graphs = args.graphs or sorted((ROOT / "edgeseg" / "zoo").glob("*.onnx"))
    failures = total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for graph in graphs:
            for name, path in plugin_nodes(graph, Path(tmp)):
                created, words = check_node(args.library, path)
                total += 1
                failures += not created
                print(f"{'ok  ' if created else 'FAIL'} {graph.stem:22} {name:24} {words}")
    print(
        f"{total - failures} of {total} plugin nodes created by our creators in TensorRT for RTX; "
        "each process then ends inside the parser (TensorRT for RTX 1.7 takes no plugin layers)"
    )
    return 1 if failures or not total else 0


if __name__ == "__main__":
    sys.exit(main())
