"""A client rides out a server restart: policy all loses no frame (even when the server is killed), policy
live counts its drops."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.serve.conftest import MODEL, loopback_ports

FRAMES = 30


def _restart_after(server: Any, started: threading.Event, restarted: threading.Event,
                   errors: list[BaseException], crash: bool) -> None:
    """Stop (or kill) the server once frames flow, and start it again on the same ports."""
    started.wait(60)
    try:
        server.kill() if crash else server.stop()
        server.start()
    except BaseException as err:  # raised in the test thread below
        errors.append(err)
    restarted.set()


def _stream(repository: Path, policy: str, fps: int, crash: bool = False) -> tuple[list[Any], Any, Any]:
    from edgeseg.runtime.backends.triton import TritonBackend
    from edgeseg.runtime.pipeline import Pipeline
    from edgeseg.serve.server import TritonServer

    server = TritonServer(repository, ports=loopback_ports(), startup_timeout_s=60,
                          log_path=repository.parent / f"restart-{policy}.log").start()
    started, restarted, errors = threading.Event(), threading.Event(), []
    thread = threading.Thread(target=_restart_after, args=(server, started, restarted, errors, crash),
                              daemon=True)
    thread.start()
    backend = TritonBackend(f"triton://{server.grpc_url}/{MODEL}", reconnect_s=60)
    results = []
    try:
        pipeline = Pipeline(f"shapes://?fps={fps}&size=320x320&seed=5&frames={FRAMES}",
                            model=backend.adapter(), backend=backend, policy=policy)
        for result in pipeline:
            results.append(result)
            if len(results) == 3:
                started.set()
        thread.join(90)
        assert not errors, errors
        assert restarted.is_set()
        return results, pipeline.stats, backend
    finally:
        started.set()
        thread.join(90)
        backend.close()
        server.stop()


@pytest.mark.slow
def test_policy_all_loses_no_frame_when_the_server_is_killed_and_restarted(repository: Path) -> None:
    from edgeseg.runtime.pipeline import Pipeline

    results, stats, backend = _stream(repository, "all", fps=15, crash=True)  # SIGKILL: in-flight calls die
    assert backend.reconnects >= 1  # the restart really happened under a call
    assert [r.frame_id for r in results] == list(range(FRAMES)) and stats.dropped == 0
    with Pipeline(f"shapes://?fps=0&size=320x320&seed=5&frames={FRAMES}", model=MODEL, backend="ort",
                  policy="all") as local:
        for got, want in zip(results, local, strict=True):
            np.testing.assert_array_equal(got.semantic, want.semantic)


@pytest.mark.slow
def test_policy_live_counts_the_frames_it_drops_while_the_server_is_away(repository: Path) -> None:
    results, stats, backend = _stream(repository, "live", fps=30)
    assert backend.reconnects >= 1
    assert stats.dropped > 0 and stats.frames_in == len(results) + stats.dropped == FRAMES
