"""The threaded pipeline: ordering and completeness (all), exact drop counting (live), batching,
error propagation with the stage named, and sinks closed on every way out."""
from __future__ import annotations

import time

import numpy as np
import pytest
from runtime_doubles import NumberAdapter, NumberBackend, numbered_frame, numbered_frames

from edgeseg.errors import EdgesegError
from edgeseg.runtime.pipeline import Pipeline, StageError
from edgeseg.runtime.sinks import Sink, StopStream


class RecordingSink(Sink):
    def __init__(self, fail_at: int | None = None):
        self.ids: list[int] = []
        self.numbers: list[int] = []
        self.closed = 0
        self.fail_at = fail_at

    def write(self, result, image):
        if self.fail_at is not None and len(self.ids) == self.fail_at:
            raise OSError("disk full (injected)")
        self.ids.append(result.frame_id)
        self.numbers.append(int(result.scores[0]))

    def close(self):
        self.closed += 1


def test_policy_all_delivers_every_frame_once_in_order():
    sink = RecordingSink()
    backend = NumberBackend()
    with Pipeline(numbered_frames(2000), model=NumberAdapter(), backend=backend, sinks=[sink],
                  policy="all", batch=8, max_wait_s=0.002) as p:
        yielded = [r.frame_id for r in p]
    assert sink.ids == list(range(2000))
    assert yielded == list(range(2000))
    assert sink.numbers == sink.ids  # each result carries its own frame's output through batching
    stats = p.stats
    assert (stats.frames_in, stats.frames_out, stats.dropped) == (2000, 2000, 0)
    assert sum(backend.batch_sizes) == 2000 and max(backend.batch_sizes) <= 8
    assert sink.closed == 1


def test_policy_live_drops_and_counts_exactly():
    produced = 300
    sink = RecordingSink()
    # the source is free-running while inference takes 3 ms a frame: most frames must be dropped
    with Pipeline(numbered_frames(produced), model=NumberAdapter(), backend=NumberBackend(delay_s=0.003),
                  sinks=[sink], policy="live") as p:
        for _ in p:
            pass
    stats = p.stats
    assert stats.frames_in == produced
    assert len(sink.ids) == stats.frames_out
    assert stats.dropped > 0
    assert stats.frames_out + stats.dropped == produced
    # independent count: the ids that never reached the sink are exactly the drops
    assert produced - len(set(sink.ids)) == stats.dropped
    assert sink.ids == sorted(sink.ids) and sink.numbers == sink.ids


def test_fixed_batch_graph_is_padded_and_outputs_trimmed():
    backend = NumberBackend(fixed_batch=4)
    sink = RecordingSink()
    stats = Pipeline(numbered_frames(10), model=NumberAdapter(), backend=backend, sinks=[sink],
                     batch=16).run()
    assert set(backend.batch_sizes) == {4}  # never more, partial batches padded
    assert sink.ids == list(range(10)) and sink.numbers == sink.ids
    assert stats.frames_out == 10


def test_backend_error_names_the_stage_and_closes_sinks():
    sink = RecordingSink()
    with pytest.raises(StageError, match="'infer'.*injected backend failure") as info, \
            Pipeline(numbered_frames(100), model=NumberAdapter(), backend=NumberBackend(fail_at_call=5),
                     sinks=[sink]) as p:
        list(p)
    assert info.value.stage == "infer"
    assert isinstance(info.value.__cause__, ValueError)
    assert sink.closed == 1


def test_sink_error_names_the_stage():
    sink = RecordingSink(fail_at=3)
    with pytest.raises(StageError, match="'sink'.*disk full"):
        Pipeline(numbered_frames(50), model=NumberAdapter(), backend=NumberBackend(), sinks=[sink]).run()
    assert sink.closed == 1 and sink.ids == [0, 1, 2]


def test_source_user_error_stays_an_edgeseg_error():
    def frames():
        yield from numbered_frames(3)
        raise EdgesegError("cannot decode video file x.mp4")

    with pytest.raises(EdgesegError, match="decode: cannot decode video file"):
        Pipeline(frames(), model=NumberAdapter(), backend=NumberBackend()).run()


