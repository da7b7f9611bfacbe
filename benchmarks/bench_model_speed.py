"""Per-image CPU time of zoo models in torch eager, same images, interleaved, as ratios to a baseline.

Source of docs/models.md's speed comparisons:

- `--group rcnn`: the R-CNN baseline (crop, warp, classify each of 100 RPN proposals) and the RoI
  Pool detector against `faster_rcnn` (box head only), all with the committed weights;
- `--group fcn`: the six upsampling kinds, each built at the same three-stage width (16, 32, 64),
  so the decoder, not the depth, is what differs; ratios are against bilinear. Weights are random
  (time does not depend on them); the shipped five-stage `fcn_bilinear` is timed as an extra row.

Images are ShapesWorld val (seed 2, 320x320), rendered in memory. Each model sees every image once
per round, models in turn, so machine load hits them alike; the figure is the median over images.

    python benchmarks/bench_model_speed.py --group rcnn [--images 20 --threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from torch import nn
from weights_info import model_weights

from edgeseg.data.shapes import render_image
from edgeseg.models import zoo
from edgeseg.models.fcn import build_fcn

FCN_KINDS = ["bilinear", "nearest", "bed_of_nails", "bicubic", "max_unpool", "transposed"]


def rcnn_models() -> dict[str, nn.Module]:
    models = {}
    for name in ("faster_rcnn", "faster_rcnn_roipool", "rcnn_baseline"):
        models[name], info = zoo.get(name)
        print(model_weights(name, info))
    return models


def fcn_models() -> dict[str, nn.Module]:
    """Every kind at the three-stage widths of the comparison runs, plus the shipped five-stage net."""
    torch.manual_seed(0)
    base = dict(zoo.load_index()["fcn_nearest"]["config"])
    models: dict[str, nn.Module] = {}
    for kind in FCN_KINDS:
        models[f"{kind} (3 stages)"] = build_fcn({**base, "upsample": kind}).eval()
    models["fcn_bilinear shipped (5 stages)"], info = zoo.get("fcn_bilinear")
    print("the six 3-stage kinds: RANDOM INIT weights (seed 0), timed only;",
          model_weights("fcn_bilinear", info))
    return models


def run(model: nn.Module, image: torch.Tensor, fcn: bool) -> None:
    if fcn:
        model(image[None])[0].argmax(0)
    else:
        model([image])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", choices=["rcnn", "fcn"], required=True)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    fcn = args.group == "fcn"
    models = fcn_models() if fcn else rcnn_models()
    images = [torch.from_numpy(render_image(2, i, 320, "val")[0].copy()).permute(2, 0, 1).float() / 255
              for i in range(args.images)]
    times: dict[str, list[float]] = {name: [] for name in models}
    with torch.inference_mode():
        for model in models.values():
            run(model, images[0], fcn)  # warm-up
        for image in images:
            for name, model in models.items():
                start = time.perf_counter()
                run(model, image, fcn)
                times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(t) for name, t in times.items()}
    baseline = next(iter(medians))
    print(f"{args.group}: {args.images} ShapesWorld val images (320x320), {args.threads} thread(s), "
          f"median s/image, ratio = time / {baseline}'s time (torch {torch.__version__})")
    print(f"{'model':<34} {'s/image':>8} {'ratio':>7}")
    for name, median in medians.items():
        print(f"{name:<34} {median:>8.3f} {median / medians[baseline]:>6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
