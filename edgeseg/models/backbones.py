"""Slim trunks for ShapesWorld: small enough to train from scratch on 2 CPU cores, fast on a Jetson.

ShapesWorld has flat colours and simple outlines, so a ResNet-18-shaped trunk at an eighth of the
width (16..128 channels) is enough; the FPN keeps strides 8/16/32 (+ a max-pooled level) because
the smallest objects are about 12 px and a stride-4 level would double the detector's cost.
"""
from __future__ import annotations

from torch import Tensor, nn
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool


class BasicBlock(nn.Module):
    """A ResNet basic block (two 3x3 convs + identity or 1x1 projection)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.proj: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + self.proj(x))


class SlimResNet(nn.Module):
    """Stem (stride 2) + four stages of one basic block each, strides 4, 8, 16, 32."""

    def __init__(self, widths: tuple[int, int, int, int, int] = (16, 24, 48, 96, 128)) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 2, 1, bias=False), nn.BatchNorm2d(widths[0]),
                                  nn.ReLU(inplace=True))
        self.layer1 = BasicBlock(widths[0], widths[1], 2)
        self.layer2 = BasicBlock(widths[1], widths[2], 2)
        self.layer3 = BasicBlock(widths[2], widths[3], 2)
        self.layer4 = BasicBlock(widths[3], widths[4], 2)
        self.widths = widths

    def forward(self, x: Tensor) -> Tensor:
        return self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))


def slim_fpn_backbone(widths: tuple[int, int, int, int, int] = (16, 24, 48, 96, 128),
                      fpn_channels: int = 64) -> BackboneWithFPN:
    """SlimResNet with an FPN on strides 8, 16, 32 plus a max-pooled stride-64 level ('0'..'pool')."""
    trunk = SlimResNet(widths)
    return BackboneWithFPN(trunk, return_layers={"layer2": "0", "layer3": "1", "layer4": "2"},
                           in_channels_list=list(widths[2:]), out_channels=fpn_channels,
                           extra_blocks=LastLevelMaxPool())
