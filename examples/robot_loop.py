#!/usr/bin/env python3
"""A robot control loop: turn toward the nearest person, within a latency budget.

A result older than the budget (capture to now) is stale: the robot holds still rather than act on
an old view. The nearest person has the largest box; steer toward their shoulders (keypoints 5, 6).
    python examples/robot_loop.py --input /dev/video0 --budget-ms 100 --model keypoint_rcnn
"""
import argparse
import time

import numpy as np

from edgeseg.data.categories import PERSON_ID
from edgeseg.errors import EdgesegError
from edgeseg.runtime.pipeline import Pipeline
from edgeseg.runtime.resolve import open_model
from edgeseg.runtime.results import FrameResult
from edgeseg.runtime.sinks import StopStream


def steer(r: FrameResult) -> tuple[str, float]:
    """('search' | 'follow' | 'stop', turn from -1 (left) to 1 (right)) for one fresh result."""
    people = np.flatnonzero(r.classes == PERSON_ID) if r.classes is not None else []
    if len(people) == 0 or r.boxes is None or r.keypoints is None:
        return "search", 0.0
    x1, y1, x2, y2 = r.boxes[people].T
    i = people[np.argmax((x2 - x1) * (y2 - y1))]
    (x1, y1, x2, y2), shoulders = r.boxes[i], r.keypoints[i, [5, 6]]
    x = shoulders[:, 0].mean() if (shoulders[:, 2] > 0.3).all() else (x1 + x2) / 2
    return ("stop" if y2 - y1 > 0.8 * r.height else "follow"), float(np.clip(2 * x / r.width - 1, -1, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="keypoint_rcnn", help="zoo name, .onnx or .engine with keypoints")
    parser.add_argument("--input", default="0", help="camera index, device, stream or file URI")
    parser.add_argument("--budget-ms", type=float, default=150.0, help="act on results younger than this")
    parser.add_argument("--frames", type=int, default=0, help="stop after N results (0: until Ctrl-C)")
    args = parser.parse_args()
    ages: list[float] = []  # seconds from capture to the control decision, per result
    def control(result: FrameResult) -> None:  # per result, from the sink thread: publish commands here
        ages.append(time.monotonic() - result.timestamps["capture"])
        action, turn = ("hold", 0.0) if ages[-1] > args.budget_ms / 1000 else steer(result)
        print(f"frame {result.frame_id}: {action:6s} turn {turn:+.2f}  age {ages[-1] * 1e3:.0f} ms")
        if len(ages) == args.frames:
            raise StopStream

    model, backend = open_model(args.model, "auto", threads=0)
    stats = Pipeline(args.input, model=model, backend=backend, sinks=[control], policy="live").run()
    backend.close()
    stale = sum(age > args.budget_ms / 1000 for age in ages)
    print(f"{stats.table()}\nacted on {len(ages) - stale} of {len(ages)} results, {stale} stale")


if __name__ == "__main__":
    try:
        main()
    except EdgesegError as err:  # bad model, source or input: one line, exit status 1
        raise SystemExit(f"robot_loop: {err}") from None
