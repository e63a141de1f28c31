"""Signed per-vertex errors on the truth's vertices and their per-region summaries."""

import numpy as np
import pytest

from photoface.evaluate.protocol import evaluate_mesh
from photoface.evaluate.region_errors import mean_over_faces, region_errors, signed_truth_errors, truth_normals
from support.runs import tiny_face_model


@pytest.mark.parametrize("offset", [1.0, -1.0])
def test_the_sign_says_in_front_or_behind(offset):
    model = tiny_face_model()
    truth = model.mean.double().numpy()
    faces = model.faces.numpy()
    normals = truth_normals(truth, faces)
    pred = truth + offset * normals  # the whole surface moved along its normals, no alignment
    res = evaluate_mesh(pred, faces, truth, faces, scan_nose_tip=truth[model.landmarks68[30]], align="none")
    signed = signed_truth_errors(res, normals)
    inside = np.isfinite(signed)
    assert inside.sum() == len(res.scan_points) and not inside.all()  # NaN outside the 95 mm crop
    assert np.median(signed[inside]) == pytest.approx(offset, abs=0.05)


def test_region_summaries_skip_unmeasured_vertices_and_missing_regions():
    signed = np.array([[1.0, -3.0, np.nan, 2.0],
                       [np.nan, np.nan, np.nan, -2.0]])
    out = region_errors(signed, {"nose": np.array([0, 1, 2]), "jaw": np.array([3]), "other": np.array([0])},
                        names=("nose", "jaw", "lips"))
    assert list(out) == ["nose", "jaw"]
    assert out["nose"]["abs_mm"]["mean"] == pytest.approx(2.0) and out["nose"]["abs_mm"]["n"] == 1
    assert out["nose"]["signed_mm"]["mean"] == pytest.approx(-1.0)
    assert out["jaw"]["abs_mm"]["mean"] == pytest.approx(2.0) and out["jaw"]["signed_mm"]["mean"] == pytest.approx(0.0)
    assert out["jaw"]["signed_mm"]["n"] == 2 and out["nose"]["vertices"] == 3
    assert np.allclose(mean_over_faces(signed), [1.0, -3.0, np.nan, 0.0], equal_nan=True)
