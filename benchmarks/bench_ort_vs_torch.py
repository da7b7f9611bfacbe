"""ORT backend (exported deploy graph + numpy post-processing) vs torch eager, same model, same frames, CPU.

Torch eager is the original torchvision-style model: `model(list of float images)`, with its own
resize, per-image NMS and full-size mask paste. ORT runs `edgeseg export` graphs on uint8 frames,
then the runtime's numpy decoding (mask paste, panoptic fusion) for every frame. The sides are
timed alternately (torch, graph 1, graph 2, ..., torch, ...) so machine load hits them alike; each
figure is a median. The first line names the weights (sha256, trained or random init): a random
model floods eager post-processing with boxes, a trained one does not, so only trained figures
compare like for like.

    python benchmarks/bench_ort_vs_torch.py --model mask_rcnn --threads 2 [--graph a.onnx --graph b.onnx]
    python benchmarks/bench_ort_vs_torch.py --model maskrcnn_resnet50_fpn --random-init   # torchvision's own
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from weights_info import graph_weights, model_weights

from edgeseg.data.shapes import render_image
from edgeseg.export.onnx_export import deploy_metadata, export_deploy
from edgeseg.export.wrappers import wrap
from edgeseg.models import zoo
from edgeseg.runtime.backends.ort import OrtBackend
from edgeseg.runtime.results import FrameResult
from edgeseg.runtime.task_adapters import DeployAdapter


def load(name: str, random_init: bool) -> tuple[torch.nn.Module, object, str]:
    """(model, info, a line naming the weights): never silently random. A torchvision detection
    builder's name (no weights can be downloaded here) is built with seeded random weights and loaded
    the way a user's state dict is, so both sides keep torchvision's thresholds."""
    from torchvision.models import detection

    if name.endswith("_fpn") and hasattr(detection, name):
        if not random_init:
            raise SystemExit(f"{name}: pass --random-init (torchvision's weights cannot be downloaded here)")
        torch.manual_seed(0)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.pth"
            torch.save(getattr(detection, name)(weights=None, weights_backbone=None).state_dict(), path)
            model, info = zoo.get(path)
        return model.eval(), info, f"torchvision {name}: RANDOM INIT weights (seed 0), not like trained ones"
    if random_init:
        torch.manual_seed(0)
        model, info = zoo.build(name)
        return model.eval(), info, "RANDOM INIT weights (seed 0): not comparable with trained figures"
    model, info = zoo.get(name)  # fails loudly when the zoo weights are missing
    return model, info, model_weights(name, info)


def alternate_ms(sides: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median ms per side, the sides called in turn `repeats` times after one warm-up round."""
    for fn in sides.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeats):
        for name, fn in sides.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: 1000 * statistics.median(t) for name, t in times.items()}


def ort_side(path: Path, threads: int, frames: np.ndarray) -> Callable[[], object]:
    """One call: the graph on ORT, then the runtime's numpy post-processing of every frame."""
    backend, adapter = OrtBackend(path, intra_op_threads=threads), DeployAdapter(path)
    size = frames.shape[1]

    def run() -> None:
        outputs = backend.infer({"images": frames})
        for i in range(len(frames)):
            result = FrameResult(i, size, size)
            adapter.postprocess({k: v[i] for k, v in outputs.items()}, None, result)
            result.full_masks()

    return run


def label(graph: Path) -> str:
    """The graph's folder and name (the zoo's static and CPU-twin graphs share a file name)."""
    return f"ORT {graph.parent.name}/{graph.name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mask_rcnn")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batches", default="1,4")
    parser.add_argument("--graph", type=Path, action="append", default=[],
                        help="exported graph(s) to time (default: a fresh `--ops edgeseg` export)")
    parser.add_argument("--random-init", action="store_true", help="untrained weights (labelled as such)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, info, weights = load(args.model, args.random_init)
    size = int(info.input_size)  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp:
        graphs = list(args.graph)
        if not graphs:
            deploy = wrap(model, info, "edgeseg")
            metadata = deploy_metadata(deploy, info, "edgeseg")
            graphs = [export_deploy(deploy, Path(tmp) / "model.onnx", metadata)]
        named = ([f"ORT {graph_weights(g)}" for g in graphs] if args.graph
                 else ["ORT: a fresh `--ops edgeseg` export of the same weights"])
        rows = []
        for batch in (int(b) for b in args.batches.split(",")):
            frames = np.stack([render_image(5, i, size, "val")[0] for i in range(batch)])
            tensors = [torch.from_numpy(f).permute(2, 0, 1).float() / 255 for f in frames]

            def eager(tensors: list[torch.Tensor] = tensors) -> None:
                with torch.no_grad():
                    model(tensors)

            sides: dict[str, Callable[[], object]] = {"torch eager": eager}
            sides.update({label(g): ort_side(g, args.threads, frames) for g in graphs})
            ms = alternate_ms(sides, args.repeats)
            rows += [(batch, name, t, ms["torch eager"] / t) for name, t in ms.items()]
    print(f"torch eager {weights}", *named, sep="\n")
    print(f"{size}x{size} ShapesWorld frames, CPU, {args.threads} threads, sides alternated, median of "
          f"{args.repeats}")
    print("| batch | side | ms per batch | speed-up vs torch eager |")
    print("|---:|---|---:|---:|")
    for batch, name, t, ratio in rows:
        print(f"| {batch} | {name} | {t:.1f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
