"""Dense captioning (DenseCap, Johnson et al. 2016) on the zoo's trained R-CNN: detect, then describe.

The detector (backbone, RPN, box head) is a zoo R-CNN taken as it is and frozen: it is held outside
this module's parameters and state dict, so `densecap.pt` stores the caption head alone (a few MB)
and training touches the head only. Why frozen: on a CPU the head trains in minutes on RoIAlign
features of ground-truth boxes (with jitter), while the detector took hours.

What a region is read with (its box, context, pixels, class, and its nearest neighbour's) is in
`densecap_regions`. A GRU cell written with plain Linear layers (so the unrolled decoder exports to
MatMul/Sigmoid/Tanh) starts from that and emits `max_tokens` ids: teacher-forced in training,
greedy (argmax) otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import roi_align

from edgeseg.models.config import DictConfig
from edgeseg.models.densecap_regions import NEIGHBOUR_SCORE, Readers, RegionInputs, describe
from edgeseg.vocab import BOS, EOS, MAX_TOKENS, PAD, SHAPES_VOCAB

POOLED = 7  # side of every pooled map (the detector's box pooler size)


@dataclass
class DenseCapConfig(DictConfig):
    """The caption head's architecture and the zoo detector it reads; stored in zoo.json."""

    detector: str = "faster_rcnn"
    image_size: int = 320
    reduced_channels: int = 16  # 1x1 conv before flattening each 7x7 pooled map (keeps the .pt small)
    hidden: int = 256
    embed: int = 64
    vocab_size: int = len(SHAPES_VOCAB)
    num_classes: int = 6  # the detector's, background included
    max_tokens: int = MAX_TOKENS + 1
    jitter: float = 0.1  # training: box corners move by up to this fraction of the box size
    copies: int = 2  # training: jittered copies of each ground-truth box


