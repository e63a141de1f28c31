import json
import shutil

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from photoface.apps import figures
from photoface.apps.inputs import FaceInput, dataset_landmarks
from photoface.apps.reconstruct import reconstruct
from photoface.data.prepare.align import apply_transform, invert_transform
from photoface.data.prepare.pipeline import FaceCrop, PhotoResult
from photoface.errors import InputFileError
from photoface.facemodel import save_model
from photoface.run.inference import load_trained
from support.runs import tiny_face_model
from support.view_data import mesh_arrays, read_view

S = 32  # the tiny run's crop size


def _photos(tiny_run, names=("006_0", "007_1", "006_2")):
    return [tiny_run["data"] / "img" / f"{n}.png" for n in names]


def test_reconstruct_writes_every_file_with_valid_contents(tiny_run, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image at all")
    messages = []
    res = reconstruct(_photos(tiny_run) + [bad], tiny_run["run"], tmp_path / "out", batch_size=2, aligned=True,
                      progress=False, log=messages.append)
    assert [p.name for p in res.written] == ["006_0.json", "007_1.json", "006_2.json"]
    assert [s.path for s in res.skipped] == [bad]
    assert len(messages) == 1 and "broken.png" in messages[0] and "not an image" in messages[0]

    trained = load_trained(tiny_run["run"])
    v, f = trained.face_model.num_vertices, trained.face_model.num_faces
    crop = torch.from_numpy(np.asarray(Image.open(_photos(tiny_run)[1]).convert("RGB")).copy()).permute(2, 0, 1)
    lm = torch.from_numpy(dataset_landmarks(_photos(tiny_run)[1]))[None]
    ref = trained.predict(crop[None].float() / 255, landmarks=lm)
    for name in ("006_0", "007_1", "006_2"):
        for suffix in (".obj", ".ply", ".glb"):
            mesh = trimesh.load(tmp_path / "out" / f"{name}{suffix}", process=False)
            if suffix == ".glb":
                mesh = next(iter(mesh.geometry.values()))
            assert mesh.vertices.shape == (v, 3) and mesh.faces.shape == (f, 3)
            assert mesh.visual.vertex_colors.shape == (v, 4)
        record = json.loads((tmp_path / "out" / f"{name}.json").read_text())
        codes = record["codes"]
        assert [len(codes[k]) for k in ("identity", "expression", "pose", "light")] == [16, 8, 6, 27]
        assert set(record["pose"]) == {"pitch_deg", "yaw_deg", "roll_deg", "scale_px_per_mm", "tx_px", "ty_px"}
        assert record["crop_transform"] is None and record["stage"] == 2
        assert np.asarray(record["landmarks_crop_px"]).shape == (68, 2)
        panel = Image.open(tmp_path / "out" / f"{name}_panel.png")
        assert panel.size == (7 * S + 6 * 2, S + figures.LABEL_H)
        assert Image.open(tmp_path / "out" / f"{name}_overlay.png").size == (S, S)

    # the files hold this photo's prediction, not another one of the batch
    record = json.loads((tmp_path / "out" / "007_1.json").read_text())
    assert np.allclose(record["codes"]["identity"], ref.id_code[0].numpy(), atol=1e-4)
    obj = trimesh.load(tmp_path / "out" / "007_1.obj", process=False)
    assert np.allclose(obj.vertices, ref.shape[0].numpy(), atol=1e-4)
    glb = next(iter(trimesh.load(tmp_path / "out" / "007_1.glb", process=False).geometry.values()))
    assert np.allclose(glb.vertices * 1000.0, ref.shape[0].numpy(), atol=1e-3)

    # the viewer's page: the three photos in order, each with its mesh and codes
    view = read_view(res.view)
    assert [f["name"] for f in view["faces"]] == ["006_0", "007_1", "006_2"]
    assert np.abs(mesh_arrays(view, view["faces"][1]["meshes"][0])["verts"] - obj.vertices).max() < 0.02
    assert view["faces"][1]["codes"]["expression"] == record["codes"]["expression"]


def test_view_error_maps_come_from_the_given_true_meshes(tiny_run, tmp_path):
    photos = _photos(tiny_run, ("006_0", "007_1"))
    first = reconstruct(photos[:1], tiny_run["run"], tmp_path / "a", aligned=True, progress=False)
    mesh = mesh_arrays(read_view(first.view), 0)["verts"]
    bumped = mesh.copy()
    bumped[:10] += [0.0, 0.0, 8.0]  # ten vertices 8 mm off, the rest exact
    res = reconstruct(photos, tiny_run["run"], tmp_path / "b", aligned=True, progress=False,
                      truths={photos[0]: bumped})
    view = read_view(res.view)
    err = mesh_arrays(view, 0)["error"]
    assert mesh_arrays(view, 1)["error"] is None  # no truth for the second photo
    assert err[:10].min() > 4 * np.median(err[10:])


def test_stage_one_meshes_carry_the_gcn_albedo(tiny_run, tmp_path):
    photo = _photos(tiny_run)[0]
    reconstruct([photo], tiny_run["stage1"], tmp_path, aligned=True, progress=False)
    trained = load_trained(tiny_run["stage1"])
    crop = torch.from_numpy(np.asarray(Image.open(photo).convert("RGB")).copy()).permute(2, 0, 1)[None].float() / 255
    albedo = trained.predict(crop, landmarks=torch.from_numpy(dataset_landmarks(photo))[None]).albedo[0].numpy()
    ply = trimesh.load(tmp_path / "006_0.ply", process=False)
    assert np.abs(ply.visual.vertex_colors[:, :3] / 255.0 - albedo).max() <= 0.5 / 255 + 1e-6


def test_raw_photos_go_through_detection_and_map_back_to_the_photo(tiny_run, tmp_path, monkeypatch):
    import photoface.data.prepare.pipeline as prepare

    photo = tmp_path / "holiday.png"
    big = np.zeros((90, 120, 3), np.uint8)
    big[20:84, 30:94] = np.asarray(Image.open(_photos(tiny_run)[0]).convert("RGB").resize((64, 64)))
    Image.fromarray(big).save(photo)
    (tmp_path / "empty.png").write_bytes(photo.read_bytes())
    transform = np.array([[0.5, 0.0, -15.0], [0.0, 0.5, -10.0]])  # original px → crop px
    landmarks = np.random.default_rng(0).uniform(4, 28, size=(68, 2))
    calls = []

    def fake_process_photo(task, options, photo=None):
        calls.append((task.path.name, options.image_size))
        if task.path.name == "empty.png":
            return PhotoResult(task.key, skipped="no face found")
        crop = np.asarray(Image.fromarray(big[20:84, 30:94]).resize((S, S)))
        return PhotoResult(task.key, faces=[FaceCrop(0, crop, np.ones((S, S), bool), landmarks, transform, "hog")])

    monkeypatch.setattr(prepare, "process_photo", fake_process_photo)
    messages = []
    res = reconstruct([photo, tmp_path / "empty.png"], tiny_run["run"], tmp_path / "out", progress=False,
                      log=messages.append)
    assert calls == [("holiday.png", S), ("empty.png", S)]
    assert len(res.written) == 1 and "no face found" in messages[0]
    record = json.loads((tmp_path / "out" / "holiday.json").read_text())
    assert np.allclose(record["crop_transform"], transform)
    assert record["detector"] == "hog"  # the face's detector (here dlib's, as after MediaPipe's fallback)
    lm_crop = np.asarray(record["landmarks_crop_px"])
    assert np.allclose(record["landmarks_photo_px"], apply_transform(invert_transform(transform), lm_crop), atol=1e-2)
    assert Image.open(tmp_path / "out" / "holiday_overlay.png").size == (120, 90), "overlay is on the original"


def test_overlay_warps_the_render_back_through_the_inverse_crop_transform():
    photo = np.zeros((60, 80, 3), np.uint8)
    # crop = photo region x in [20, 52), y in [10, 42), scaled 1:1
    face = FaceInput(path=None, name="x", crop=torch.zeros(3, S, S), photo=photo, photo_scale=1.0,
                     crop_transform=np.array([[1.0, 0.0, -20.0], [0.0, 1.0, -10.0]]))
    scale = 2
    rgb = torch.zeros(3, S * scale, S * scale)
    mask = torch.zeros(1, S * scale, S * scale)
    rgb[:, :, : S * scale // 2] = 1.0  # left half of the crop white
    mask[:] = 1.0
    out = figures.overlay(face, rgb, mask, scale)
    assert out.shape == (60, 80, 3)
    assert (out[12:40, 22:34] == 255).all(), "left half of the crop region is white"
    assert (out[12:40, 38:50] == 0).all() and (out[:, :18] == 0).all() and (out[:, 54:] == 0).all()


def test_bad_checkpoint_is_a_clear_error_and_nothing_is_overwritten(tiny_run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "006_0.json").write_text("earlier result")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    broken = tmp_path / "broken_run"
    shutil.copytree(tiny_run["run"], broken)
    last = broken / "checkpoints" / "last.pt"
    data = last.read_bytes()
    last.unlink()
    last.write_bytes(data[: len(data) // 4])
    with pytest.raises(InputFileError, match="not a readable photoface file"):
        reconstruct(_photos(tiny_run), broken, out, aligned=True, progress=False)

    other = tmp_path / "other_model.npz"
    save_model(tiny_face_model(seed=3), other)
    state = torch.load(tiny_run["run"] / "checkpoints" / "last.pt", weights_only=True)
    state["config"]["model"]["face_model"] = str(other)
    foreign = tmp_path / "foreign.pt"
    torch.save(state, foreign)
    with pytest.raises(InputFileError, match="another face model"):
        reconstruct(_photos(tiny_run), foreign, out, aligned=True, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_missing_input_and_non_square_aligned_photo(tiny_run, tmp_path):
    with pytest.raises(InputFileError, match="no such file or folder"):
        reconstruct([tmp_path / "nope.jpg"], tiny_run["run"], tmp_path / "out", progress=False)
    wide = tmp_path / "wide.png"
    Image.new("RGB", (40, 30)).save(wide)
    messages = []
    res = reconstruct([wide], tiny_run["run"], tmp_path / "out", aligned=True, progress=False, log=messages.append)
    assert not res.written and "not a square training crop" in messages[0]


def _mesh_vertices(path):
    return np.asarray(trimesh.load(path, process=False).vertices)


def test_refine_with_zero_iterations_writes_reconstructs_mesh(tiny_run, tmp_path):
    photos = _photos(tiny_run, ("006_0",))
    reconstruct(photos, tiny_run["stage1"], tmp_path / "plain", aligned=True, progress=False)
    res = reconstruct(photos, tiny_run["stage1"], tmp_path / "ref", aligned=True, progress=False, refine=True,
                      overrides=["light_iterations=0", "photo_iterations=0"])
    assert [p.name for p in res.written] == ["006_0.json"]
    np.testing.assert_allclose(_mesh_vertices(tmp_path / "ref" / "006_0.obj"),
                               _mesh_vertices(tmp_path / "plain" / "006_0.obj"), atol=1e-4)


def test_refine_writes_the_outputs_with_residuals(tiny_run, tmp_path):
    from photoface.cli import main

    photos = _photos(tiny_run)
    args = ["reconstruct", *map(str, photos), "--checkpoint", str(tiny_run["run"]), "--out", str(tmp_path / "o"),
            "--aligned", "--quiet", "--refine", "--same-person", "--set", "light_iterations=2",
            "--set", "photo_iterations=3"]
    assert main(args) == 0
    recs = [json.loads((tmp_path / "o" / f"{p.stem}.json").read_text()) for p in photos]
    for rec, p in zip(recs, photos):
        assert rec["refined"] is True and rec["residuals"]["landmark_rms_px"] >= 0
        assert rec["residuals"]["photometric_mse"] is not None
        for suffix in (".obj", ".ply", "_overlay.png", "_panel.png"):
            assert (tmp_path / "o" / f"{p.stem}{suffix}").is_file()
    # --same-person: one identity code for all three photos
    assert recs[0]["codes"]["identity"] == recs[1]["codes"]["identity"] == recs[2]["codes"]["identity"]
    plain = reconstruct(photos, tiny_run["run"], tmp_path / "p", aligned=True, progress=False)
    ids = [json.loads(p.read_text())["codes"]["identity"] for p in plain.written]
    assert ids[0] != ids[1]


def test_every_face_of_a_group_photo_is_reconstructed_and_empty_folders_are_skipped(tiny_run, tmp_path, monkeypatch):
    import photoface.data.prepare.pipeline as prepare
    from photoface.apps.inputs import load_faces

    rgb = np.asarray(Image.open(_photos(tiny_run)[0]).convert("RGB").resize((120, 90)))
    for name in ("group.png", "solo.png"):
        Image.fromarray(rgb).save(tmp_path / name)
    (tmp_path / "nobody").mkdir()
    big = np.array([[0.5, 0.0, -10.0], [0.0, 0.5, -5.0]])  # original px → crop px; the larger face
    small = np.array([[1.0, 0.0, -60.0], [0.0, 1.0, -40.0]])
    lm = np.random.default_rng(0).uniform(4, 28, size=(68, 2))

    def fake_process_photo(task, options, photo=None):
        assert options.all_faces, "multi-face photos need every face from prepare"
        crop = np.zeros((S, S, 3), np.uint8)
        faces = [FaceCrop(0, crop, np.ones((S, S), bool), lm, big, "hog")]
        if task.path.name == "group.png":
            faces.append(FaceCrop(1, crop + 40, np.ones((S, S), bool), lm, small, "hog"))
        return PhotoResult(task.key, faces=faces)

    monkeypatch.setattr(prepare, "process_photo", fake_process_photo)
    messages = []
    res = reconstruct([tmp_path / "group.png", tmp_path / "nobody", tmp_path / "solo.png"], tiny_run["run"],
                      tmp_path / "out", progress=False, log=messages.append)
    assert [p.name for p in res.written] == ["group_face0.json", "group_face1.json", "solo.json"]
    assert res.photos == 2  # three faces from two photos
    assert [s.path for s in res.skipped] == [tmp_path / "nobody"] and "no image files" in messages[0]
    for name, transform in (("group_face0", big), ("group_face1", small), ("solo", big)):
        assert np.allclose(json.loads((tmp_path / "out" / f"{name}.json").read_text())["crop_transform"], transform)
        assert (tmp_path / "out" / f"{name}_overlay.png").is_file()

    # one photo = one person (verify, transfer): the largest face, and a note names the others
    faces = list(load_faces([tmp_path / "group.png"], S))
    assert len(faces) == 1 and faces[0].name == "group" and np.allclose(faces[0].crop_transform, big)
    assert "2 faces found" in faces[0].notes[0]


def test_only_empty_folders_reconstruct_nothing_without_raising(tiny_run, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    res = reconstruct([tmp_path / "a", tmp_path / "b"], tiny_run["run"], tmp_path / "out", progress=False,
                      log=lambda m: None)
    assert res.written == [] and [s.path for s in res.skipped] == [tmp_path / "a", tmp_path / "b"]
