import json
from pathlib import Path

import numpy as np
import pytest
import torch

from photoface.apps.verify import collection_code, read_calibrations, verify
from photoface.errors import InputFileError, PhotofaceError
from photoface.run.inference import load_trained, read_calibration


@pytest.fixture(scope="module")
def trained(tiny_run):
    return load_trained(tiny_run["run"])


def test_same_image_scores_one_and_the_decision_follows_the_threshold(tiny_run, trained):
    img = tiny_run["data"] / "img"
    same = verify(img / "006_0.png", img / "006_0.png", None, threshold=0.5, aligned=True, trained=trained)
    assert same.score == pytest.approx(1.0, abs=1e-6) and same.same is True
    other = verify(img / "006_0.png", img / "007_0.png", None, threshold=0.0, aligned=True, trained=trained)
    s = other.score
    assert -1.0 <= s < 1.0 - 1e-9
    above = verify(img / "006_0.png", img / "007_0.png", None, threshold=s + 1e-6, aligned=True, trained=trained)
    below = verify(img / "006_0.png", img / "007_0.png", None, threshold=s - 1e-6, aligned=True, trained=trained)
    assert above.same is False and below.same is True and "different people" in above.describe()


def test_calibrated_threshold_comes_from_the_run_folder(tiny_run, trained, tmp_path):
    img = tiny_run["data"] / "img"
    trained_copy = load_trained(tiny_run["run"])
    trained_copy.run_dir = tmp_path
    with pytest.raises(PhotofaceError, match="--threshold"):
        verify(img / "006_0.png", img / "007_0.png", None, aligned=True, trained=trained_copy, require_threshold=True)
    undecided = verify(img / "006_0.png", img / "007_0.png", None, aligned=True, trained=trained_copy)
    assert undecided.same is None and "no decision" in undecided.describe()

    (tmp_path / "verification.json").write_text(json.dumps({"threshold": 2.0, "calibrated_on": "test pairs"}))
    trained_copy.calibration, trained_copy.calibration_source = read_calibration(tmp_path, {})
    v = verify(img / "006_0.png", img / "006_0.png", None, aligned=True, trained=trained_copy)
    assert v.threshold == 2.0 and v.same is False and "test pairs" in v.threshold_source
    (tmp_path / "verification.json").write_text("{}")
    trained_copy.calibration, trained_copy.calibration_source = read_calibration(tmp_path, {})
    with pytest.raises(InputFileError, match="verification.json"):
        read_calibrations(trained_copy)
    (tmp_path / "verification.json").write_text("{torn")
    with pytest.raises(InputFileError, match="verification.json"):
        read_calibration(tmp_path, {})


def test_folders_are_collections_averaged_over_normalised_codes(tiny_run, trained, tmp_path):
    codes = torch.tensor([[3.0, 0.0], [0.0, 1.0]])
    assert np.allclose(collection_code(codes), [0.5, 0.5])
    folder = tmp_path / "person"
    folder.mkdir()
    for n in ("006_0", "006_1", "006_2"):
        (folder / f"{n}.png").write_bytes((tiny_run["data"] / "img" / f"{n}.png").read_bytes())
    v = verify(folder, folder, None, threshold=0.5, aligned=True, trained=trained)
    assert v.photos_a == v.photos_b == 3 and v.score == pytest.approx(1.0, abs=1e-6)


def test_a_synthetic_threshold_does_not_decide_on_real_photos_until_calibrated_on_them(tiny_run, tmp_path, monkeypatch):
    """The demo's threshold, calibrated on synthetic faces, called every real pair "same person"."""
    from PIL import Image

    import photoface.data.prepare.pipeline as prepare
    from photoface.apps.inputs import dataset_landmarks
    from photoface.data.prepare.pipeline import FaceCrop, PhotoResult
    from photoface.run.layout import PHOTO_VERIFICATION_FILE

    img = tiny_run["data"] / "img"
    people = tmp_path / "people"
    for ident in ("005", "006", "007"):
        for k in range(3):
            path = people / f"p{ident}" / f"{k}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes((img / f"{ident}_{k}.png").read_bytes())

    def fake_process_photo(task, options, photo=None):
        crop = img / f"{Path(task.path).parent.name[1:]}_{Path(task.path).stem}.png"  # people/p006/0.png
        rgb = np.asarray(Image.open(crop).convert("RGB"))
        return PhotoResult(task.key, faces=[FaceCrop(0, rgb, np.ones(rgb.shape[:2], bool), dataset_landmarks(crop),
                                                     np.eye(2, 3), "hog")])

    monkeypatch.setattr(prepare, "process_photo", fake_process_photo)
    trained = load_trained(tiny_run["run"])
    trained.run_dir = tmp_path
    # a calibration written before domains were recorded: the synthetic benchmark's
    trained.calibration, trained.calibration_source = {"threshold": -2.0}, tmp_path / "verification.json"
    a, b = people / "p006" / "0.png", people / "p007" / "1.png"
    refused = verify(a, b, None, trained=trained, require_threshold=True)
    assert refused.same is None and refused.refused and "synthetic" in refused.describe()
    assert "--calibrate" in refused.describe()
    # ready-made crops are taken to be of the evaluation's domain: it still decides there
    assert verify(img / "006_0.png", img / "007_1.png", None, aligned=True, trained=trained).same is True

    calibrated = verify(a, b, None, trained=trained, calibrate_on=people)
    stored = json.loads((tmp_path / PHOTO_VERIFICATION_FILE).read_text())
    assert stored["domain"] == {"kind": "photos", "detector": "mediapipe"} and "9 real photos of 3 people" in \
        stored["calibrated_on"]
    assert calibrated.same is not None and calibrated.threshold == pytest.approx(stored["threshold"])
    # later calls on real photos use the stored real-photo threshold
    again = verify(a, b, None, trained=trained)
    assert again.threshold == calibrated.threshold and PHOTO_VERIFICATION_FILE in again.threshold_source
    other = verify(a, b, None, trained=trained, detector="hog")
    assert "detector mediapipe" in other.describe() and "went through hog" in other.describe()
