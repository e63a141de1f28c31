"""``evaluate identity`` on person folders: per-photo identities, verification, shape spread, the pixel baseline."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from photoface.cli import main
from photoface.errors import PhotofaceError
from photoface.evaluate.identity import evaluate_identity, pixel_vectors, shape_distances
from photoface.facemodel.io import save_model
from support.runs import tiny_face_model

QUICK = ["light_iterations=1", "photo_iterations=1", "landmark_iterations=5"]


def test_pixel_baseline_ignores_brightness_and_shape_distances_split_by_person():
    rng = np.random.default_rng(0)
    img = torch.from_numpy(rng.uniform(0.2, 0.7, (2, 3, 48, 48)))
    v = pixel_vectors(torch.cat([img, img + 0.1]))
    assert v.shape == (4, 24 * 24)
    np.testing.assert_allclose(v[0], v[2], atol=1e-9)  # a brighter copy is the same picture
    assert not np.allclose(v[0], v[1])
    meshes = np.zeros((4, 5, 3))
    meshes[1, :, 0] = 1.0  # person a: 0 and 1 mm apart
    meshes[2:, :, 0] = [[10.0], [12.0]]  # person b: 2 mm apart, 10-12 mm from a
    d = shape_distances(meshes, ["a", "a", "b", "b"])
    assert d["intra_mm"] == pytest.approx(1.5) and d["inter_mm"] == pytest.approx((10 + 12 + 9 + 11) / 4)
    assert d["genuine_pairs"] == 2 and d["impostor_pairs"] == 4


@pytest.fixture()
def person_folders(tmp_path, monkeypatch):
    """Three people, three photos each, rendered from the tiny model; prepare is replaced by a stand-in
    that returns the rendered crops with their exact landmarks (any crop size asked for)."""
    import photoface.data.prepare.pipeline as prepare
    from fit.conftest import render_person
    from photoface.data.prepare.pipeline import FaceCrop, PhotoResult

    model = tiny_face_model(seed=1)
    model_path = tmp_path / "tiny.npz"
    save_model(model, model_path)
    gen = torch.Generator().manual_seed(0)
    crops = {}
    root = tmp_path / "photos"
    for p in range(3):
        alpha = 2.0 * torch.randn(1, model.n_id, generator=gen)
        shots = render_person(model, alpha, yaws=(-15.0, 0.0, 20.0), size=64, seed=p)
        for k in range(3):
            path = root / f"person{p}" / f"{k}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(path)
            crops[f"person{p}/{k}.png"] = (shots["images"][k], shots["masks"][k, 0], shots["landmarks"][k])
    (root / "nobody").mkdir()

    def fake_process_photo(task, options, photo=None):
        image, mask, lm = crops[task.key]
        s = options.image_size
        image = F.interpolate(image[None], size=(s, s), mode="bilinear", align_corners=False)[0]
        mask = F.interpolate(mask[None, None], size=(s, s))[0, 0] > 0.5
        rgb = (image.clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        return PhotoResult(task.key, faces=[FaceCrop(0, rgb, mask.numpy(), lm * s / 64, np.eye(2, 3) * s / 64, "hog")])

    monkeypatch.setattr(prepare, "process_photo", fake_process_photo)
    return {"root": root, "model": model_path}


def test_fit_identities_separate_distinct_people_in_shape_and_codes(person_folders):
    res = evaluate_identity(person_folders["root"], methods=["fit", "pixels"], face_model=str(person_folders["model"]),
                            image_size=64, fit_config=None, progress=False)
    assert res["meta"]["people"] == 3 and res["meta"]["photos"] == 9 and res["meta"]["benchmark"] == "identity"
    fit, pixels = res["fit_own"], res["pixels"]
    assert fit["verification"]["pairs"] == 36 and fit["verification"]["genuine_pairs"] == 9
    assert set(fit["verification"]["tar_at_far"]) == {"0.1", "0.01"}
    # exact landmarks of three distinct tiny-model people: each photo's own identity finds its person
    assert fit["shape"]["intra_mm"] < fit["shape"]["inter_mm"] and fit["verification"]["eer"] < 0.25
    assert pixels["shape"] is None and 0.0 <= pixels["verification"]["eer"] <= 1.0


def test_network_method_and_the_cli_write_strict_json_and_markdown(person_folders, tiny_run, tmp_path):
    out = tmp_path / "eval_identity.json"
    assert main(["evaluate", "identity", str(person_folders["root"]), "--checkpoint", str(tiny_run["run"]),
                 "--method", "network,pixels", "--out", str(out), "--quiet"]) == 0
    data = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert data["meta"]["image_size"] == 32 and data["network"]["shape"]["inter_mm"] >= 0
    assert "Network identity code" in out.with_suffix(".md").read_text()
    with pytest.raises(PhotofaceError, match="--checkpoint"):
        evaluate_identity(person_folders["root"], methods=["network"], progress=False)
    with pytest.raises(PhotofaceError, match="unknown identity method"):
        evaluate_identity(person_folders["root"], methods=["eyes"], progress=False)
