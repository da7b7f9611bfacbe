"""A Triton server on free loopback ports over the zoo's fcn_nearest (320x320) and mask_rcnn.

One server per module keeps the default run short (start about 2 s, stop about 3 s on 2 cores);
tests that restart or stop a server start their own. Without the bundled tritonserver
(nvidia-pytriton) or tritonclient, the server tests skip; the rest still run.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

MODEL = "fcn_nearest"
DETECTOR = "mask_rcnn"  # fixed-size detections plus a per-frame num_dets (a reshaped Triton output)


def require_server() -> None:
    for module, package in (("pytriton", "nvidia-pytriton"), ("tritonclient", "tritonclient[grpc]")):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{package} is not installed (the serve extra)")


def loopback_ports():  # type: ignore[no-untyped-def]
    from edgeseg.serve.server import Ports, free_port

    return Ports(http=free_port(), grpc=free_port(), metrics=free_port())


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_server()
    from edgeseg.serve.repository import ServeOptions, write_repository

    root = tmp_path_factory.mktemp("triton") / "models"
    write_repository([MODEL, DETECTOR], root, ServeOptions(max_batch=4, max_queue_delay_us=2000, threads=1))
    return root


@pytest.fixture(scope="module")
def server(repository: Path) -> Iterator[object]:
    from edgeseg.serve.server import TritonServer

    with TritonServer(repository, ports=loopback_ports(), startup_timeout_s=60,
                      log_path=repository.parent / "server.log") as running:
        yield running
