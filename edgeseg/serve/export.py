"""`edgeseg export MODEL --format triton -o DIR`: a standard Triton model repository, for any tritonserver.

An `.engine` becomes a `tensorrt_plan` model (GPU servers; edgeseg.serve.plan), a zoo name or `.onnx`
becomes the Python-backend model over ONNX Runtime (CPU servers; edgeseg.serve.repository). Run
once per model into the same DIR to build a repository of several. The export verb owns its parser;
the Triton options live here so the ONNX export code stays free of serving concerns.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from edgeseg.errors import EdgesegError
from edgeseg.serve.repository import ServeOptions, write_repository

FORMATS = ("onnx", "triton")


def add_triton_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=FORMATS, default="onnx",
                   help="onnx: a deploy graph (default); triton: a Triton model repository in -o DIR "
                        "from a zoo name, .onnx (CPU: Python backend) or .engine (GPU: tensorrt_plan)")
    group = p.add_argument_group("--format triton")
    group.add_argument("--onnx", metavar="GRAPH", type=Path,
                       help="for an .engine: the ONNX file it was built from (tensor names, dims, metadata)")
    group.add_argument("--plugins", metavar="LIB", type=Path,
                       help="for an .engine with plugin nodes: libedgeseg_trt_plugins_static.so, copied "
                            "into DIR")
    group.add_argument("--max-batch", type=int, default=ServeOptions.max_batch, metavar="N",
                       help=f"largest batch Triton forms (default {ServeOptions.max_batch}; an engine: "
                            "at most its profile's)")
    group.add_argument("--max-queue-delay-us", type=int, default=ServeOptions.max_queue_delay_us,
                       metavar="US",
                       help=f"dynamic batcher delay (default {ServeOptions.max_queue_delay_us})")
    group.add_argument("--instances", type=int, default=ServeOptions.instances, metavar="N",
                       help="model instances (default 1)")
    group.add_argument("--threads", type=int, default=0, metavar="N",
                       help="CPU model: ONNX Runtime threads per instance (default 0: all cores)")


def run_triton(args: argparse.Namespace) -> int:
    if not args.model or not args.output:
        raise EdgesegError("give a model and a repository folder: "
                           "`edgeseg export MODEL --format triton -o DIR`")
    root = Path(args.output)
    if root.exists() and not root.is_dir():
        raise EdgesegError(f"-o {root} is a file: --format triton writes a model repository folder")
    engine = str(args.model).endswith(".engine")
    options = ServeOptions(max_batch=args.max_batch, max_queue_delay_us=args.max_queue_delay_us,
                           instances=args.instances, backend="ort", threads=args.threads).check()
    if engine:
        from edgeseg.serve.plan import write_plan_model

        if args.onnx is None:
            raise EdgesegError("an .engine needs --onnx GRAPH: the ONNX file given to `edgeseg build`")
        name = write_plan_model(args.model, args.onnx, root, options, args.plugins)
        plugins = f" --backend-config=tensorrt,plugins={root}/{args.plugins.name}" if args.plugins else ""
        print(f"wrote {root}/{name} (tensorrt_plan, KIND_GPU)\n"
              f"serve it: tritonserver --model-repository={root}{plugins}")
        return 0
    if args.onnx is not None or args.plugins is not None:
        raise EdgesegError("--onnx and --plugins are for an .engine; a zoo name or .onnx runs on "
                           "ONNX Runtime")
    names = write_repository([args.model], root, options)
    print(f"wrote {root}/{names[0]} (python backend over ONNX Runtime, KIND_CPU)\n"
          f"serve it: tritonserver --model-repository={root} (its Python backend must import edgeseg and "
          "onnxruntime)")
    return 0
