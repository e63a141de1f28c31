"""Which face of a multi-face photo is the person: the identity closest to their other photos."""

import numpy as np

from photoface.fit.config import FitConfig
from photoface.fit.face_choice import choose_face, reference_identity

from .conftest import render_person


def test_the_face_like_the_other_photos_is_kept_even_when_another_face_is_larger(tiny_model, known_person):
    alpha_id, person = known_person
    stranger = render_person(tiny_model, -alpha_id, yaws=(5.0,), seed=3)
    group = render_person(tiny_model, alpha_id, yaws=(-5.0,), seed=4)
    # the stranger is the larger face (index 0, as the detector orders faces), the person the second
    candidates = np.stack([stranger["landmarks"][0], group["landmarks"][0]])
    reference = reference_identity(tiny_model, person["landmarks"], FitConfig())
    choice = choose_face(tiny_model, candidates, reference, FitConfig())
    assert choice.index == 1 and choice.rule == "closest identity"
    assert choice.distances[1] < choice.distances[0] and "face 1 kept" in choice.describe()
    # the other way round: the person is the larger face
    choice = choose_face(tiny_model, candidates[::-1], reference, FitConfig())
    assert choice.index == 0 and choice.distances is not None


def test_without_single_face_photos_the_largest_face_is_kept(tiny_model, known_person):
    alpha_id, person = known_person
    stranger = render_person(tiny_model, -alpha_id, yaws=(5.0,), seed=3)
    candidates = np.stack([stranger["landmarks"][0], person["landmarks"][0]])
    choice = choose_face(tiny_model, candidates, None)
    assert choice.index == 0 and choice.distances is None and "largest face" in choice.describe()
    assert reference_identity(tiny_model, np.zeros((0, 68, 2))) is None
