"""Load test: N concurrent `shapes://` streams against one Triton server vs each running ONNX Runtime itself.

Usage: python benchmarks/bench_serve_load.py [--model mask_rcnn] [--frames 16] [--streams 1,2,4,8]
                                             [--restart-streams 4] [--threads 0] [--instances 1]

Each stream is one `Pipeline` (policy `all`, sources at fps=0, so every stream pushes frames as fast as
it is answered: the figures are under saturation, and latency includes queueing). Served: every
stream has its own `triton://` backend (one camera, one gRPC channel) and one server with dynamic
batching runs the model. In-process: every stream opens its own ONNX Runtime session, as a camera
process with its own model would. Rows: aggregate frames/s, end-to-end latency (capture to
delivered) p50/p99, frames lost (expected - delivered: 0 under policy `all`), frames whose results
differ from the in-process run's, and the batch sizes Triton formed (its statistics API, per run).
The restart row kills the server (SIGKILL) once half the frames are through and starts it again on
the same ports. Goals (ratios measured in the same run): served >= 0.8x in-process at 1 stream;
served >= 1.2x in-process at 4 streams. Loopback only; every server is stopped on exit.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.runtime.backends.triton import TritonBackend
from edgeseg.runtime.pipeline import Pipeline
from edgeseg.serve.repository import ServeOptions, model_name, write_repository
from edgeseg.serve.server import Ports, TritonServer, free_port

SINGLE_GOAL, BATCH_GOAL = 0.8, 1.2
FIELDS = ("semantic", "panoptic", "boxes", "scores", "classes", "keypoints")


@dataclass
class Run:
    """One row: every stream's delivered frames, their latencies and results."""

    label: str
    streams: int
    expected: int
    wall_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    results: dict[tuple[int, int], dict[str, np.ndarray]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    batches: dict[int, int] = field(default_factory=dict)
    downtime_s: float | None = None

    @property
    def fps(self) -> float:
        return len(self.results) / self.wall_s if self.wall_s else 0.0

    @property
    def lost(self) -> int:
        return self.expected - len(self.results)


def source(stream: int, frames: int) -> str:
    return f"shapes://?fps=0&size=320x320&seed={100 + stream}&frames={frames}"


def stream_worker(run: Run, stream: int, frames: int, lock: threading.Lock, progress: list[int],
                  **pipeline: Any) -> None:
    """One camera: a pipeline under policy all, its frames' latencies and results recorded."""
    try:
        with Pipeline(source(stream, frames), policy="all", **pipeline) as flow:
            for result in flow:
                delivered = time.monotonic()
                kept = {f: np.array(getattr(result, f)) for f in FIELDS if getattr(result, f) is not None}
                with lock:
                    run.latencies.append(delivered - result.timestamps["capture"])
                    run.results[(stream, result.frame_id)] = kept
                    progress[0] += 1
    except Exception as exc:  # a row reports it; the other streams go on
        with lock:
            run.errors.append(f"stream {stream}: {type(exc).__name__}: {exc}")


def run_streams(run: Run, frames: int, make: Any, during: Any = None) -> Run:
    """Start `run.streams` pipelines together (`make(i)` gives each one's Pipeline arguments)."""
    lock, progress = threading.Lock(), [0]
    threads = [threading.Thread(target=stream_worker, args=(run, i, frames, lock, progress), kwargs=make(i),
                                daemon=True) for i in range(run.streams)]
    start = time.monotonic()
    for t in threads:
        t.start()
    if during is not None:
        during(progress)
    for t in threads:
        t.join()
    run.wall_s = time.monotonic() - start
    return run


def batch_counts(client: Any, model: str, frames: int = 0) -> dict[int, int]:
    """Executions per batch size so far (Triton's statistics API), once it has counted `frames` frames
    (its counters are updated just after the responses go out)."""
    deadline = time.monotonic() + 2.0
    while True:
        stats = client.get_inference_statistics(model, as_json=True)["model_stats"][0]
        if int(stats.get("inference_count", 0)) >= frames or time.monotonic() > deadline:
            return {int(b["batch_size"]): int(b["compute_infer"].get("count", 0))
                    for b in stats.get("batch_stats", [])}
        time.sleep(0.05)


def served(server: TritonServer, model: str, streams: int, frames: int, label: str,
           restart: bool = False) -> Run:
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(server.grpc_url)
    before = batch_counts(client, model)
    done = sum(k * v for k, v in before.items())
    client.close()
    backends = [TritonBackend(f"triton://{server.grpc_url}/{model}", reconnect_s=120) for _ in range(streams)]
    run = Run(label, streams, streams * frames)

    def kill_midway(progress: list[int]) -> None:
        while progress[0] < run.expected // 2 and not run.errors:
            time.sleep(0.02)
        t0 = time.monotonic()
        server.kill()
        server.start()
        run.downtime_s = time.monotonic() - t0

    try:
        run_streams(run, frames, lambda i: {"model": backends[i].adapter(), "backend": backends[i]},
                    kill_midway if restart else None)
    finally:
        for b in backends:
            b.close()
    client = grpcclient.InferenceServerClient(server.grpc_url)
    after = batch_counts(client, model, 0 if restart else done + len(run.results))  # a restart zeroes them
    client.close()
    run.batches = {k: v - (0 if restart else before.get(k, 0)) for k, v in after.items()}
    run.batches = {k: v for k, v in run.batches.items() if v > 0}
    return run


def in_process(model: str, streams: int, frames: int, threads: int) -> Run:
    from edgeseg.runtime.resolve import open_model

    opened = [open_model(model, "ort", threads=threads) for _ in range(streams)]  # one session per camera
    try:
        return run_streams(Run("in-process ORT", streams, streams * frames), frames,
                           lambda i: {"model": opened[i][0], "backend": opened[i][1]})
    finally:
        for _, backend in opened:
            backend.close()


def batching_ceiling(model: str, threads: int, sizes: tuple[int, ...] = (1, 4, 8)) -> dict[int, float]:
    """ms per frame of one in-process session at each batch size, on the streams' own frames: the most
    that batching (Triton's or anyone's) can save on this machine."""
    from edgeseg.runtime.resolve import open_model
    from edgeseg.runtime.sources import open_source

    with open_source(source(0, max(sizes))) as frames:
        images = [f.image for f in frames]
    adapter, backend = open_model(model, "ort", threads=threads)
    try:
        name = adapter.info.input_name
        feed = np.concatenate([adapter.preprocess(image)[0][name] for image in images])
        backend.infer({name: feed[:1]})  # warm
        ms = {}
        for n in sizes:
            start, calls = time.perf_counter(), 0
            while calls < 3 or time.perf_counter() - start < 1.0:
                for i in range(0, max(sizes), n):
                    backend.infer({name: feed[i:i + n]})
                calls += 1
            ms[n] = (time.perf_counter() - start) * 1000 / (calls * max(sizes))
        return ms
    finally:
        backend.close()


def mismatches(run: Run, reference: Run) -> int:
    """Delivered frames whose results differ from the in-process run's (same stream, same frame)."""
    bad = 0
    for key, got in run.results.items():
        want = reference.results.get(key)
        if want is None:
            continue
        same = got.keys() == want.keys() and all(
            got[f].shape == want[f].shape and np.allclose(got[f], want[f], rtol=1e-4, atol=1e-3) for f in got)
        bad += not same
    return bad


def row(run: Run, reference: Run | None) -> str:
    lat = np.asarray(run.latencies) * 1000 if run.latencies else np.array([np.nan])
    p50, p99 = np.percentile(lat, [50, 99])
    batches = " ".join(f"{k}:{v}" for k, v in sorted(run.batches.items())) or "-"
    extra = f"; down {run.downtime_s:.1f} s" if run.downtime_s is not None else ""
    diff = str(mismatches(run, reference)) if reference is not None else "-"
    return (f"| {run.label} | {run.streams} | {run.fps:.1f} | {p50:.0f} | {p99:.0f} | {run.lost} | {diff} | "
            f"{batches}{extra} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mask_rcnn", help="zoo name or .onnx (default mask_rcnn)")
    parser.add_argument("--frames", type=int, default=16, help="frames per stream (default 16)")
    parser.add_argument("--streams", default="1,2,4,8", help="stream counts (default 1,2,4,8)")
    parser.add_argument("--restart-streams", type=int, default=4,
                        help="streams in the kill-and-restart run (0: skip it; default 4)")
    parser.add_argument("--threads", type=int, default=0,
                        help="ONNX Runtime threads per session, server and in-process alike (0: all cores)")
    parser.add_argument("--instances", type=int, default=1,
                        help="server model instances, one process each (default 1)")
    parser.add_argument("--max-batch", type=int, default=8,
                        help="Triton's largest dynamic batch (default 8)")
    parser.add_argument("--max-queue-delay-us", type=int, default=2000,
                        help="dynamic batcher delay (default 2000)")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a goal is missed or a frame is lost")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.streams.split(",")]
    if args.frames < 2 or any(n < 1 for n in counts):
        parser.error("--frames must be >= 2 and every stream count >= 1")
    name = model_name(args.model)
    options = ServeOptions(max_batch=args.max_batch, max_queue_delay_us=args.max_queue_delay_us,
                           instances=args.instances, threads=args.threads)
    lines = ["| mode | streams | frames/s | p50 ms | p99 ms | lost | differ | batches (size:executions) |",
             "|---|---|---|---|---|---|---|---|"]
    ratios: dict[int, float] = {}
    problems: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as work:
        repo = Path(work) / "models"
        write_repository([args.model], repo, options)
        ports = Ports(http=free_port(), grpc=free_port(), metrics=free_port())
        log = Path(work) / "server.log"
        with TritonServer(repo, ports=ports, startup_timeout_s=120, log_path=log) as server:
            served(server, name, 1, 2, "warm-up")  # first calls load lazily; not reported
            for n in counts:
                local = in_process(args.model, n, args.frames, args.threads)
                remote = served(server, name, n, args.frames, "served (Triton)")
                lines += [row(local, None), row(remote, local)]
                ratios[n] = remote.fps / local.fps if local.fps else float("nan")
                problems += local.errors + remote.errors
                print(lines[-2], lines[-1], sep="\n", flush=True)
            if args.restart_streams:
                n = args.restart_streams
                local = in_process(args.model, n, args.frames, args.threads)
                remote = served(server, name, n, args.frames, "served, killed + restarted", restart=True)
                lines.append(row(remote, local))
                problems += remote.errors
                if remote.lost:
                    problems.append(f"{remote.lost} frames lost across the restart")
                print(lines[-1], flush=True)
    print(f"\nmodel {name}, {args.frames} frames per stream, 320x320, ORT threads {args.threads or 'all'}, "
          f"server instances {args.instances}, max batch {args.max_batch}, "
          f"delay {args.max_queue_delay_us} us; "
          f"{time.monotonic() - started:.0f} s\n")
    print("\n".join(lines))
    goals = []
    if 1 in ratios:
        goals.append(("served / in-process at 1 stream", ratios[1], SINGLE_GOAL))
    if 4 in ratios:
        goals.append(("served / in-process aggregate at 4 streams", ratios[4], BATCH_GOAL))
    ceiling = batching_ceiling(args.model, args.threads)
    print("\nin-process ms per frame by batch size (the most batching can save here): "
          + ", ".join(f"batch {n}: {ms:.1f}" for n, ms in ceiling.items())
          + f"; batch 4 vs 1: {ceiling[1] / ceiling[4]:.2f}x\n")
    for text, value, goal in goals:
        print(f"{text}: {value:.2f}x (goal >= {goal}x): {'met' if value >= goal else 'MISSED'}")
    for p in problems:
        print(f"problem: {p}")
    missed = any(value < goal for _, value, goal in goals) or bool(problems)
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
