"""MICC Florence and AFLW2000-3D runners on generated fixtures, and the ablation runner."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from photoface.data.prepare.align import apply_transform, five_points, template_points
from photoface.errors import PhotofaceError
from photoface.evaluate.aflw2000_runner import box_transform, evaluate_aflw2000, template_box
from photoface.evaluate.micc_runner import evaluate_micc
from photoface.pixels import to_uint8
from photoface.render.renderer import Renderer
from support.mediapipe_marks import needs_mediapipe
from support.runs import build_benchmark_run, tiny_overrides

FAST_ICP = {"max_iterations": 10}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_benchmark_run(tmp_path_factory.getbasetemp() / "evaluate_tiny_shared")


def _render(model, alpha_id, yaw, size, seed=0):
    """(size, size, 3) uint8 photo of the tiny face and its 68 landmarks (px)."""
    g = torch.Generator().manual_seed(seed)
    pose = torch.tensor([[3.0, yaw, 2.0, 0.45 * size / 64, size / 2 + 1.0, size / 2 - 2.0]])
    albedo = model.albedo(torch.randn(1, model.n_tex, generator=g))
    out = Renderer(model.faces, size).render(model.shape(alpha_id), albedo, pose, landmarks=model.landmarks68,
                                             background=0.3)
    return to_uint8(out.image[0]), out.landmarks2d[0].double().numpy()


def _obj(path, verts, faces):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"v {x:.4f} {y:.4f} {z:.4f}" for x, y, z in verts] + [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    path.write_text("\n".join(lines) + "\n")


def test_micc_runner_on_a_generated_layout(tiny, tmp_path):
    model = tiny["model"]
    root = tmp_path / "micc"
    known = {}
    yaws = [25.0, 0.0, -25.0, 10.0]
    for s in (1, 2):
        alpha = torch.randn(1, model.n_id, generator=torch.Generator().manual_seed(s))
        subj = root / f"subject_{s:02d}"
        _obj(subj / "Model" / "frontal1" / "obj" / "scan.obj", model.shape(alpha)[0].numpy(), model.faces.numpy())
        frames = subj / "Video" / "Indoor-Cooperative"
        frames.mkdir(parents=True)
        for i, yaw in enumerate(yaws):
            img, lm = _render(model, alpha, yaw, 64, seed=10 * s + i)
            Image.fromarray(img).save(frames / f"frame_{i}.png")
            known[hashlib.sha1(img.tobytes()).hexdigest()] = lm
        # a video in which no face is ever found
        dark = subj / "Video" / "PTZ-Outdoor"
        dark.mkdir()
        Image.new("RGB", (64, 64)).save(dark / "frame_0.png")
    (root / "subject_03").mkdir()  # no scan: skipped

    def landmarker(frame):
        return known.get(hashlib.sha1(np.ascontiguousarray(frame).tobytes()).hexdigest())

    res = evaluate_micc(tiny["run"], root, baselines=["landmark_fit"], landmarker=landmarker,
                        protocol_options=FAST_ICP)
    assert set(res) == {"model", "landmark_fit", "meta"}
    for method in ("model", "landmark_fit"):
        for mode in ("identity", "three_views"):
            coop = res[method]["shape_mm"][mode]["cooperative"]
            assert coop["n"] == 2 and np.isfinite(coop["mean"]) and coop["mean"] >= 0
            assert res[method]["shape_mm"][mode]["outdoor"] == {"mean": pytest.approx(np.nan, nan_ok=True),
                                                                 "std": pytest.approx(np.nan, nan_ok=True),
                                                                 "sem": pytest.approx(np.nan, nan_ok=True),
                                                                 "n": 0, "failed": 2}
    views = [r["frames"] for r in res["model"]["records"]
             if r["mode"] == "three_views" and r["setting"] == "cooperative"]
    assert views == [[0, 1, 2], [0, 1, 2]]  # left (+25°), frontal, right (-25°) by the landmark-fit yaw
    assert res["meta"]["frames_per_video"]["subject_01/cooperative"] == 4
    assert len(res["meta"]["skipped"]) == 1 and "subject_03" in res["meta"]["skipped"][0]
    assert "verification" in res["model"] and "verification" in res["landmark_fit"]
    with pytest.raises(PhotofaceError, match="max_frames"):
        evaluate_micc(tiny["run"], root, landmarker=landmarker, max_frames=0)


def _aflw(root, model, yaws):
    root.mkdir()
    for i, yaw in enumerate(yaws):
        alpha = torch.randn(1, model.n_id, generator=torch.Generator().manual_seed(i))
        img, lm = _render(model, alpha, yaw, 96, seed=i)
        stem = f"image{i:05d}"
        Image.fromarray(img).save(root / f"{stem}.jpg", quality=95)
        pts = np.vstack([(lm + 0.5).T, np.zeros((1, 68))])  # MATLAB pixel centres are 1-based
        pose_para = np.array([[0.0, np.radians(yaw), 0, 0, 0, 0, 1]])
        scipy.io.savemat(root / f"{stem}.mat", {"pt3d_68": pts, "Pose_Para": pose_para})
    return root


def test_aflw2000_runner_bins_and_crops(tiny, tmp_path):
    root = _aflw(tmp_path / "aflw", tiny["model"], [10.0, -45.0, 70.0, 5.0])
    for crop in ("box", "landmarks"):
        res = evaluate_aflw2000(tiny["run"], root, crop=crop, shape_supervised=tiny["run"])
        nme = res["model"]["nme"]
        assert nme["counts"] == {"0-30": 2, "30-60": 1, "60-90": 1}
        assert all(np.isfinite(v) and v > 0 for v in nme["bins"].values())
        assert nme["mean_of_bins"] == pytest.approx(np.mean(list(nme["bins"].values())))
        assert res["shape_supervised"]["nme"] == nme
    assert evaluate_aflw2000(tiny["run"], root, max_images=1)["meta"]["images"] == 1
    with pytest.raises(PhotofaceError, match="crop"):
        evaluate_aflw2000(tiny["run"], root, crop="tight")


def test_aflw2000_detector_crop_takes_the_annotated_face_of_the_finders(tiny, tmp_path, monkeypatch):
    """--crop detector: prepare's face finder; of two faces the one on the annotation, and a photo
    where nothing is found on it falls back to the box crop and is counted."""
    import photoface.data.prepare.faces as faces
    from photoface.data.prepare.faces import Face
    from photoface.evaluate.aflw2000 import list_aflw2000

    root = _aflw(tmp_path / "aflw", tiny["model"], [10.0, -45.0])
    first = list_aflw2000(root)[0].landmarks
    elsewhere = Face(np.full((68, 2), 1.0) + np.arange(68)[:, None] * 0.01, np.zeros(4), "mediapipe")
    kinds, finds = [], []

    class Finder:  # photo 0: a face away from the annotation, then the annotated one; photo 1: only the other
        def __init__(self, kind):
            kinds.append(kind)

        def find(self, rgb, max_faces=None):
            finds.append(1)
            return ([elsewhere, Face(first, np.zeros(4), "mediapipe")] if len(finds) == 1 else [elsewhere]), None

    monkeypatch.setattr(faces, "FaceFinder", Finder)
    res = evaluate_aflw2000(tiny["run"], root, crop="detector")
    assert kinds == ["mediapipe"] and len(finds) == 2 and res["meta"]["detector_fallbacks"] == 1
    # photo 0 (0-30°): the chosen face is the annotation, so its crop is the landmarks crop;
    # photo 1 (30-60°): nothing on the annotation, the box crop
    nme = res["model"]["nme"]["bins"]
    assert nme["0-30"] == pytest.approx(evaluate_aflw2000(tiny["run"], root, crop="landmarks")["model"]["nme"]["bins"]["0-30"])
    assert nme["30-60"] == pytest.approx(evaluate_aflw2000(tiny["run"], root, crop="box")["model"]["nme"]["bins"]["30-60"])


def test_aflw2000_crop_transforms(tiny):
    model = tiny["model"]
    box = template_box(model, 32)
    _, lm = _render(model, torch.zeros(1, model.n_id), 35.0, 96)
    t = box_transform(lm, box)
    mapped = apply_transform(t, lm)
    lo, hi = mapped.min(0), mapped.max(0)
    assert hi[1] - lo[1] == pytest.approx(box[3] - box[1])  # heights match
    assert np.allclose((lo + hi) / 2, (box[:2] + box[2:]) / 2)  # centres match
    assert t[0, 1] == 0 and t[1, 0] == 0 and t[0, 0] == t[1, 1]  # no rotation, one scale
    from photoface.data.prepare.align import alignment_transform

    t5 = alignment_transform(lm, 32)
    fit = apply_transform(t5, five_points(lm))
    assert np.abs(fit - template_points(32)).mean() < 0.3 * np.abs(template_points(32) - 16).mean()


def test_ablation_variant_configs():
    from photoface.apps.ablation import VARIANTS, variant_config

    assert list(VARIANTS) == ["full", "no_recog", "no_adv", "laplacian", "shape_supervised"]
    full = variant_config("full", minutes=2.5, steps=7)
    assert full.schedule.time_limit_minutes == 2.5 and full.schedule.max_steps == 7
    no_recog = variant_config("no_recog")
    assert no_recog.loss.recognition == 0 and no_recog.loss.center == 0 and no_recog.loss.adversarial > 0
    assert variant_config("no_adv").loss.adversarial == 0
    assert variant_config("laplacian").loss.smooth_kind == "laplacian"
    shape_cfg = variant_config("shape_supervised")
    shape = shape_cfg.loss
    kept = {k for k in ("shape", "pairwise_shape", "landmark", "landmark_gdl") if getattr(shape, k) > 0}
    assert kept == {"shape", "pairwise_shape", "landmark", "landmark_gdl"}
    assert all(getattr(shape, k) == 0 for k in ("recognition", "center", "photometric", "photometric_gdl", "smooth",
                                                 "albedo_symmetry", "adversarial"))
    assert full.schedule.seed == shape_cfg.schedule.seed
    with pytest.raises(PhotofaceError, match="unknown ablation variant"):
        variant_config("no_photo")
    with pytest.raises(PhotofaceError, match="positive"):
        variant_config("full", minutes=0)


@pytest.mark.slow
def test_ablation_trains_and_scores_every_variant(tiny, tmp_path):
    from photoface.apps.ablation import run_ablation

    overrides = tiny_overrides(tiny["model_path"])
    res = run_ablation(tiny["data"], tmp_path / "abl", steps_per_variant=1, overrides=overrides, progress=False,
                       protocol_options=FAST_ICP)
    names = ["full", "no_recog", "no_adv", "laplacian", "shape_supervised"]
    assert [k for k in res if k != "meta"] == names
    for name in names:
        assert res[name]["training"]["steps"] == 1 and np.isfinite(res[name]["shape_mm"]["identity"]["indoor"]["mean"])
    md = (tmp_path / "abl" / "ablation.md").read_text()
    for label in ("Full model", "w/o L_recog", "w/o L_adv", "Conventional smoothing", "Shape supervision only"):
        assert label in md
    assert json.loads((tmp_path / "abl" / "ablation.json").read_text())["meta"]["budget"]["steps_per_variant"] == 1
    # a second call reuses the trained variants instead of retraining them
    again = run_ablation(tiny["data"], tmp_path / "abl", variants=["no_adv"], overrides=overrides, progress=False,
                         protocol_options=FAST_ICP)
    assert again["no_adv"]["training"]["reused"] is True


@needs_mediapipe
def test_micc_frames_find_faces_as_prepare_does():
    """The runner's default landmarker is prepare's face finder (MediaPipe, dlib where it finds
    none): on a real photo it gives MediaPipe's 68 points, on an empty frame nothing."""
    from skimage import data

    from photoface.data.prepare.mediapipe_detect import MediaPipeDetector
    from photoface.evaluate.micc_runner import face_landmarker

    photo = data.astronaut()
    np.testing.assert_allclose(face_landmarker()(photo), MediaPipeDetector().detect(photo)[0].landmarks)
    assert face_landmarker()(np.zeros((64, 64, 3), np.uint8)) is None
