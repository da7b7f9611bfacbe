"""`edgeseg serve MODEL [MODEL...]`: the models on a Triton Inference Server until Ctrl-C.

Each model (zoo name, .onnx on ONNX Runtime, .engine on TensorRT) becomes a Triton model taking
uint8 NHWC frames and returning the deploy graph's outputs, with dynamic batching and N instances.
`--write-repository DIR` only writes the model repository (to serve with any tritonserver whose
Python has edgeseg installed). Clients: `edgeseg run --backend triton://HOST:GRPC_PORT/MODEL`.
"""
from __future__ import annotations

import argparse
import signal
import tempfile
import threading
from pathlib import Path
from types import FrameType

from edgeseg.runtime import resolve
from edgeseg.serve.repository import ServeOptions, write_repository
from edgeseg.serve.server import Ports, TritonServer

EXAMPLE = """examples:
  edgeseg serve fcn_nearest mask_rcnn --grpc-port 8001 --max-batch 8 --max-queue-delay-us 2000
  edgeseg run --backend triton://127.0.0.1:8001/fcn_nearest --source shapes:// --sink results.jsonl
  edgeseg serve mask_rcnn --write-repository model_repository   # write only; serve it elsewhere
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="serve models on Triton Inference Server (HTTP, gRPC, metrics)",
                              description="Serve models on the Triton Inference Server that nvidia-pytriton "
                                          "ships, with dynamic batching; stops on Ctrl-C.",
                              epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="zoo model names, exported .onnx or .engine files")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0: all)")
    p.add_argument("--http-port", type=int, default=Ports.http, help=f"default {Ports.http}")
    p.add_argument("--grpc-port", type=int, default=Ports.grpc, help=f"default {Ports.grpc}")
    p.add_argument("--metrics-port", type=int, default=Ports.metrics, help=f"default {Ports.metrics}")
    p.add_argument("--max-batch", type=int, default=ServeOptions.max_batch, metavar="N",
                   help=f"largest batch the dynamic batcher forms (default {ServeOptions.max_batch})")
    p.add_argument("--max-queue-delay-us", type=int, default=ServeOptions.max_queue_delay_us, metavar="US",
                   help="how long a request may wait for others to batch with "
                        f"(default {ServeOptions.max_queue_delay_us})")
    p.add_argument("--instances", type=int, default=1, metavar="N", help="model instances (processes) each")
    p.add_argument("--backend", choices=list(resolve.BACKENDS), default="auto",
                   help="ort or trt; default auto: trt for .engine, else ort")
    p.add_argument("--threads", type=int, default=0, metavar="N",
                   help="ONNX Runtime threads per operator in each instance (default 0: all cores)")
    p.add_argument("--write-repository", metavar="DIR", type=Path,
                   help="write the Triton model repository to DIR and exit (no server)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options = ServeOptions(max_batch=args.max_batch, max_queue_delay_us=args.max_queue_delay_us,
                           instances=args.instances, backend=args.backend, threads=args.threads).check()
    if args.write_repository is not None:
        names = write_repository(args.models, args.write_repository, options)
        print(f"wrote {args.write_repository}: {', '.join(names)}")
        return 0
    ports = Ports(http=args.http_port, grpc=args.grpc_port, metrics=args.metrics_port)
    with tempfile.TemporaryDirectory(prefix="edgeseg-serve-") as work:
        names = write_repository(args.models, Path(work) / "models", options)
        stop = threading.Event()

        def _stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            with TritonServer(Path(work) / "models", host=args.host, ports=ports) as server:
                for name in names:
                    print(f"serving {name}: triton://{server.grpc_url}/{name}")
                print(f"HTTP {args.host}:{ports.http} (health: /v2/health/ready), metrics "
                      f"{args.host}:{ports.metrics}/metrics; Ctrl-C stops", flush=True)
                while not stop.wait(0.5):
                    if server.process is None or server.process.poll() is not None:
                        print(f"edgeseg serve: tritonserver exited: {server.first_error()}")
                        return 1
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return 0
