"""The lecture's upsampling comparison on equal terms: six FCNs that differ only in how they upsample.

Same encoder (five stages, widths 16-32-64-96-128, stride 32), same seed (initialisation, image
order, crops), same steps, learning rate, batch and crop size, same training images; then mIoU on the
same val images and the CPU time per image, interleaved per image so load hits every kind alike.
The zoo's own FCN weights are not comparable with each other (docs/models.md says why); this is.

    edgeseg data shapes --out data/train --split train --images 1000 --seed 1
    edgeseg data shapes --out data/val --split val --images 200 --seed 2
    python benchmarks/fcn_upsampling_fair.py --train data/train --val data/val --steps 400

Writes a markdown table (stdout) and OUT/fair.json. Heavy: about steps x 1 s per kind on one core.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from edgeseg.models.evaluate import predict, score
from edgeseg.models.fcn import build_fcn
from edgeseg.models.train import TrainOptions, train

KINDS = ("nearest", "bed_of_nails", "bilinear", "bicubic", "max_unpool", "transposed")
WIDTHS = [16, 32, 64, 96, 128]


def model_of(kind: str, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)  # the same initial encoder weights for every kind
    return build_fcn({"upsample": kind, "widths": WIDTHS, "num_classes": 10, "image_size": 320})


def train_kind(kind: str, args: argparse.Namespace) -> torch.nn.Module:
    """The kind's net trained in place (its weights also saved under OUT/kind)."""
    model = model_of(kind, args.seed)
    opts = TrainOptions(data=args.train, out=args.out / kind, epochs=100, batch_size=args.batch, lr=args.lr,
                        seed=args.seed, max_steps=args.steps, images=args.images, crop=224,
                        progress=not args.no_progress)
    train(model, "fcn", opts)
    return model.eval()


def seconds_per_image(models: dict[str, torch.nn.Module], frames: int = 20) -> dict[str, float]:
    """Median forward time of each model on the same 320x320 frames, kinds interleaved per frame."""
    times: dict[str, list[float]] = {k: [] for k in models}
    image = torch.rand(1, 3, 320, 320)
    with torch.no_grad():
        for _ in range(frames):
            for kind, model in models.items():
                start = time.perf_counter()
                model(image)
                times[kind].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--val", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("runs/fcn_fair"))
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--lr", type=float, default=0.004)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--images", type=int, default=None, help="first N training images")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results: dict[str, dict[str, float]] = {}
    models = {}
    for kind in args.kinds:
        start = time.perf_counter()
        model = train_kind(kind, args)
        train_s = time.perf_counter() - start
        pred = args.out / kind / "pred"
        predict(model, "fcn", ["semantic"], args.val, "val", pred, progress=not args.no_progress)
        miou = score(args.val, "val", pred, ["semantic"])["semantic"]["mIoU"]
        results[kind] = {"mIoU": round(float(miou), 4), "train_s": round(train_s, 1)}
        models[kind] = model
    for kind, seconds in seconds_per_image(models).items():
        results[kind]["s_per_image"] = round(seconds, 4)
    base = results.get("bilinear", {}).get("s_per_image")
    print("| upsampling | mIoU (val) | s/image | time vs bilinear | train s |")
    print("|---|---|---|---|---|")
    for kind, row in results.items():
        ratio = f"{row['s_per_image'] / base:.2f}x" if base else "-"
        print(f"| {kind} | {row['mIoU']:.3f} | {row['s_per_image']:.3f} | {ratio} | {row['train_s']:.0f} |")
    settings = {k: str(v) for k, v in vars(args).items()}
    doc = {"settings": settings, "results": results}
    (args.out / "fair.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
