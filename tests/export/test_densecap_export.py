"""The dense-captioning deploy graph: ONNX Runtime == the torch deploy wrapper, tokens included; the
vocabulary in the metadata turns them into the same phrases through the torch-free runtime.

The detector is the zoo's trained one (shared weights); the caption head has seeded random weights so
the test does not depend on densecap.pt. Boxes within 1e-3 px, scores within 1e-4, token ids equal.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from export_testutil import dataset

from edgeseg.export.densecap_wrapper import wrap_densecap
from edgeseg.export.onnx_export import deploy_metadata, export_deploy
from edgeseg.models import zoo
from edgeseg.runtime.backends.ort import OrtBackend
from edgeseg.runtime.results import FrameResult
from edgeseg.runtime.task_adapters import decode, read_deploy_info
from edgeseg.vocab import MAX_TOKENS, PAD, SHAPES_VOCAB


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path, np.ndarray]:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model, info = zoo.build("densecap")
    with torch.no_grad():
        model.head.out.weight.mul_(4.0)  # spread the logits: no near-ties between tokens
    deploy = wrap_densecap(model.eval())
    metadata = {**deploy_metadata(deploy, info, "edgeseg"), **deploy.extra_metadata}
    tmp = tmp_path_factory.mktemp("densecap")
    path = export_deploy(deploy, tmp / "densecap.onnx", metadata)
    images, _ = dataset(tmp / "data", 3)
    return deploy, path, images


def test_ort_matches_torch_including_tokens(exported: tuple) -> None:
    deploy, path, images = exported
    backend = OrtBackend(path, intra_op_threads=1)
    got = backend.infer({"images": images})
    backend.close()
    with torch.no_grad():
        outs = deploy(torch.from_numpy(images))
    ref = dict(zip(deploy.output_names, (t.numpy() for t in outs), strict=True))
    assert got["tokens"].shape == (3, 50, MAX_TOKENS + 1) and got["tokens"].dtype == np.int32
    np.testing.assert_array_equal(got["num_dets"], ref["num_dets"])
    assert ref["num_dets"].min() > 0
    for i in range(3):
        n = int(ref["num_dets"][i])
        np.testing.assert_allclose(got["boxes"][i, :n], ref["boxes"][i, :n], atol=1e-3)
        np.testing.assert_allclose(got["scores"][i, :n], ref["scores"][i, :n], atol=1e-4)
        np.testing.assert_array_equal(got["tokens"][i, :n], ref["tokens"][i, :n])
        assert (got["tokens"][i, n:] == PAD).all()  # empty slots say nothing


def test_runtime_reads_phrases_with_the_graph_vocabulary(exported: tuple) -> None:
    deploy, path, images = exported
    info = read_deploy_info(path)
    assert info.task == "densecap" and info.vocabulary == SHAPES_VOCAB
    with torch.no_grad():
        outs = [t.numpy()[0] for t in deploy(torch.from_numpy(images[:1]))]
    ref = dict(zip(deploy.output_names, outs, strict=True))
    result = decode(ref, info, FrameResult(0, 320, 320))
    n = int(ref["num_dets"])
    assert result.captions is not None and len(result.captions) == n == result.num_instances
    for phrase, row in zip(result.captions, ref["tokens"][:n], strict=True):
        words = []
        for token in row:  # by hand: ids up to the first <eos>/<pad> looked up one by one, <bos> skipped
            if token in (0, 2):
                break
            if token != 1:
                words.append(SHAPES_VOCAB.tokens[token])
        assert phrase == " ".join(words)
