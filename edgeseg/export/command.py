"""`edgeseg export`: a zoo model or torchvision checkpoint -> deploy ONNX graph (or the whole zoo)."""
from __future__ import annotations

import argparse
from pathlib import Path

from edgeseg.errors import EdgesegError
from edgeseg.models.torchvision_archs import ARCH_NAMES
from edgeseg.outputs import check_output_file

# Opsets the export supports, spelled here so the CLI can refuse a bad --opset before importing
# torch. 16: RoiAlign with half-pixel coordinates (--ops onnx). 20: the highest opset torch's
# TorchScript exporter (`dynamo=False`, which our op symbolics need) supports; above it torch only
# warns and writes a graph it does not vouch for.
MIN_OPSET = 16
MAX_OPSET = 20
DEFAULT_OPSET = 17


def check_opset(opset: int) -> None:
    """Refuse an opset outside MIN_OPSET..MAX_OPSET with one line naming the range."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise EdgesegError(f"--opset {opset} is not supported: use {MIN_OPSET} to {MAX_OPSET} "
                           f"(default {DEFAULT_OPSET}; {MAX_OPSET} is the newest torch's exporter writes)")

EXAMPLE = """examples:
  edgeseg export mask_rcnn -o mask_rcnn.onnx
  edgeseg export maskrcnn_resnet50_fpn.pth -o maskrcnn.onnx --input-size 480x640 --batch 1
  edgeseg export faster_rcnn -o faster_onnxops.onnx --ops onnx
  edgeseg export my_maskrcnn.pth -o maskrcnn.onnx --labels labels.yaml   # your class names
  edgeseg export my_deeplab.pth -o deeplab.onnx --input-size 480x640   # semantic; 21 classes: VOC labels
  edgeseg export detector.pth -o det.onnx --arch fasterrcnn_mobilenet_v3_large_320_fpn
  edgeseg export --zoo            # every zoo model -> edgeseg/zoo/<name>.onnx + onnx.json (sha256)
"""


def _hw(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH like 480x640, got {text!r}") from None
    if h < 32 or w < 32:
        raise argparse.ArgumentTypeError(f"input size {text} is too small: use at least 32x32")
    return h, w


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("export", help="export a model to a deploy ONNX graph", epilog=EXAMPLE,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", nargs="?", help="zoo model name or torchvision state-dict file (R-CNNs, FCN, "
                                            "DeepLabV3, LR-ASPP; see docs/export.md)")
    p.add_argument("-o", "--output", help="ONNX file to write")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                   help=f"ONNX opset, {MIN_OPSET} to {MAX_OPSET} (default {DEFAULT_OPSET})")
    p.add_argument("--batch", choices=["1", "dynamic"], default="dynamic", help="fixed batch 1 or dynamic")
    p.add_argument("--ops", choices=["edgeseg", "onnx"], default="edgeseg",
                   help="edgeseg: custom RoIAlign/NMS nodes (TensorRT plugins); onnx: standard ops only")
    p.add_argument("--input-size", type=_hw, default=None, metavar="HxW",
                   help="camera frame size the graph takes (default: the model's square input size)")
    p.add_argument("--weights", help="weights file overriding the zoo entry's (e.g. your training run)")
    p.add_argument("--random-init", action="store_true", help="untrained weights (dry runs and tests)")
    p.add_argument("--labels", metavar="FILE",
                   help="label set written into the graph (YAML or JSON: names, ids, thing/stuff, colours, "
                        "keypoints, skeleton; or shapesworld, coco, coco_panoptic); default: the zoo's, "
                        "COCO for a 91-class torchvision checkpoint, else ids")
    p.add_argument("--arch", choices=ARCH_NAMES, metavar="NAME",
                   help="torchvision builder of a state-dict file, where its tensors cannot tell (the two "
                        "MobileNetV3 FPN detectors share all tensors); checked against the tensors")
    p.add_argument("--zoo", action="store_true", help="export every zoo model into the zoo folder")
    from edgeseg.serve.export import add_triton_arguments  # --format triton: edgeseg.serve owns it

    add_triton_arguments(p)
    p.set_defaults(func=run)


def _check_paths(args: argparse.Namespace) -> None:
    """A model and a writable -o that is not the model: refused in the first second, not after export."""
    if not args.model or not args.output:
        raise EdgesegError("give a model and an output file: `edgeseg export NAME -o model.onnx` (or --zoo)")
    if Path(args.output).resolve() == Path(args.model).resolve():
        raise EdgesegError(f"-o {args.output} is the model file itself: give a different output path")
    check_output_file(args.output, "-o")


def _is_checkpoint(args: argparse.Namespace) -> bool:
    """A torchvision state-dict file (as zoo.get decides), or anything given with --arch."""
    from edgeseg.models.zoo import load_index

    if args.arch:
        return True
    model = Path(args.model)
    return args.model not in load_index() and (model.suffix in (".pt", ".pth") or model.is_file())


def run(args: argparse.Namespace) -> int:
    if getattr(args, "format", "onnx") == "triton":  # a Triton model repository: edgeseg.serve, no torch
        from edgeseg.serve.export import run_triton

        return run_triton(args)
    check_opset(args.opset)  # argument checks first: no torch import, no model load before them
    labels = None
    if getattr(args, "labels", None):
        from edgeseg.labels import load_labels

        labels = load_labels(args.labels)  # a bad label file is refused before the model loads
    if not args.zoo:
        _check_paths(args)
    import torch  # noqa: F401 - the [train] extra; missing, the CLI names it in one line

    if args.zoo:
        from edgeseg.export.zoo_export import export_zoo

        index = export_zoo(opset=args.opset, random_init=args.random_init)
        for name, entry in sorted(index["models"].items()):
            print(f"{name}: {entry['file']} {entry['bytes'] / 2**20:.1f} MiB sha256 {entry['sha256'][:12]}")
        for name, why in sorted(index["skipped"].items()):
            print(f"{name}: skipped ({why})")
        return 0
    if _is_checkpoint(args):
        from edgeseg.export.tv_export import export_checkpoint

        path = export_checkpoint(args.model, args.output, args.arch, opset=args.opset, batch=args.batch,
                                 ops=args.ops, frame_hw=args.input_size, labels=labels)
        print(f"wrote {path}")
        return 0
    from edgeseg.export.onnx_export import export

    path = export(args.model, args.output, opset=args.opset, batch=args.batch, ops=args.ops,
                  frame_hw=args.input_size, weights=args.weights, random_init=args.random_init,
                  labels=labels)
    print(f"wrote {path}")
    return 0
