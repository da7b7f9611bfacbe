"""The training loop behind `edgeseg train`: seeded, logged per loss, checkpointed, resumable.

One loop serves every family; a family only supplies how a batch becomes a dict of losses
(`LOSS_FNS`). Checkpoints hold plain tensors and numbers only, so resuming uses
`torch.load(weights_only=True)` like every other load in edgeseg.
"""
from __future__ import annotations

import json
import logging
import math
import pickle
import random
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Subset

from edgeseg.data.categories import CATEGORIES, IGNORE_LABEL
from edgeseg.errors import EdgesegError
from edgeseg.models.datasets import ShapesDataset, collate
from edgeseg.models.densecap import densecap_losses
from edgeseg.models.densecap_data import CaptionDataset

log = logging.getLogger(__name__)
Batch = tuple[list[Tensor], list[dict[str, Tensor]]]


@dataclass
class TrainOptions:
    data: Path
    out: Path
    epochs: int = 1
    batch_size: int = 4
    lr: float = 1e-3
    seed: int = 0
    resume: bool = False
    max_steps: int | None = None
    images: int | None = None  # use only the first N training images
    init: Path | None = None  # start from these weights (fine-tuning); missing heads stay random
    crop: int | None = None  # random square crops (FCN training), None = full images
    checkpoint_every: int = 200
    progress: bool = True


def rcnn_losses(model: nn.Module, batch: Batch) -> dict[str, Tensor]:
    return model(batch[0], batch[1])


# Things cover a few percent of the pixels; without up-weighting, short runs learn stuff only.
THING_PIXEL_WEIGHT = 5.0


def fcn_losses(model: nn.Module, batch: Batch) -> dict[str, Tensor]:
    images = torch.stack(batch[0])
    labels = torch.stack([t["semantic"] for t in batch[1]])
    logits = model(images)
    weight = torch.tensor([THING_PIXEL_WEIGHT if c.isthing else 1.0 for c in CATEGORIES])
    loss = nn.functional.cross_entropy(logits, labels, weight=weight, ignore_index=IGNORE_LABEL)
    return {"loss_semantic": loss}


LOSS_FNS: dict[str, Callable[[nn.Module, Batch], dict[str, Tensor]]] = {
    "rcnn": rcnn_losses, "rcnn_baseline": rcnn_losses, "fcn": fcn_losses, "densecap": densecap_losses}
# Families whose targets need more than ShapesDataset reads (densecap: each box's phrase).
DATASETS: dict[str, type[ShapesDataset]] = {"densecap": CaptionDataset}


