"""Same seed -> byte-identical files; image i does not depend on how many images are made; seeds differ."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from edgeseg.data.shapes import generate_dataset, render_image


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    a = _files(generate_dataset(tmp_path / "a", "val", 6, size=96, seed=11, progress=False))
    b = _files(generate_dataset(tmp_path / "b", "val", 6, size=96, seed=11, progress=False))
    assert len(a) == 6 * 3 + 4 + 1  # images, panoptic, semantic PNGs; 4 JSON files; meta.json
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == b[name], name


def test_image_does_not_depend_on_count(tmp_path: Path) -> None:
    few = generate_dataset(tmp_path / "few", "train", 2, size=96, seed=3, progress=False)
    many = generate_dataset(tmp_path / "many", "train", 5, size=96, seed=3, progress=False)
    for sub in ("images/train", "panoptic/train", "semantic/train"):
        for name in ("000001.png", "000002.png"):
            assert (few / sub / name).read_bytes() == (many / sub / name).read_bytes()


def test_different_seeds_and_splits_differ() -> None:
    base = [render_image(1, i, 96)[0] for i in range(4)]
    other_seed = [render_image(2, i, 96)[0] for i in range(4)]
    other_split = [render_image(1, i, 96, split="val")[0] for i in range(4)]
    for x, y, z in zip(base, other_seed, other_split, strict=True):
        assert not np.array_equal(x, y)
        assert not np.array_equal(x, z)
    assert not np.array_equal(base[0], base[1])


def test_saved_png_holds_the_rendered_pixels(tmp_path: Path) -> None:
    root = generate_dataset(tmp_path / "px", "train", 2, size=80, seed=4, progress=False)
    for i in range(2):
        saved = np.asarray(Image.open(root / "images" / "train" / f"{i + 1:06d}.png"))
        assert np.array_equal(saved, render_image(4, i, 80, "train")[0])
