"""``evaluate landmarks``: known answers of the scorer (face choice, missed photos, NME, yaw bins),
with stand-in detectors whose answers we set, and the real MediaPipe on a face photoface renders."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from photoface.cli import main
from photoface.data.prepare.faces import FaceFinder
from photoface.data.prepare.mediapipe_detect import MediaPipeFace
from photoface.evaluate.landmark_methods import METHODS, box_iou, choose_face
from photoface.evaluate.landmark_photos import write_pts
from photoface.evaluate.landmarks import evaluate_landmarks, nme_summary, write_landmark_results
from photoface.render.camera import project
from support.landmark_files import write_mat
from support.mediapipe_marks import needs_mediapipe


def _model_landmarks(yaw=10.0, centre=(100.0, 100.0), scale=1.0):
    from photoface.facemodel.spec import load_face_model

    model = load_face_model("builtin:demo")
    pose = torch.tensor([[0.0, yaw, 5.0, scale, *centre]])
    return project(model.landmarks(model.shape()), pose)[0, :, :2].double().numpy()


def _shifted(lm, d):
    return lm + np.array([d, 0.0])


class _FakeMediaPipe:
    """Per photo (its pixel (0, 0) red value), the faces' 68 points, as MediaPipe would give them."""

    def __init__(self, faces):
        self.faces = faces

    def detect(self, rgb):
        return [MediaPipeFace(None, lm, np.r_[lm.min(0), lm.max(0)], None, {})
                for lm in self.faces.get(int(rgb[0, 0, 0]), [])]


class _FakeDlib:
    def __init__(self, faces):
        self.faces = faces

    def detect(self, rgb):
        from photoface.data.prepare.detect import Detection

        self.current = self.faces.get(int(rgb[0, 0, 0]), [])
        return [Detection(np.r_[lm.min(0), lm.max(0)], 1.0, "hog") for lm in self.current]

    def landmarks(self, rgb, box):
        return next(lm for lm in self.current if np.allclose(np.r_[lm.min(0), lm.max(0)], box))


@pytest.fixture()
def fake_detectors(monkeypatch):
    """Install stand-in MediaPipe and dlib answers: ``fake_detectors(mediapipe={i: [lm, ...]}, dlib=...)``."""
    def install(mediapipe, dlib):
        fake_mp, fake_dlib = _FakeMediaPipe(mediapipe), _FakeDlib(dlib)
        monkeypatch.setattr(FaceFinder, "mediapipe", property(lambda self: fake_mp))
        monkeypatch.setattr(FaceFinder, "dlib", property(lambda self: fake_dlib))
    return install


def _photo(path, index, size=(220, 200)):
    """A lossless photo whose pixel (0, 0) says which photo it is."""
    rgb = np.random.default_rng(index).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    rgb[0, 0, 0] = index
    Image.fromarray(rgb).save(path)


def test_face_choice_picks_the_face_on_the_truth():
    truth = _model_landmarks()
    far = _model_landmarks(centre=(300.0, 100.0), scale=1.5)  # larger, and found first
    assert choose_face([far, truth + 3.0], truth) == 1
    assert choose_face([far], truth) is None and choose_face([], truth) is None
    # a neighbour overlapping the annotated face by a sliver is not it
    w = np.ptp(truth[:, 0])
    assert choose_face([truth + [0.8 * w, 0.0]], truth) is None
    assert choose_face([truth + [0.1 * w, 0.0]], truth) == 0
    assert box_iou(np.array([0, 0, 2, 2.0]), np.array([1, 1, 3, 3.0])) == pytest.approx(1 / 7)


