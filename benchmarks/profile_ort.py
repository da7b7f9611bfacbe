"""Where an ONNX graph spends its time on ONNX Runtime's CPU provider: per op type, custom ops split.

ORT's own per-node profile (`SessionOptions.enable_profiling`) gives each node's time; our custom
ops run through onnxruntime-extensions' Python callback, so a timing hook splits their node time
into the kernel call (`edgeseg._C` via `edgeseg.ops.cpu`), the hook around it (attribute JSON,
output copies) and the rest (the extensions' C++ side: input/output conversion, GIL).
Torch-free; source of the profile table in docs/export.md.

    python benchmarks/profile_ort.py [--graph edgeseg/zoo/mask_rcnn.onnx] [--batches 1,4]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.data.shapes import render_image
from edgeseg.hashing import sha256_file
from edgeseg.ops import ort_ops
from edgeseg.runtime.backends.ort import session_options
from edgeseg.runtime.onnx_file import load_onnx

ZOO_GRAPH = Path(__file__).resolve().parents[1] / "edgeseg" / "zoo" / "mask_rcnn.onnx"


class HookTimer:
    """Wraps the extensions' invocation hook: seconds in the op body and in the whole hook, per op."""

    def __init__(self) -> None:
        self.body: dict[str, float] = defaultdict(float)
        self.hook: dict[str, float] = defaultdict(float)

    def __call__(self, op_id: int, feed: list[np.ndarray], attributes: dict[str, str]
                 ) -> tuple[Any, ...]:
        opdef = ort_ops._extensions().Opdef._odlist[op_id]
        start = time.perf_counter()
        inner = opdef.body
        t_body = 0.0

        def timed(*args: Any, **kwargs: Any) -> Any:
            nonlocal t_body
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                t_body = time.perf_counter() - t0

        opdef.body = timed
        try:
            return ort_ops._array_hook(op_id, feed, attributes)
        finally:
            opdef.body = inner
            op = opdef.op_type.split("::")[-1].split("__")[0]
            self.body[op] += t_body
            self.hook[op] += time.perf_counter() - start

    def reset(self) -> None:
        self.body.clear()
        self.hook.clear()


def profile(graph: Path, batch: int, threads: int, runs: int, timer: HookTimer
            ) -> list[tuple[str, float, int]]:
    """(op type, ms per run, node count) sorted by time, custom ops split into three rows."""
    import onnxruntime as ort

    proto = load_onnx(graph)
    prepared, used = ort_ops.prepare_model(proto)
    with tempfile.TemporaryDirectory() as tmp:
        options = session_options(threads)
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(tmp, "prof")
        if used:
            for names in ort_ops.default_names():
                ort_ops.register(names)
            options.register_custom_ops_library(ort_ops.library_path())
            ort_ops._extensions().PyCustomOpDef.install_hooker(timer)
        session = ort.InferenceSession(prepared.SerializeToString(), options,
                                       providers=["CPUExecutionProvider"])
        size = session.get_inputs()[0].shape[1]
        frames = np.stack([render_image(5, i, size, "val")[0] for i in range(batch)])
        session.run(None, {"images": frames})  # warm-up, dropped below
        timer.reset()
        start_us = time.perf_counter()
        for _ in range(runs):
            session.run(None, {"images": frames})
        wall_ms = 1000 * (time.perf_counter() - start_us) / runs
        events = json.loads(Path(session.end_profiling()).read_text())
    if used:
        ort_ops._extensions().PyCustomOpDef.install_hooker(ort_ops._array_hook)
    runs_seen = [e for e in events if e.get("name") == "model_run"]
    skip_until = runs_seen[0]["ts"] + runs_seen[0]["dur"] if runs_seen else 0
    per_op: dict[str, float] = defaultdict(float)
    count: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= skip_until:
            op = e["args"]["op_name"].split("__")[0]
            per_op[op] += e["dur"] / 1000 / runs
            count[op].add(e["name"])
    rows = []
    for op, ms in per_op.items():
        if op in timer.hook:
            body, hook = timer.body[op] * 1000 / runs, timer.hook[op] * 1000 / runs
            rows += [(f"{op}: kernel (edgeseg._C + checks)", body, len(count[op])),
                     (f"{op}: Python hook (JSON attrs, output copies)", hook - body, len(count[op])),
                     (f"{op}: extensions C++ side (input/output conversion)", ms - hook, len(count[op]))]
        else:
            rows.append((op, ms, len(count[op])))
    rows.sort(key=lambda r: -r[1])
    rows.append(("(whole run, wall clock)", wall_ms, 0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", type=Path, default=ZOO_GRAPH)
    parser.add_argument("--batches", default="1,4")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    meta = {p.key: p.value for p in load_onnx(args.graph).metadata_props}
    weights = meta.get("edgeseg.weights_sha256", "")
    print(f"graph {args.graph.name} sha256 {sha256_file(args.graph)[:12]}; weights "
          f"{'sha256 ' + weights[:12] + ' (trained)' if weights else '(random init: no weights sha256)'}; "
          f"ops {meta.get('edgeseg.ops', '?')}; CPU, {args.threads} threads, mean of {args.runs} runs")
    timer = HookTimer()
    for batch in (int(b) for b in args.batches.split(",")):
        rows = profile(args.graph, batch, args.threads, args.runs, timer)
        total = rows[-1][1]
        print(f"\nbatch {batch}: {total:.1f} ms per run")
        print("| op type | nodes | ms per run | share |")
        print("|---|---:|---:|---:|")
        for op, ms, n in rows[: args.top]:
            print(f"| {op} | {n} | {ms:.1f} | {100 * ms / total:.1f} % |")


if __name__ == "__main__":
    main()
