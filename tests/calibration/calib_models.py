"""Small deploy-style graphs for the calibration tests, exported from torch here.

They follow the zoo's deploy convention (uint8 NHWC `images` in, normalization in the graph, a
`semantic` uint8 label map out) so the calibration code cannot tell them from a zoo FCN.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

NUM_CLASSES = 10


class TinyFCN(nn.Module):
    """Three convs: enough depth for per-layer fallback to matter, small enough to fit instantly."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.classifier = nn.Conv2d(width, NUM_CLASSES, 1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.relu(self.conv2(torch.relu(self.conv1(x)))))


class Deploy(nn.Module):
    """uint8 NHWC frames -> label map, like the zoo's DeployFCN."""

    def __init__(self, net: TinyFCN) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).float() / 255.0
        return self.net.logits(x).argmax(1).to(torch.uint8)


def fit(images: np.ndarray, labels: np.ndarray, seed: int = 0) -> TinyFCN:
    """A nearest-mean-colour segmenter, fitted in closed form: conv1 smooths the colours (3x3 box),
    conv2 passes them on, the classifier scores -||x - mean_k||^2 (up to a per-pixel constant).
    Margins are colour distances, so a correct INT8 graph keeps the metric and a broken one does not."""
    net = TinyFCN().eval()
    x = images.reshape(-1, 3).astype(np.float64) / 255.0
    y = labels.reshape(-1)
    means = np.stack([x[y == k].mean(0) if (y == k).any() else np.full(3, 10.0) for k in range(NUM_CLASSES)])
    with torch.no_grad():
        # channels 3.. carry seeded noise that the next layer ignores (zero weights on them): every
        # weight row is non-zero, as in a trained net, without changing what the net computes
        net.conv1.weight.normal_(0.0, 0.1, generator=torch.Generator().manual_seed(seed))
        net.conv2.weight[:3].zero_()
        net.conv2.weight[3:].normal_(0.0, 0.1, generator=torch.Generator().manual_seed(seed + 1))
        net.conv2.weight[:, 3:].zero_()
        net.classifier.weight.zero_()
        net.conv1.bias.zero_()
        net.conv2.bias.zero_()
        net.conv1.weight[:3].zero_()
        for c in range(3):
            net.conv1.weight[c, c] = 1.0 / 9.0
            net.conv2.weight[c, c, 1, 1] = 1.0
        net.classifier.weight[:, :3, 0, 0] = torch.from_numpy(2.0 * means).float()
        net.classifier.bias.copy_(torch.from_numpy(-(means**2).sum(1)).float())
    return net


def plant_outlier(net: TinyFCN, channel: int = 0, factor: float = 1000.0) -> TinyFCN:
    """The same function with one conv1 channel scaled by `factor` and conv2's weights on it divided
    back: FP32 outputs are unchanged (ReLU is positively homogeneous), but a per-tensor INT8 scale
    of conv2's input is set by the outlier channel, so the other channels round to zero."""
    out = TinyFCN(net.conv1.out_channels)
    out.load_state_dict(net.state_dict())
    with torch.no_grad():
        out.conv1.weight[channel] *= factor
        out.conv1.bias[channel] *= factor
        out.conv2.weight[:, channel] /= factor
    return out.eval()


def export(net: TinyFCN, path: Path, size: int) -> Path:
    """ONNX export (opset 17) with a fixed [1,size,size,3] uint8 input named `images`."""
    dummy = torch.zeros(1, size, size, 3, dtype=torch.uint8)
    torch.onnx.export(
        Deploy(net),
        (dummy,),
        str(path),
        input_names=["images"],
        output_names=["semantic"],
        opset_version=17,
        dynamo=False,
    )
    return path
