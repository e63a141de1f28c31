"""Regions derived from the 68 landmarks, checked against the procedural model's designed ones."""

import numpy as np
import pytest

from photoface.facemodel.landmark_regions import landmark_regions

FRONTAL = ("eyes", "eye_left", "eye_right", "brows", "nose", "lips", "mouth", "mouth_interior", "cheeks",
           "forehead")


@pytest.fixture(scope="module")
def derived(demo_model):
    m = demo_model
    return landmark_regions(m.mean.numpy(), m.landmarks68.numpy(), m.mirror.numpy())


def test_derived_regions_match_the_designed_ones(demo_model, derived):
    v = demo_model.mean.numpy()
    assert set(derived) == set(demo_model.regions)
    for name in FRONTAL:
        true, got = set(demo_model.regions[name].tolist()), set(derived[name].tolist())
        inter = len(true & got)
        assert inter / len(got) > 0.6 and inter / len(true) > 0.6, name
        gap = np.linalg.norm(v[list(true)].mean(0) - v[list(got)].mean(0))
        assert gap < 5.0, (name, gap)
    # the subject's left eye is at x > 0, the right one at x < 0, and they are each other's mirror
    assert (v[derived["eye_left"], 0] > 0).all() and (v[derived["eye_right"], 0] < 0).all()
    mirror = demo_model.mirror.numpy()
    assert set(mirror[derived["eye_left"]].tolist()) == set(derived["eye_right"].tolist())


def test_derived_regions_are_symmetric_and_stay_off_the_back_of_a_head(demo_model, derived):
    mirror = demo_model.mirror.numpy()
    for name, idx in derived.items():
        if not name.endswith(("_left", "_right")):
            assert set(mirror[idx].tolist()) == set(idx.tolist()), name
    # A full head: the face plus its copy turned round behind it (same x, y; 200 mm deeper).
    v = demo_model.mean.numpy()
    back = v * [1, 1, -1] - [0, 0, 200.0]
    head = np.concatenate([v, back])
    n = len(v)
    regions = landmark_regions(head, demo_model.landmarks68.numpy(), np.concatenate([mirror, mirror + n]))
    for name, idx in regions.items():
        assert idx.max() < n, name
        assert set(idx.tolist()) == set(derived[name].tolist()), name
