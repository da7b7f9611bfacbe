"""fcn_max_unpool's deploy form: pool switches as a mask (TensorRT takes no MaxPool indices output),
checked against torch's own max_pool2d / max_unpool2d, ties included."""

import pytest
import torch
import torch.nn.functional as F

from edgeseg.export.wrappers import MaskUnpool, SwitchPool


def reference(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pooled, idx = F.max_pool2d(x, 2, return_indices=True)
    return pooled, F.max_unpool2d(y, idx, 2, output_size=x.shape[-2:])


@pytest.mark.parametrize("ties", [False, True])
def test_switch_pool_and_mask_unpool_equal_torchs_indices(ties):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 8, 12, generator=g)
    if ties:  # ReLU zeros: whole windows of equal values, and windows with two equal maxima
        x = torch.relu(x).round()
    y = torch.randn(2, 3, 4, 6, generator=g)
    pooled, mask = SwitchPool()(x)
    want_pooled, want_unpooled = reference(x, y)
    assert torch.equal(pooled, want_pooled)
    assert torch.equal(MaskUnpool()(y, mask, list(x.shape[-2:])), want_unpooled)
    per_window = mask.reshape(2, 3, 4, 2, 6, 2).sum(dim=(3, 5))
    assert torch.equal(per_window, torch.ones(2, 3, 4, 6))  # one switch per window


def test_all_equal_window_switches_to_its_top_left():
    x = torch.zeros(1, 1, 2, 2)
    _, mask = SwitchPool()(x)
    assert mask.flatten().tolist() == [1.0, 0.0, 0.0, 0.0]


def test_fcn_max_unpool_deploy_graph_has_no_maxpool_indices(tmp_path):
    import onnx

    from edgeseg.export.onnx_export import export

    path = export("fcn_max_unpool", tmp_path / "m.onnx", random_init=True, batch="1")
    pools = [n for n in onnx.load(str(path)).graph.node if n.op_type == "MaxPool"]
    assert all(len([o for o in n.output if o]) == 1 for n in pools)
