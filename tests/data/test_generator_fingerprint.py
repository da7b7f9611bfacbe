"""A ShapesWorld output change must come with a GENERATOR_VERSION bump.

The zoo's first metrics could not be reproduced because the generator changed three times under one
version number (docs/models.md): the split a figure was measured on was gone. This pins what version
"2" draws for a few images: the instance and stuff maps and keypoints exactly (integers), the pixels by
per-channel means (robust to float rounding across CPUs, not to a texture or layout change).
Changing the generator on purpose: bump GENERATOR_VERSION, add its fingerprint here, re-run
`make zoo-metrics`.
"""
from __future__ import annotations

import hashlib

import numpy as np

from edgeseg.data.shapes import GENERATOR_VERSION, render_image

FINGERPRINTS = {
    "2": {"maps": "d5f8a7676da0ebcd39f90b061ba3605b84eb0b788f6c2f2896cdc9a3c3367975",
          "rgb_means": [[109.01, 123.6, 144.78], [112.1, 185.23, 97.56], [101.95, 95.07, 93.24],
                        [176.94, 198.18, 99.0]]},
}


def fingerprint() -> tuple[str, list[list[float]]]:
    digest = hashlib.sha256()
    means = []
    for index in range(4):
        rgb, frame = render_image(seed=2, index=index, size=128, split="val")
        digest.update(frame.ids.astype(np.int32).tobytes())
        digest.update(frame.stuff.astype(np.uint8).tobytes())
        for k in sorted(frame.keypoints):
            digest.update(np.asarray(frame.keypoints[k], dtype=np.float32).round(3).tobytes())
        means.append([round(float(c), 2) for c in rgb.reshape(-1, 3).mean(axis=0)])
    return digest.hexdigest(), means


def test_generator_output_matches_its_version() -> None:
    assert GENERATOR_VERSION in FINGERPRINTS, "new GENERATOR_VERSION: add its fingerprint (see docstring)"
    maps, means = fingerprint()
    expected = FINGERPRINTS[GENERATOR_VERSION]
    assert maps == expected["maps"], "the generator's layout changed: bump GENERATOR_VERSION"
    assert np.allclose(means, expected["rgb_means"], atol=0.05), "the pixels changed: bump GENERATOR_VERSION"


if __name__ == "__main__":  # print the fingerprint to pin for a new version
    print(fingerprint())