class GRUStep(nn.Module):
    """One GRU cell step, gates spelled out (r, z, n as in torch.nn.GRUCell)."""

    def __init__(self, inputs: int, hidden: int) -> None:
        super().__init__()
        self.x = nn.Linear(inputs, 3 * hidden)
        self.h = nn.Linear(hidden, 3 * hidden)

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        xr, xz, xn = self.x(x).chunk(3, dim=-1)
        hr, hz, hn = self.h(h).chunk(3, dim=-1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return (1 - z) * n + z * h


class CaptionHead(nn.Module):
    """Pooled region maps -> initial state -> token ids (greedy) or logits (teacher forcing)."""

    def __init__(self, config: DenseCapConfig, channels: int) -> None:
        super().__init__()
        self.config = config
        self.reduce = nn.Sequential(nn.Conv2d(channels, config.reduced_channels, 1), nn.ReLU())
        area = POOLED * POOLED
        flat = 3 * config.reduced_channels * area + 2 * 3 * area + 2 * config.num_classes + 7
        self.init = nn.Sequential(nn.Linear(flat, config.hidden), nn.Tanh())
        self.embed = nn.Embedding(config.vocab_size, config.embed)
        self.cell = GRUStep(config.embed, config.hidden)
        self.out = nn.Linear(config.hidden, config.vocab_size)

    def region_state(self, regions: RegionInputs) -> Tensor:
        """The regions' inputs (densecap_regions.describe) -> initial GRU state [N, hidden]."""
        maps = [self.reduce(m).flatten(1) for m in regions.feature_maps]
        pixels = [m.flatten(1) for m in regions.pixel_maps]
        return self.init(torch.cat([*maps, *pixels, regions.vector], dim=1))

    def teacher_forced(self, h: Tensor, targets: Tensor) -> Tensor:
        """Logits [N,T,V] predicting `targets` [N,T] from <bos> + targets[:, :-1]."""
        inputs = torch.cat([torch.full_like(targets[:, :1], BOS), targets[:, :-1]], dim=1)
        logits = []
        for t in range(targets.shape[1]):
            h = self.cell(self.embed(inputs[:, t]), h)
            logits.append(self.out(h))
        return torch.stack(logits, dim=1)

    def greedy(self, h: Tensor) -> Tensor:
        """Token ids [N,T] int64, argmax at each of `max_tokens` steps; <pad> after the first <eos>."""
        token = torch.full_like(h[:, 0], BOS, dtype=torch.int64)  # *_like: the batch stays symbolic in ONNX
        done = torch.zeros_like(h[:, 0], dtype=torch.bool)
        tokens = []
        for _ in range(self.config.max_tokens):
            h = self.cell(self.embed(token), h)
            token = self.out(h).argmax(dim=-1)
            tokens.append(torch.where(done, torch.full_like(token, PAD), token))
            done = done | (token == EOS)
        return torch.stack(tokens, dim=1)


class DenseCap(nn.Module):
    """A frozen zoo R-CNN plus a CaptionHead.

    Eval: `model(images)` -> one dict per image with the detector's boxes, labels, scores and
    `tokens` [N, max_tokens] int64 (SHAPES_VOCAB ids). Training: `model(images, targets)` with
    targets holding `boxes` and `captions` [N, max_tokens] -> {"loss_caption": ...}.
    """

    def __init__(self, config: DenseCapConfig, detector: nn.Module) -> None:
        super().__init__()
        self.config = config
        self._detector = (detector.eval().requires_grad_(False),)  # a tuple: not a submodule
        self.head = CaptionHead(config, int(getattr(detector.backbone, "out_channels")))  # noqa: B009
        self._jitter = torch.Generator().manual_seed(0)

    @property
    def detector(self) -> Any:
        return self._detector[0]

    def train(self, mode: bool = True) -> DenseCap:
        super().train(mode)
        self.detector.eval()  # frozen: BatchNorm statistics and dropout stay as trained
        return self

    def _state(self, features: dict[str, Tensor], image: Tensor, boxes: Tensor, labels: Tensor,
               candidate: Tensor) -> Tensor:
        """Initial states of one image's regions boxes [1,K,4] (network pixels), labels [1,K]."""
        hw = (int(image.shape[-2]), int(image.shape[-1]))
        pooler = self.detector.roi_heads.box_roi_pool
        read = Readers(features=lambda b: pooler(features, list(b), [hw]),
                       pixels=lambda b: roi_align(image, list(b), POOLED, 1.0, 2, aligned=True))
        return self.head.region_state(describe(read, boxes, labels, candidate, hw, self.config.num_classes))

    def jittered(self, boxes: Tensor, hw: tuple[int, int]) -> Tensor:
        """`copies` randomly moved and scaled versions of boxes [N,4] (what detections look like)."""
        size = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)
        many = boxes.repeat(self.config.copies, 1)
        noise = torch.rand(many.shape, generator=self._jitter) * 2 - 1
        moved = many + noise * self.config.jitter * size.repeat(self.config.copies, 1)
        return torch.minimum(moved.clamp(min=0), torch.tensor([hw[1], hw[0], hw[1], hw[0]]) - 1e-3)

    def forward(self, images: list[Tensor], targets: list[dict[str, Tensor]] | None = None
                ) -> dict[str, Tensor] | list[dict[str, Tensor]]:
        det = self.detector
        if self.training:
            if targets is None:
                raise ValueError("targets are required in training mode")
            return {"loss_caption": self._loss(images, targets)}
        original = [(int(im.shape[-2]), int(im.shape[-1])) for im in images]
        with torch.no_grad():
            image_list, _ = det.transform(images)
            features = det.backbone(image_list.tensors)
            proposals, _ = det.rpn(image_list, features)
            detections, _ = det.roi_heads(features, proposals, image_list.image_sizes)
        for i, d in enumerate(detections):
            one = {k: v[i:i + 1] for k, v in features.items()}
            candidate = (d["scores"] >= NEIGHBOUR_SCORE)[None]
            state = self._state(one, image_list.tensors[i:i + 1], d["boxes"][None], d["labels"][None],
                                candidate)
            d["tokens"] = self.head.greedy(state)
        return det.transform.postprocess(detections, image_list.image_sizes, original)

    def _loss(self, images: list[Tensor], targets: list[dict[str, Tensor]]) -> Tensor:
        det = self.detector
        with torch.no_grad():
            image_list, resized = det.transform(images, [{"boxes": t["boxes"]} for t in targets])
            features = det.backbone(image_list.tensors)
        hw = (int(image_list.tensors.shape[-2]), int(image_list.tensors.shape[-1]))
        states, words = [], []
        for i, t in enumerate(targets):
            if len(t["captions"]) == 0:
                continue
            boxes = self.jittered(resized[i]["boxes"], hw)[None]
            labels = t["labels"].repeat(self.config.copies)[None]
            one = {k: v[i:i + 1] for k, v in features.items()}
            candidate = torch.ones_like(labels, dtype=torch.bool)
            states.append(self._state(one, image_list.tensors[i:i + 1], boxes, labels, candidate))
            words.append(t["captions"].repeat(self.config.copies, 1))
        if not states:
            return torch.zeros((), requires_grad=True)
        target = torch.cat(words)
        logits = self.head.teacher_forced(torch.cat(states), target)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=PAD)


def build_densecap(config: DenseCapConfig | dict[str, Any]) -> DenseCap:
    """DenseCap on the trained zoo detector named by `config.detector` (its weights loaded, frozen)."""
    from edgeseg.models import zoo

    cfg = config if isinstance(config, DenseCapConfig) else DenseCapConfig.from_dict(config)
    detector = zoo.get(cfg.detector)[0]
    return DenseCap(cfg, detector)


def densecap_losses(model: nn.Module, batch: tuple[list[Tensor], list[dict[str, Tensor]]]
                    ) -> dict[str, Tensor]:
    return model(batch[0], batch[1])
