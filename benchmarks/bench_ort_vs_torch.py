"""ORT backend (exported deploy graph + numpy post-processing) vs torch eager, same model, same frames, CPU.

Torch eager is the original torchvision-style model: `model(list of float images)`, with its own
resize, per-image NMS and full-size mask paste. ORT runs the `edgeseg export` graph on uint8 frames,
then the runtime's numpy decoding (mask paste, panoptic fusion) for every frame. Prints one table:
median ms per batch for each, the ratio, and the share of the ORT path spent in post-processing.

    python benchmarks/bench_ort_vs_torch.py --model mask_rcnn --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from edgeseg.data.shapes import render_image
from edgeseg.export.onnx_export import deploy_metadata, export_deploy
from edgeseg.export.wrappers import wrap
from edgeseg.models import zoo
from edgeseg.runtime.backends.ort import OrtBackend
from edgeseg.runtime.results import FrameResult
from edgeseg.runtime.task_adapters import DeployAdapter


def load(name: str) -> tuple[torch.nn.Module, object, str]:
    try:
        model, info = zoo.get(name)
        return model, info, "trained"
    except Exception:  # no weights yet: random weights time the same graph
        torch.manual_seed(0)
        model, info = zoo.build(name)
        return model.eval(), info, "random init"


def median_ms(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def time_batch(
    model: torch.nn.Module, backend: OrtBackend, adapter: DeployAdapter, size: int, batch: int, repeats: int
) -> tuple[int, float, float, float, float]:
    """(batch, torch ms, ORT + post ms, speed-up, post-processing share %) for one batch size."""
    frames = np.stack([render_image(5, i, size, "val")[0] for i in range(batch)])
    tensors = [torch.from_numpy(f).permute(2, 0, 1).float() / 255 for f in frames]
    outputs: dict[str, np.ndarray] = {}

    def eager() -> None:
        with torch.no_grad():
            model(tensors)

    def infer() -> None:
        outputs.update(backend.infer({"images": frames}))

    def post() -> None:
        for i in range(batch):
            result = FrameResult(i, size, size)
            adapter.postprocess({k: v[i] for k, v in outputs.items()}, None, result)
            result.full_masks()

    t_torch = median_ms(eager, repeats)
    t_infer = median_ms(infer, repeats)
    t_post = median_ms(post, repeats)
    t_ort = t_infer + t_post
    return batch, t_torch, t_ort, t_torch / t_ort, 100 * t_post / t_ort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mask_rcnn")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batches", default="1,4")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, info, weights = load(args.model)
    deploy = wrap(model, info, "edgeseg")
    with tempfile.TemporaryDirectory() as tmp:
        path = export_deploy(deploy, Path(tmp) / "model.onnx", deploy_metadata(deploy, info, "edgeseg"))
        backend = OrtBackend(path, intra_op_threads=args.threads)
        adapter = DeployAdapter(path)
        size = int(info.input_size)  # type: ignore[attr-defined]
        batches = [int(b) for b in args.batches.split(",")]
        rows = [time_batch(model, backend, adapter, size, b, args.repeats) for b in batches]
    print(
        f"model {args.model} ({weights}), {size}x{size} frames, CPU, {args.threads} threads, "
        f"median of {args.repeats}"
    )
    print("| batch | torch eager ms | ORT + numpy post ms | speed-up | post-processing share |")
    print("|---:|---:|---:|---:|---:|")
    for batch, t_torch, t_ort, ratio, share in rows:
        print(f"| {batch} | {t_torch:.1f} | {t_ort:.1f} | {ratio:.2f}x | {share:.1f} % |")


if __name__ == "__main__":
    main()