def test_known_answers_on_a_300w_folder(tmp_path, fake_detectors):
    lm = _model_landmarks()
    big = _model_landmarks(centre=(150.0, 110.0), scale=1.6)
    d = 2.0
    truths = [lm, _shifted(lm, d), lm, lm]
    for i, truth in enumerate(truths):
        _photo(tmp_path / f"{i}.png", i)
        write_pts(tmp_path / f"{i}.pts", truth)
    # photo 0: its own output; 1: shifted by d; 2: a larger face found first; 3: MediaPipe finds none
    fake_detectors({0: [lm], 1: [lm], 2: [big, lm]}, {3: [lm]})
    res = evaluate_landmarks(tmp_path, ["mediapipe", "default"])
    mp = res["mediapipe"]
    box = lm.max(0) - lm.min(0)
    expected = d / np.sqrt(box[0] * box[1])
    nme = [r["nme68"] for r in mp["records"]]
    assert nme[0] == pytest.approx(0.0, abs=1e-5) and nme[2] == pytest.approx(0.0, abs=1e-5)
    assert nme[1] == pytest.approx(expected, rel=1e-3)
    assert mp["records"][1]["nme51"] == pytest.approx(expected, rel=1e-3)  # same normaliser, same shift
    assert nme[3] is None and mp["missed"] == 1 and mp["missed_photos"] == ["3.png"]
    assert mp["nme68"]["overall"] == pytest.approx(expected / 3, rel=1e-3)  # the missed photo is left out
    assert mp["multi_face_photos"] == 1 and mp["records"][2]["faces_found"] == 2
    assert mp["nme68"]["counts"] == {"0-30": 0, "30-60": 0, "60-90": 0}  # .pts: no yaw, no bin
    default = res["default"]
    assert default["missed"] == 0 and default["fallbacks"] == 1
    assert default["records"][3]["detector"] == "hog" and "dlib" in default["records"][3]["fallback"]
    assert default["nme68"]["overall"] == pytest.approx(expected / 4, rel=1e-3)
    assert default["nme68_common"]["photos"] == 3 and mp["nme68_common"]["overall"] == pytest.approx(expected / 3,
                                                                                                    rel=1e-3)
    paths = write_landmark_results(res, tmp_path / "out" / "eval.json")
    data = json.loads(paths[0].read_text())
    assert data["mediapipe"]["records"][3]["nme68"] is None
    md = paths[1].read_text()
    assert "3/4" in md and "mediapipe: 3.png" in md
    tsv = paths[2].read_text().splitlines()
    assert tsv[0].split("\t")[:4] == ["photo", "method", "yaw_deg", "faces_found"] and len(tsv) == 1 + 2 * 4
    assert any(line.startswith("3.png\tmediapipe\t\t0\tmissed\t") for line in tsv)


def test_an_error_in_one_region_shows_in_that_region_alone(tmp_path, fake_detectors):
    truth = _model_landmarks()
    moved = truth.copy()
    moved[27:36] += [0.0, 3.0]  # the nose 3 px low: two definitions of the nose points
    _photo(tmp_path / "0.png", 0)
    write_pts(tmp_path / "0.pts", truth)
    fake_detectors({0: [moved]}, {})
    res = evaluate_landmarks(tmp_path, ["mediapipe"])
    box = truth.max(0) - truth.min(0)
    regions = res["mediapipe"]["nme_regions"]
    assert regions["nose"] == pytest.approx(3.0 / np.sqrt(box[0] * box[1]), rel=1e-3)
    others = ("jaw", "brows", "eyes", "mouth")
    assert {k: regions[k] for k in others} == pytest.approx(dict.fromkeys(others, 0.0), abs=1e-5)
    assert res["mediapipe"]["nme68"]["overall"] == pytest.approx(regions["nose"] * 9 / 68, rel=1e-3)
    md = write_landmark_results(res, tmp_path / "eval.json")[1].read_text()
    assert "NME (%) per region" in md and "| jaw | brows | nose | eyes | mouth |" in md


