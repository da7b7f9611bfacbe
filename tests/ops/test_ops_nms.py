"""NMS ladder steps 1-2: naive oracle and C++ twin vs torchvision.ops.batched_nms, plus the tie rule.

torchvision's sort is not stable on ties, so tie cases compare the oracle to the twin exactly (the
documented rule: equal scores keep the lower flat index n * C + c first) and torchvision as sets.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from edgeseg.errors import EdgesegError
from edgeseg.ops import cpu, naive, torch_ops


def random_case(batch: int, n: int, c: int, seed: int, per_class: bool = False):
    g = torch.Generator().manual_seed(seed)
    shape = (batch, n, c) if per_class else (batch, n)
    xy = torch.rand(*shape, 2, generator=g) * 80
    wh = torch.rand(*shape, 2, generator=g) * 40 + 1
    boxes = torch.cat([xy, xy + wh], -1)
    scores = torch.rand(batch, n, c, generator=g)
    return boxes, scores


def torchvision_reference(boxes, scores, score_threshold, iou_threshold, pre_nms_top_k, max_detections):
    """Per image: threshold, top-k, torchvision.ops.batched_nms by class, first K; as (n, c, score) lists."""
    out = []
    batch, n, c = scores.shape
    for b in range(batch):
        s = scores[b].reshape(-1)
        keys = torch.nonzero(s > score_threshold)[:, 0]
        keys = keys[torch.argsort(s[keys], descending=True, stable=True)]
        if pre_nms_top_k > 0:
            keys = keys[:pre_nms_top_k]
        box_n, cls = keys // c, keys % c
        cand_boxes = boxes[b, box_n, cls] if boxes.dim() == 4 else boxes[b, box_n]
        keep = torchvision.ops.batched_nms(cand_boxes, s[keys], cls, iou_threshold)[:max_detections]
        out.append([(int(box_n[k]), int(cls[k]), float(s[keys][k])) for k in keep])
    return out


def as_lists(outs):
    det_boxes, det_scores, det_classes, det_indices, count = (torch.as_tensor(o) for o in outs)
    return [
        [
            (int(det_indices[b, k]), int(det_classes[b, k]), float(det_scores[b, k]))
            for k in range(int(count[b]))
        ]
        for b in range(count.shape[0])
    ]


def twin(boxes, scores, **fields):
    return cpu.nms(boxes.numpy(), scores.numpy(), **fields)


@pytest.mark.parametrize("per_class", [False, True])
@pytest.mark.parametrize(
    "fields",
    [
        dict(score_threshold=0.05, iou_threshold=0.5, pre_nms_top_k=1000, max_detections=100),
        dict(score_threshold=0.3, iou_threshold=0.3, pre_nms_top_k=40, max_detections=10),
    ],
)
def test_matches_batched_nms(per_class, fields):
    boxes, scores = random_case(2, 60, 3, seed=7, per_class=per_class)
    expected = torchvision_reference(boxes, scores, **fields)
    assert as_lists(naive.nms(boxes, scores, **fields)) == expected
    outs = twin(boxes, scores, **fields)
    assert as_lists(outs) == expected
    # the boxes output is the kept boxes, zero padded
    det_boxes, count = outs[0], outs[4]
    for b in range(2):
        for k, (n, c, _) in enumerate(expected[b]):
            want = boxes[b, n, c] if per_class else boxes[b, n]
            np.testing.assert_array_equal(det_boxes[b, k], want.numpy())
        assert (det_boxes[b, count[b] :] == 0).all()
        assert (outs[2][b, count[b] :] == -1).all() and (outs[3][b, count[b] :] == -1).all()


def test_classes_never_suppress_each_other():
    boxes = torch.tensor([[[0.0, 0, 10, 10], [0.0, 0, 10, 10]]])
    scores = torch.tensor([[[0.9, 0.0], [0.0, 0.8]]])  # same box, two classes
    assert as_lists(twin(boxes, scores)) == [[(0, 0, pytest.approx(0.9)), (1, 1, pytest.approx(0.8))]]


def test_ties_follow_the_documented_rule():
    g = torch.Generator().manual_seed(11)
    boxes, _ = random_case(1, 40, 2, seed=12)
    scores = torch.randint(0, 4, (1, 40, 2), generator=g).float() / 4 + 0.1  # many equal scores
    fields = dict(score_threshold=0.05, iou_threshold=0.4, pre_nms_top_k=0, max_detections=100)
    ours = as_lists(twin(boxes, scores, **fields))
    assert ours == as_lists(naive.nms(boxes, scores, **fields))
    for kept in ours:  # lower n*C+c first among equal scores
        keys = [(-s, n * 2 + c) for n, c, s in kept]
        assert keys == sorted(keys)
    theirs = torchvision_reference(boxes, scores, **fields)[0]
    assert {(n, c) for n, c, _ in ours[0]} == {(n, c) for n, c, _ in theirs}


def test_empty_inputs_and_no_candidates():
    for n in (0, 5):
        boxes, scores = random_case(2, n, 3, seed=1)
        outs = twin(boxes, scores * 0, max_detections=4)  # nothing passes the threshold
        assert [o.shape for o in outs] == [(2, 4, 4), (2, 4), (2, 4), (2, 4), (2,)]
        assert (outs[4] == 0).all() and (outs[2] == -1).all() and (outs[0] == 0).all()


def test_float16_inputs():
    boxes, scores = random_case(1, 30, 2, seed=5)
    outs = cpu.nms(boxes.half().numpy(), scores.half().numpy())
    assert outs[0].dtype == np.float16 and outs[1].dtype == np.float16
    ref = twin(boxes.half().float(), scores.half().float())
    for got, want in zip(outs, ref, strict=True):
        np.testing.assert_array_equal(got.astype(want.dtype), want)


def test_torch_op_matches_twin_and_fake_shapes():
    boxes, scores = random_case(2, 50, 4, seed=9)
    fields = dict(max_detections=12, score_threshold=0.2)
    for got, want in zip(torch_ops.nms(boxes, scores, **fields), twin(boxes, scores, **fields), strict=True):
        np.testing.assert_array_equal(got.numpy(), want)
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode() as mode:
        outs = torch_ops.nms(mode.from_tensor(boxes), mode.from_tensor(scores), **fields)
    assert [tuple(o.shape) for o in outs] == [(2, 12, 4), (2, 12), (2, 12), (2, 12), (2,)]
    assert [o.dtype for o in outs[2:]] == [torch.int32] * 3


def test_bad_input_is_a_clear_error():
    with pytest.raises(EdgesegError, match="boxes must be"):
        cpu.nms(np.zeros((1, 5, 3), np.float32), np.zeros((1, 5, 2), np.float32))
    with pytest.raises(EdgesegError, match="rank 3"):
        cpu.nms(np.zeros((1, 5, 4), np.float32), np.zeros((5, 2), np.float32))
    with pytest.raises(EdgesegError, match="float32 or float16"):
        cpu.nms(np.zeros((1, 5, 4), np.int64), np.zeros((1, 5, 2), np.float32))