def test_keyboard_interrupt_in_consumer_closes_sinks():
    sink = RecordingSink()
    with pytest.raises(KeyboardInterrupt), \
            Pipeline(numbered_frames(10_000), model=NumberAdapter(), backend=NumberBackend(),
                     sinks=[sink]) as p:
        for result in p:
            if result.frame_id == 20:
                raise KeyboardInterrupt
    assert sink.closed == 1
    assert sink.ids[:21] == list(range(21))


def test_callback_form_and_stop_stream():
    seen: list[int] = []

    def control(result):
        seen.append(result.frame_id)
        if result.frame_id == 9:
            raise StopStream

    stats = Pipeline(numbered_frames(1000), model=NumberAdapter(), backend=NumberBackend(),
                     sinks=[control]).run()
    assert seen == list(range(10))
    assert stats.frames_out >= 9


def test_run_callback_gets_results_in_order():
    got: list[int] = []
    stats = Pipeline(numbered_frames(50), model=NumberAdapter(), backend=NumberBackend()).run(
        lambda r: got.append(r.frame_id))
    assert got == list(range(50)) and stats.frames_out == 50
    assert stats.stages["infer"].count == 50 and stats.end_to_end.count == 50


def test_queue_wait_and_processing_are_attributed_to_the_right_stage():
    """A backend that sleeps 60 ms per call: frames pile up before `infer` (its queue wait grows with
    each frame), while its processing stays one sleep long and the stages after it barely wait."""
    delay, frames = 0.06, 6
    with Pipeline(numbered_frames(frames), model=NumberAdapter(), backend=NumberBackend(delay_s=delay),
                  policy="all", batch=1, queue_size=8) as p:
        assert [r.frame_id for r in p] == list(range(frames))
    stats = p.stats
    infer, infer_wait = stats.stages["infer"], stats.queue_wait["infer"]
    assert infer.count == infer_wait.count == frames
    assert delay * 1000 <= infer.p50_ms < 2 * delay * 1000  # processing: one sleep, not the wait
    # the last frame was ready at once but waited for the five before it (~300 ms)
    assert max(infer_wait.p99_ms, infer_wait.p95_ms) >= 3 * delay * 1000
    assert infer_wait.p99_ms > infer.p99_ms
    for stage in ("postprocess", "sink"):  # fast stages after the slow one: no queue builds up
        assert stats.queue_wait[stage].count == frames
        assert stats.queue_wait[stage].p95_ms < delay * 1000
        assert stats.stages[stage].p95_ms < delay * 1000
    table = stats.table()
    assert "wait p50 ms" in table.splitlines()[0]


def test_timestamps_are_monotonic_per_stage():
    results = list(Pipeline(numbered_frames(5), model=NumberAdapter(), backend=NumberBackend()).start())
    for r in results:
        stages = ("capture", "decode", "preprocess", "infer", "postprocess", "sink")
        stamps = [r.timestamps[k] for k in stages]
        assert stamps == sorted(stamps)
        assert r.latency() == pytest.approx(stamps[-1] - stamps[0])


@pytest.mark.parametrize("kwargs,match", [({"policy": "fast"}, "unknown policy"), ({"batch": 0}, "batch")])
def test_bad_arguments_are_clear(kwargs, match):
    with pytest.raises(EdgesegError, match=match):
        Pipeline(numbered_frames(1), model=NumberAdapter(), backend=NumberBackend(), **kwargs)


def test_non_backend_is_rejected():
    with pytest.raises(EdgesegError, match="Backend protocol"):
        Pipeline(numbered_frames(1), model=NumberAdapter(), backend=object())  # type: ignore[arg-type]


def test_output_without_batch_dimension_is_a_clear_error():
    class ScalarBackend(NumberBackend):
        def infer(self, batch):
            return {"number": np.float32(1.0)}

    with pytest.raises(EdgesegError, match="leading batch dimension"):
        Pipeline(numbered_frames(2), model=NumberAdapter(), backend=ScalarBackend()).run()


def test_backend_by_name_needs_a_model_path_and_a_known_name(tmp_path):
    with pytest.raises(EdgesegError, match="needs a model file"):
        Pipeline(numbered_frames(1), model=NumberAdapter(), backend="ort")
    adapter = NumberAdapter()
    adapter.model_path = str(tmp_path / "missing.onnx")  # type: ignore[attr-defined]
    with pytest.raises(EdgesegError, match="not found"):
        Pipeline(numbered_frames(1), model=adapter, backend="ort")
    with pytest.raises(EdgesegError, match="unknown backend"):
        Pipeline(numbered_frames(1), model=adapter, backend="tpu")


