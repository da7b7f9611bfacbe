"""The recipes shipped in calibration/ load, and default.yaml states exactly the built-in defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeseg.calibration.recipe import Recipe, load_recipe

RECIPES = sorted((Path(__file__).resolve().parents[2] / "calibration").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=[p.name for p in RECIPES])
def test_shipped_recipes_load(path):
    assert isinstance(load_recipe(path), Recipe)


def test_default_yaml_is_the_builtin_default():
    assert load_recipe(RECIPES[0].parent / "default.yaml") == Recipe()


def test_keep_patterns_match_the_final_predictors_only():
    names = [
        "/roi_heads/box_predictor/cls_score/Gemm",
        "/roi_heads/mask_predictor/mask_fcn_logits/Conv",
        "/roi_heads/keypoint_predictor/kps_score/ConvTranspose",
        "/backbone/body/layer1/conv1/Conv",
        "/rpn/head/cls_logits/Conv",
    ]
    assert Recipe().kept(names) == names[:3]