def test_a_face_found_elsewhere_in_the_photo_is_a_miss(tmp_path, fake_detectors):
    lm = _model_landmarks()
    _photo(tmp_path / "0.png", 0)
    write_pts(tmp_path / "0.pts", lm)
    fake_detectors({0: [_model_landmarks(centre=(400.0, 100.0))]}, {})
    r = evaluate_landmarks(tmp_path, ["mediapipe"])["mediapipe"]
    assert r["missed"] == 1 and r["fallbacks"] == 0 and r["records"][0]["faces_found"] == 1
    assert r["records"][0]["note"] == "1 face(s) found, none overlapping the annotated face"


def test_yaw_bins_on_an_aflw2000_folder(tmp_path, fake_detectors):
    lm = _model_landmarks()
    box = lm.max(0) - lm.min(0)
    s = np.sqrt(box[0] * box[1])
    shifts = {10.0: 1.0, -25.0: 3.0, 45.0: 2.0, 75.0: 4.0}
    found = {}
    for i, (yaw, d) in enumerate(shifts.items()):
        _photo(tmp_path / f"image{i:05d}.jpg", i)  # JPEG: the fake reads pixel (0, 0) of a noise photo
        write_mat(tmp_path / f"image{i:05d}.mat", _shifted(lm, d), yaw)
    for i in range(len(shifts)):
        found[i] = [lm]
    _photo(tmp_path / "image00009.png", 9)
    write_mat(tmp_path / "image00009.mat", lm, 80.0)  # no face found at 80°
    fake_detectors({int(np.asarray(Image.open(tmp_path / f"image{i:05d}.jpg"))[0, 0, 0]): v
                    for i, v in found.items()}, {})
    r = evaluate_landmarks(tmp_path, ["mediapipe"])["mediapipe"]["nme68"]
    assert r["counts"] == {"0-30": 2, "30-60": 1, "60-90": 1}
    assert r["missed_per_bin"] == {"0-30": 0, "30-60": 0, "60-90": 1}
    assert r["bins"]["0-30"] == pytest.approx(2.0 / s, rel=1e-3)  # (1 + 3) / 2
    assert r["bins"]["30-60"] == pytest.approx(2.0 / s, rel=1e-3)
    assert r["bins"]["60-90"] == pytest.approx(4.0 / s, rel=1e-3)
    assert r["mean_of_bins"] == pytest.approx((2.0 + 2.0 + 4.0) / 3 / s, rel=1e-3)
    assert r["overall"] == pytest.approx(10.0 / 4 / s, rel=1e-3)


def test_nme_summary_leaves_unknown_yaw_out_of_the_bins():
    s = nme_summary(np.array([0.01, 0.03, np.nan, 0.05]), np.array([np.nan, 31.0, 70.0, -30.0]))
    assert s["counts"] == {"0-30": 1, "30-60": 1, "60-90": 0} and s["missed_per_bin"]["60-90"] == 1
    assert s["overall"] == pytest.approx(0.03) and s["mean_of_bins"] == pytest.approx(0.04)


def test_fit_method_projects_the_models_landmark_vertices_back_into_the_photo(tmp_path, fake_detectors):
    """The fit on exact landmarks of the built-in model (render stages off: the landmark stage only)
    returns the model's projected landmarks in the ORIGINAL photo's pixels."""
    lm = _model_landmarks(yaw=15.0, centre=(120.0, 105.0), scale=1.1)
    _photo(tmp_path / "0.png", 0)
    write_pts(tmp_path / "0.pts", lm)
    fake_detectors({0: [lm]}, {})
    from photoface.fit.config import FitConfig, apply_overrides

    cfg = apply_overrides(FitConfig(), ["light_iterations=0", "photo_iterations=0"])
    res = evaluate_landmarks(tmp_path, ["fit"], image_size=64, fit_config=cfg)["fit"]
    assert res["missed"] == 0 and res["median_fit_ms"] > 0
    assert res["nme68"]["overall"] < 0.002  # a fit of the model to its own exact landmarks: about 1e-5