def endless_frames(size: int = 8):
    i = 0
    while True:
        yield numbered_frame(i % 60_000, size)
        i += 1


def test_breaking_out_of_an_endless_live_source_closes_promptly():
    # a camera never ends: leaving the loop must stop the decode thread, not wait out close()'s timeout
    from edgeseg.runtime.sources import IterableSource

    sink = RecordingSink()
    p = Pipeline(IterableSource(endless_frames(), live=True), model=NumberAdapter(),
                 backend=NumberBackend(delay_s=0.002), sinks=[sink])
    assert p.policy == "live"
    start = 0.0
    with p:
        for result in p:
            if result.frame_id >= 20:
                start = time.monotonic()
                break  # the iterator closes the pipeline as it is dropped; __exit__ closes it otherwise
    elapsed = time.monotonic() - start
    assert elapsed < 1.0, f"close took {elapsed:.2f} s: a stage thread ignored the stop flag"
    assert not any(t.is_alive() for t in p._threads)
    assert sink.closed == 1


def test_policy_live_says_how_many_frames_it_dropped(caplog):
    with caplog.at_level("WARNING", logger="edgeseg.runtime.pipeline"), \
            Pipeline(numbered_frames(200), model=NumberAdapter(), backend=NumberBackend(delay_s=0.003),
                     policy="live") as p:
        for _ in p:
            pass
    assert p.stats.dropped > 0
    assert f"policy live dropped {p.stats.dropped} of 200 frames" in caplog.text


@pytest.mark.parametrize("image", [np.zeros((0, 0, 3), np.uint8), np.zeros((8, 8), np.uint8),
                                   np.zeros((8, 8, 3), np.float32)])
def test_a_frame_that_is_not_rgb_uint8_is_a_one_line_error_naming_it(image):
    frames = [numbered_frame(0), image]
    with pytest.raises(EdgesegError, match=r"decode: frame 1 of <iterable>: a frame must be") as info, \
            Pipeline(frames, model=NumberAdapter(), backend=NumberBackend()) as p:
        list(p)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"queue_size": 0}, "queue_size must be an integer >= 1"),
    ({"queue_size": -2}, "queue_size must be an integer >= 1"),
    ({"max_wait_s": -0.1}, "max_wait_s must be a finite number"),
    ({"max_wait_s": float("inf")}, "max_wait_s must be a finite number"),
    ({"min_score": float("nan")}, "min_score must be a score between 0 and 1"),
    ({"min_score": 1.01}, "min_score must be a score between 0 and 1"),
    ({"backend": "foo"}, "unknown backend 'foo'"),
])
def test_bad_pipeline_values_are_refused_before_running(kwargs, message):
    kwargs = {"backend": NumberBackend(), **kwargs}
    with pytest.raises(EdgesegError, match=message):
        Pipeline(numbered_frames(1), model=NumberAdapter(), **kwargs)


def test_a_sink_that_is_the_source_is_refused_and_the_source_kept(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"stand-in for a video")
    with pytest.raises(EdgesegError, match="is the source"):
        Pipeline(str(clip), model=NumberAdapter(), backend=NumberBackend(), sinks=[str(clip)])
    assert clip.read_bytes() == b"stand-in for a video"


def test_min_score_has_one_default_for_the_api_and_the_cli():
    import argparse
    import inspect

    from edgeseg.runtime import command
    from edgeseg.runtime.min_score import DEFAULT_MIN_SCORE, MinScore

    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers())
    cli_default = parser.parse_args(["run", "m", "--source", "s", "--sink", "x.jsonl"]).min_score
    api_default = inspect.signature(Pipeline).parameters["min_score"].default
    assert cli_default == api_default == DEFAULT_MIN_SCORE
    p = Pipeline(numbered_frames(1), model=NumberAdapter(), backend=NumberBackend(), min_score=0.5)
    assert isinstance(p.model, MinScore) and p.model.threshold == 0.5