def random_crop(batch: Batch, size: int, rng: random.Random) -> Batch:
    """Same-size random crops of images and semantic maps (224 px crops cost half a full 320 px image)."""
    images, targets = [], []
    for image, t in zip(*batch, strict=True):
        h, w = image.shape[-2:]
        if size > min(h, w):
            raise EdgesegError(f"--crop {size} is larger than a {h}x{w} training image: "
                               f"pass --crop <= {min(h, w)}")
        y, x = rng.randint(0, h - size), rng.randint(0, w - size)
        images.append(image[:, y:y + size, x:x + size])
        targets.append({"semantic": t["semantic"][y:y + size, x:x + size]})
    return images, targets


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def lr_factor(step: int, total: int, warmup: int = 100) -> float:
    """Linear warm-up, then cosine decay to 5% (from-scratch training needs the warm-up)."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))


def load_init(model: nn.Module, path: Path) -> None:
    """Copy matching tensors from a weights file (fine-tuning from another zoo model)."""
    from edgeseg.models.zoo import read_state_dict

    state = read_state_dict(path, "a model to fine-tune from")
    own = model.state_dict()
    usable = {}
    for k, v in state.items():  # a detector's tensors also fit the R-CNN baseline's frozen proposer
        for key in (k, f"proposer.{k}"):
            if key in own and own[key].shape == v.shape:
                usable[key] = v
    if not usable:
        raise EdgesegError(f"{path} shares no tensors with the model being trained: "
                           "pass weights of the same family")
    model.load_state_dict(usable, strict=False)
    log.info("initialised %d/%d tensors from %s", len(usable), len(own), path)


def load_checkpoint(path: Path) -> dict[str, object]:
    """The `--resume` checkpoint, loaded without executing anything in it: a file that pickles code or
    other objects is refused with one line, as is a damaged file or one that is not our checkpoint."""
    if not path.is_file():
        raise EdgesegError(f"--resume: no checkpoint at {path}; run once without --resume first")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise EdgesegError(f"--resume: {path} pickles code or objects other than tensors, which is refused "
                           f"for safety ({str(err).splitlines()[0][:120]}); delete it and train without "
                           "--resume, or resume only from checkpoints edgeseg wrote") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as err:
        raise EdgesegError(f"--resume: {path} cannot be read as a checkpoint, it may be truncated "
                           f"({type(err).__name__}); delete it and train without --resume") from None
    if not (isinstance(ckpt, dict) and {"model", "optimizer", "step"} <= set(ckpt)):
        raise EdgesegError(f"--resume: {path} is not an edgeseg training checkpoint (it needs model, "
                           "optimizer and step); pass weights to fine-tune from with --init instead")
    return ckpt


def train(model: nn.Module, family: str, opts: TrainOptions) -> Path:
    """Train `model` in place; returns the path of the final weights (a plain state dict)."""
    seed_everything(opts.seed)
    ckpt_path = opts.out / "checkpoint.pt"
    ckpt = load_checkpoint(ckpt_path) if opts.resume else None  # a bad file fails before any work
    opts.out.mkdir(parents=True, exist_ok=True)
    dataset = DATASETS.get(family, ShapesDataset)(opts.data, "train", limit=opts.images,
                                                  with_masks=family == "rcnn")
    if len(dataset) == 0:
        raise EdgesegError(f"{opts.data} has no training images: generate some with `edgeseg data shapes`")
    steps_per_epoch = len(dataset) // opts.batch_size
    total = steps_per_epoch * opts.epochs
    if opts.max_steps is not None:
        total = min(total, opts.max_steps)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=opts.lr, weight_decay=1e-4)
    step = 0
    if opts.init is not None:
        load_init(model, opts.init)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])  # type: ignore[arg-type]
        optimizer.load_state_dict(ckpt["optimizer"])  # type: ignore[arg-type]
        step = int(ckpt["step"])  # type: ignore[call-overload]
        log.info("resumed from %s at step %d", ckpt_path, step)
    loss_fn = LOSS_FNS[family]
    crop_rng = random.Random(opts.seed)
    log_file = open(opts.out / "train_log.jsonl", "a", encoding="utf-8")  # noqa: SIM115 (closed below)
    from tqdm import tqdm

    bar = tqdm(total=total, initial=step, disable=not opts.progress, desc="train")
    model.train()
    start = time.time()
    try:
        while step < total:
            epoch, offset = divmod(step, steps_per_epoch)
            order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(opts.seed + epoch))
            chosen = order[offset * opts.batch_size:steps_per_epoch * opts.batch_size]
            subset = Subset(dataset, chosen.tolist())
            for batch in DataLoader(subset, batch_size=opts.batch_size, collate_fn=collate):
                if step >= total:
                    break
                if opts.crop:
                    batch = random_crop(batch, opts.crop, crop_rng)
                for group in optimizer.param_groups:
                    group["lr"] = opts.lr * lr_factor(step, total)
                losses = loss_fn(model, batch)
                loss = sum(losses.values())
                assert isinstance(loss, Tensor)
                if not torch.isfinite(loss):
                    raise RuntimeError(f"loss is not finite at step {step}: {losses}")
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 10.0)
                optimizer.step()
                step += 1
                record = {k: round(float(v.detach()), 5) for k, v in losses.items()}
                short = {k.replace("loss_", ""): f"{v:.3f}" for k, v in record.items()}
                bar.set_postfix(short, refresh=False)
                bar.update(1)
                if step % 20 == 0 or step == total:
                    log_file.write(json.dumps({"step": step, "epoch": epoch,
                                               "loss": round(float(loss.detach()), 5),
                                               **record, "lr": optimizer.param_groups[0]["lr"],
                                               "elapsed_s": round(time.time() - start, 1)}) + "\n")
                    log_file.flush()
                if step % opts.checkpoint_every == 0 or step == total:
                    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step}
                    torch.save(state, ckpt_path)
    finally:
        bar.close()
        log_file.close()
    weights = opts.out / "model.pt"
    torch.save(model.state_dict(), weights)
    log.info("trained %d steps in %.0f s; weights in %s", step, time.time() - start, weights)
    return weights