def test_fit_method_answers_in_3d_landmarks_when_the_detector_gives_the_silhouette(tmp_path, fake_detectors):
    """At 40° yaw a 2-D detector puts the far jaw points on the cheek's silhouette; AFLW2000-3D's
    truth keeps them where the 3-D landmark vertices project. The fit takes the silhouette points
    and answers with the projected vertices, so it must land nearer the 3-D truth than its input."""
    from photoface.facemodel.spec import load_face_model
    from photoface.fit.config import FitConfig, apply_overrides
    from photoface.fit.point_vertices import landmark_points
    from photoface.render.camera import camera_space

    model = load_face_model("builtin:demo")
    pose = torch.tensor([[0.0, 40.0, 0.0, 1.1, 120.0, 105.0]])
    shape = model.shape()
    truth = project(model.landmarks(shape), pose)[0, :, :2].double().numpy()
    ids = landmark_points(model, contour=True).pick(camera_space(shape, pose), pose[:, 1], 10.0)[0]
    detected = project(shape, pose)[0, ids, :2].double().numpy()
    jaw_gap = np.linalg.norm(detected - truth, axis=1)[:17].max()
    assert jaw_gap > 3.0  # the far jaw points really moved to the silhouette
    _photo(tmp_path / "0.png", 0)
    write_pts(tmp_path / "0.pts", truth)
    fake_detectors({0: [detected]}, {})
    cfg = apply_overrides(FitConfig(), ["light_iterations=0", "photo_iterations=0"])
    res = evaluate_landmarks(tmp_path, ["fit", "mediapipe"], image_size=64, fit_config=cfg)
    assert res["fit"]["nme68"]["overall"] < 0.5 * res["mediapipe"]["nme68"]["overall"]


def test_cli_runs_the_scorer_and_lists_the_methods(tmp_path, fake_detectors, capsys):
    from photoface.cli.evaluate import LANDMARK_METHODS

    assert LANDMARK_METHODS == METHODS
    lm = _model_landmarks()
    _photo(tmp_path / "0.png", 0)
    write_pts(tmp_path / "0.pts", lm)
    fake_detectors({0: [lm]}, {0: [lm]})
    assert main(["evaluate", "landmarks", str(tmp_path), "--method", "mediapipe,dlib", "--quiet",
                 "--out", str(tmp_path / "r.json")]) == 0
    assert (tmp_path / "r.md").is_file() and (tmp_path / "r.tsv").is_file()
    assert main(["evaluate", "landmarks", str(tmp_path), "--method", "sift"]) == 1
    assert "unknown landmark method" in capsys.readouterr().err


@needs_mediapipe
def test_mediapipe_scored_against_its_own_output_gives_zero(tmp_path):
    """The real detector on a render, its own answer written as the truth in .pts (1-based): the
    scorer must read it back to NME 0, through the photo's loading and the .pts convention."""
    from photoface.data.prepare.mediapipe_detect import MediaPipeDetector
    from photoface.facemodel.spec import load_face_model
    from photoface.render.framing import render_view

    model = load_face_model("builtin:demo")
    image = render_view(model.shape(), model.faces, model.albedo(), torch.tensor([[0.0, 20.0, 0.0, 1.2, 128.0, 128.0]]),
                        256)[0]
    Image.fromarray(image).save(tmp_path / "face.png")
    own = MediaPipeDetector().detect(image)[0].landmarks
    write_pts(tmp_path / "face.pts", own)
    res = evaluate_landmarks(tmp_path, ["mediapipe", "default"])
    for m in ("mediapipe", "default"):
        assert res[m]["missed"] == 0 and res[m]["nme68"]["overall"] < 1e-5
    (tmp_path / "blank").mkdir()
    Image.new("RGB", (256, 256), (128, 128, 128)).save(tmp_path / "blank" / "wall.png")
    write_pts(tmp_path / "blank" / "wall.pts", own)
    res = evaluate_landmarks(tmp_path / "blank", ["mediapipe"])["mediapipe"]
    assert res["missed"] == 1 and res["missed_photos"] == ["wall.png"] and res["records"][0]["faces_found"] == 0
