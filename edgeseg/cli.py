"""`edgeseg <verb>`: one console script, one module per verb.

Each verb module exposes `register(subparsers)` that adds its parser and sets `func(args) -> int`.
Verb modules are imported only for the verb being run, so `edgeseg run` never pays for torch.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from edgeseg import __version__
from edgeseg.errors import EdgesegError

# verb -> (module that registers it, one-line help). Order is the order of the help text.
VERBS: dict[str, tuple[str, str]] = {
    "data": ("edgeseg.data.command", "generate ShapesWorld datasets and video clips"),
    "train": ("edgeseg.models.command", "train a zoo model on a ShapesWorld/COCO-layout dataset"),
    "eval": ("edgeseg.eval.command", "evaluate predictions: box/mask/keypoint AP, mIoU, PQ"),
    "export": ("edgeseg.export.command", "export a model to a static deploy ONNX graph with edgeseg ops"),
    "patch": ("edgeseg.surgery.command", "graph surgery: plugin nodes, foreign patterns, folding"),
    "inspect": ("edgeseg.surgery.inspect_verb", "an ONNX model's I/O, ops, plugin nodes and TensorRT lint"),
    "calibrate": ("edgeseg.calibration.command", "INT8: TensorRT Q/DQ graph, CPU INT8 graph, calib cache"),
    "build": ("edgeseg.engine.command", "build a TensorRT engine (+ sidecar) from a zoo model or ONNX"),
    "run": ("edgeseg.runtime.command", "run a model on a video, camera or stream into mp4/jsonl/display"),
    "serve": ("edgeseg.serve.command", "serve models on Triton Inference Server for `run --backend triton://`"),
    "doctor": ("edgeseg.doctor", "check GPU, CUDA, TensorRT, plugins and engines on this machine"),
}

# The optional packages a verb may need, as (pip name, extra that installs it; setup.py's EXTRAS).
# A verb run without one gets this one line instead of a ModuleNotFoundError traceback.
OPTIONAL_MODULES: dict[str, tuple[str, str]] = {
    "torch": ("torch", "train"),
    "torchvision": ("torchvision", "train"),
    "onnxscript": ("onnxscript", "train"),
    "onnx": ("onnx", "ort"),
    "onnx_graphsurgeon": ("onnx-graphsurgeon", "deploy"),
    "onnxruntime": ("onnxruntime", "ort"),
    "onnxruntime_extensions": ("onnxruntime-extensions", "ort"),
    "tritonclient": ("tritonclient", "triton"),
    "pytriton": ("nvidia-pytriton", "serve"),
}
# The extra a verb's own packages come from, where it differs from the package's usual one.
VERB_EXTRAS: dict[str, str] = {"export": "train", "train": "train", "patch": "deploy", "inspect": "deploy"}


def missing_extra_message(verb: str | None, err: ModuleNotFoundError) -> str | None:
    """The one-line 'install this extra' message for a missing optional package, or None for a bug."""
    top = (err.name or "").split(".")[0]
    if top not in OPTIONAL_MODULES:
        return None
    package, extra = OPTIONAL_MODULES[top]
    extra = VERB_EXTRAS.get(verb or "", extra)
    return (f"{package} is not installed and `edgeseg {verb}` needs it: install it with "
            f"`pip install 'edgeseg[{extra}]'`")


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser. Only the module of `verb` is imported; the others appear in the help only."""
    parser = argparse.ArgumentParser(
        prog="edgeseg",
        description="edgeseg: detection and segmentation from PyTorch to real-time video on NVIDIA GPUs.",
        epilog="Run `edgeseg VERB --help` for a verb's options and an example.",
    )
    parser.add_argument("--version", action="version", version=f"edgeseg {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB")
    for name, (module_name, help_text) in VERBS.items():
        if verb == name:
            importlib.import_module(module_name).register(subparsers)
        else:
            subparsers.add_parser(name, help=help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    verb = next((a for a in args_list if a in VERBS), None)
    try:
        parser = build_parser(verb)
    except ModuleNotFoundError as err:  # a verb whose options come from an optional package
        message = missing_extra_message(verb, err)
        if message is None:
            raise
        print(f"edgeseg {verb}: error: {message}", file=sys.stderr)
        return 2
    args = parser.parse_args(args_list)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except EdgesegError as err:
        print(f"edgeseg {args.verb}: error: {err}", file=sys.stderr)
        return err.exit_code
    except ModuleNotFoundError as err:
        message = missing_extra_message(args.verb, err)
        if message is None:
            raise
        print(f"edgeseg {args.verb}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"edgeseg {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
