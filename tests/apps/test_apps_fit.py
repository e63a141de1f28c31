"""``photoface fit`` end to end on the tiny model: output names, labels, training on the labels, errors."""

import json

import numpy as np
import pytest
from PIL import Image

from photoface.apps.fit import LABELS_DIR, REPORT_FILE, fit_photos
from photoface.cli import main
from photoface.data.format import load_dataset
from photoface.errors import InputFileError, PhotofaceError
from photoface.facemodel.io import model_hash, save_model
from photoface.fit.labels import LABEL_SOURCE
from support.runs import tiny_config, tiny_face_model, write_tiny_dataset
from support.view_data import mesh_arrays, read_view

QUICK = ["light_iterations=2", "photo_iterations=2", "landmark_iterations=5"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("fit_app")
    model = tiny_face_model()
    model_path = root / "tiny_model.npz"
    save_model(model, model_path)
    data = write_tiny_dataset(root / "data", model, model_path, n_ids=2, per_id=3, test_ids=0)
    lines = []
    res = fit_photos(data, root / "out", model=str(model_path), overrides=QUICK, progress=False, log=lines.append)
    return {"root": root, "model": model, "model_path": model_path, "data": data, "res": res, "lines": lines}


def test_outputs_are_named_after_the_photos(fitted):
    out = fitted["root"] / "out"
    ds = load_dataset(fitted["data"])
    for row in ds.rows:
        stem = row.image.rsplit("/", 1)[1].rsplit(".", 1)[0]
        folder = out / row.identity
        for suffix in (".obj", ".ply", ".glb", ".json", "_overlay.png"):
            assert (folder / f"{stem}{suffix}").is_file(), f"{stem}{suffix}"
        rec = json.loads((folder / f"{stem}.json").read_text())
        assert len(rec["codes"]["identity"]) == fitted["model"].n_id
        assert rec["residuals"]["landmark_rms_px"] >= 0 and rec["pose"]["scale_px_per_mm"] > 0
    for person in ("p0", "p1"):
        assert all((out / person / f"identity{s}").is_file() for s in (".obj", ".ply", ".glb"))
        info = json.loads((out / person / "person.json").read_text())
        assert len(info["photos"]) == 3 and len(info["identity_vector"]) == fitted["model"].n_id
    assert (out / REPORT_FILE).is_file()
    assert fitted["res"].people == 2 and len(fitted["res"].written) == 6
    assert len(fitted["lines"]) == 2 and fitted["lines"][0].startswith("p0: 3 photo(s), landmark RMS")
    with Image.open(out / "p0" / f"{ds.rows[0].image.rsplit('/', 1)[1].rsplit('.', 1)[0]}_overlay.png") as im:
        assert im.size == (32, 32)  # no source photo: drawn over the crop


def test_view_shows_each_photo_beside_its_person_identity(fitted):
    out = fitted["root"] / "out"
    view = read_view(fitted["res"].view)
    assert fitted["res"].view == out / "view.html"
    ds = load_dataset(fitted["data"])
    assert [(f["group"], f["name"]) for f in view["faces"]] == [
        (r.identity, r.image.rsplit("/", 1)[1].rsplit(".", 1)[0]) for r in ds.rows]
    # two meshes per photo, the identity stored once per person
    assert [f["meshes"][1] for f in view["faces"]] == [1, 1, 1, 5, 5, 5]
    import trimesh

    face = view["faces"][4]
    photo = mesh_arrays(view, face["meshes"][0])
    obj = trimesh.load(out / face["group"] / f"{face['name']}.obj", process=False)
    assert np.abs(photo["verts"] - obj.vertices).max() < 0.02
    identity = trimesh.load(out / face["group"] / "identity.obj", process=False)
    assert np.abs(mesh_arrays(view, face["meshes"][1])["verts"] - identity.vertices).max() < 0.02
    rec = json.loads((out / face["group"] / f"{face['name']}.json").read_text())
    assert face["codes"]["expression"] == rec["codes"]["expression"]
    assert face["codes"]["numbers"]["landmark_rms_px"] == rec["residuals"]["landmark_rms_px"]
    # synthetic rows have true meshes: the photo's mesh carries its error after a similarity
    # alignment, which can only lower the RMS of the unaligned distances
    true = ds.load_true_mesh(ds.rows[4]).numpy()
    err = photo["error"]
    unaligned = np.sqrt((np.linalg.norm(obj.vertices - true, axis=1) ** 2).mean())
    assert err is not None and 0 < np.sqrt((err**2).mean()) <= unaligned + view["meshes"][face["meshes"][0]]["error_max_mm"] / 255


def test_labels_dataset_carries_the_fit_and_trains(fitted, tmp_path):
    from photoface.train import train

    labels = load_dataset(fitted["root"] / "out" / LABELS_DIR)
    assert len(labels) == 6 and labels.meta.face_model_hash == model_hash(fitted["model"])
    for person in ("p0", "p1"):
        rows = [r for r in labels.rows if r.identity == person]
        assert all(r.labeled and r.extra["label_source"] == LABEL_SOURCE for r in rows)
        np.testing.assert_array_equal(rows[0].alpha_id, rows[1].alpha_id)  # one shared identity
        assert rows[0].alpha_exp.shape == (fitted["model"].n_exp,) and rows[0].pose.shape == (6,)
    assert (labels.root / labels.rows[0].image).is_file() and (labels.root / labels.rows[0].mask).is_file()
    cfg = tiny_config(fitted["model_path"], "schedule.stage1_steps=1", "schedule.stage2_steps=1")
    # the paper's setting: the fitted labels are the labeled part, the collection itself the unlabeled part
    summary = train(cfg, [fitted["data"], labels.root], tmp_path / "run", progress=False)
    assert summary.steps == 2


def test_cli_fit_prints_a_summary(fitted, tmp_path, capsys):
    args = ["fit", str(fitted["data"]), "--out", str(tmp_path / "o"), "--model", str(fitted["model_path"]),
            "--iterations", "1", "--quiet"] + [a for q in QUICK for a in ("--set", q)]
    assert main(args) == 0
    assert "fitted 2 person(s), 6 photo(s)" in capsys.readouterr().out


def test_empty_folder_and_folder_without_faces_are_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="empty"):
        fit_photos(tmp_path / "empty", tmp_path / "o1", progress=False)
    person = tmp_path / "noface" / "someone"
    person.mkdir(parents=True)
    Image.fromarray(np.full((120, 160, 3), 128, np.uint8)).save(person / "grey.png")
    with pytest.raises(InputFileError, match="no faces found"):
        fit_photos(tmp_path / "noface", tmp_path / "o2", progress=False)


def test_fit_with_a_checkpoint_refines_the_network_codes(tiny_run, tmp_path, capsys):
    from photoface.run.inference import load_trained

    trained = load_trained(tiny_run["run"])
    args = ["fit", str(tiny_run["data"]), "--out", str(tmp_path / "o"), "--checkpoint", str(tiny_run["run"]),
            "--quiet", "--set", "light_iterations=1", "--set", "photo_iterations=2"]
    assert main(args) == 0
    assert "person(s)" in capsys.readouterr().out
    assert not (tmp_path / "o" / LABELS_DIR).exists()  # network codes are no face-model labels
    people = [p for p in (tmp_path / "o").iterdir() if (p / "person.json").is_file()]
    assert people
    info = json.loads((people[0] / "person.json").read_text())
    assert len(info["identity_vector"]) == trained.config.model.id_dim
    rec = json.loads((people[0] / f"{info['photos'][0]}.json").read_text())
    assert rec["codes"]["identity"] == info["identity_vector"]
    assert len(rec["codes"]["expression"]) == trained.config.model.exp_dim
    assert rec["residuals"]["landmark_rms_px"] >= 0 and (people[0] / "identity.obj").is_file()


def _strict_json(path):
    def refuse(name):
        raise ValueError(f"{path}: non-standard JSON constant {name}")
    return json.loads(path.read_text(), parse_constant=refuse)


def test_every_json_fit_writes_is_strict_and_each_photo_has_its_own_identity(fitted):
    out = fitted["root"] / "out"
    files = sorted(out.rglob("*.json"))
    assert any(f.name == "person.json" for f in files)
    for f in files:  # person.json once held NaN (the landmark stage's objective has no start value)
        _strict_json(f)
    info = json.loads((out / "p0" / "person.json").read_text())
    assert info["objective"]["landmarks"][0] is None
    singles = [json.loads((out / "p0" / f"{name}.json").read_text())["codes"] for name in info["photos"]]
    assert all(len(c["identity_single"]) == fitted["model"].n_id for c in singles)
    assert all(c["identity"] == info["identity_vector"] for c in singles)  # the shared one stays shared
    # each photo fitted alone: no two photos share their single-photo identity
    assert len({tuple(c["identity_single"]) for c in singles}) == len(singles)


def test_empty_folders_faceless_photos_and_other_faces_are_named_on_screen_and_in_the_report(tmp_path, monkeypatch):
    """A folder of person folders with the awkward cases of a real collection: an empty person
    folder, a photo without a face, and a group photo where the person is the smaller face."""
    import torch

    import photoface.data.prepare.pipeline as prepare
    from fit.conftest import render_person
    from photoface.data.prepare.pipeline import FaceCrop, PhotoResult

    size = 64
    model = tiny_face_model(seed=1)
    model_path = tmp_path / "tiny.npz"
    save_model(model, model_path)
    alpha = torch.tensor([[2.0, -1.5, 1.0, 1.5, -1.0, 0.5, -2.0, 1.0]])[:, :model.n_id]
    ann = render_person(model, alpha, yaws=(-20.0, 10.0, 25.0), size=size)
    other = render_person(model, -alpha, yaws=(0.0,), size=size, seed=5)
    root = tmp_path / "photos"
    for name in ("ann/a.png", "ann/b.png", "ann/group.png", "ann/wall.png", "bob/b1.png"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((size, size, 3), 90, np.uint8)).save(root / name)
    (root / "carl").mkdir()

    def crop(photo, k):
        image = (photo["images"][k].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        return image, photo["masks"][k, 0].numpy() > 0.5, photo["landmarks"][k]

    faces = {"a.png": [crop(ann, 0)], "b.png": [crop(ann, 1)], "group.png": [crop(other, 0), crop(ann, 2)],
             "b1.png": [crop(other, 0)]}

    def fake_process_photo(task, options, photo=None):
        if task.path.name not in faces:
            return PhotoResult(task.key, skipped="no face found")
        found = faces[task.path.name] if options.all_faces else faces[task.path.name][:1]
        return PhotoResult(task.key, faces=[FaceCrop(k, im, m, lm, np.array([[1.0, 0, 0], [0, 1.0, 0]]), "hog")
                                            for k, (im, m, lm) in enumerate(found)])

    monkeypatch.setattr(prepare, "process_photo", fake_process_photo)
    lines = []
    res = fit_photos(root, tmp_path / "out", model=str(model_path), overrides=QUICK, image_size=size, progress=False,
                     log=lines.append)
    assert res.skipped.keys() == {"carl/", "ann/wall.png", "ann/group.png#0"}
    assert "no photos" in res.skipped["carl/"] and res.skipped["ann/wall.png"] == "no face found"
    assert "face 1 fitted" in res.skipped["ann/group.png#0"]
    for key in res.skipped:
        assert any(line.startswith(f"skipped {key}: ") for line in lines), key
    report = (tmp_path / "out" / REPORT_FILE).read_text()
    for key, why in res.skipped.items():
        assert f"{key}\tskipped: {why}" in report
    # the kept face of the group photo is ann's: her shared fit has the group photo's landmarks
    rec = json.loads((tmp_path / "out" / "ann" / "group.json").read_text())
    assert np.abs(np.asarray(rec["landmarks_crop_px"]) - ann["landmarks"][2]).mean() < 3.0
    assert res.people == 2 and len(res.written) == 4
    labels = load_dataset(tmp_path / "out" / LABELS_DIR)
    assert len(labels) == 4, "the face left out is no training row of ann"
    # the prepared dataset given back to fit: prepare's skipped photos and the choice are reported again
    again = fit_photos(tmp_path / "out" / "prepared", tmp_path / "again", model=str(model_path),
                       overrides=QUICK + ["single_photo_fits=false"], progress=False, log=lines.append)
    assert {"ann/wall.png", "ann/group.png#0"} <= again.skipped.keys() and len(again.written) == 4


def test_meshes_carry_the_albedo_read_off_the_photos_and_each_overlay_that_of_the_others(fitted, tmp_path,
                                                                                         monkeypatch):
    """The default texture ("photos"): the meshes carry the albedo fused from all the person's
    photos; each photo's overlay is drawn with the one fused from the OTHER photos
    (``texture.leave_one_out``, stood in for here by one pure colour per photo)."""
    import torch
    import trimesh

    import photoface.apps.fit as fit_app

    model_out = tmp_path / "model_albedo"
    fit_photos(fitted["data"], model_out, model=str(fitted["model_path"]), overrides=[*QUICK, "texture=model"],
               progress=False, log=lambda _: None)
    out = fitted["root"] / "out"
    a = np.asarray(trimesh.load(out / "p0" / "identity.ply", process=False).visual.vertex_colors)[:, :3]
    b = np.asarray(trimesh.load(model_out / "p0" / "identity.ply", process=False).visual.vertex_colors)[:, :3]
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 2
    ds = load_dataset(fitted["data"])
    rows = [r for r in ds.rows if r.identity == "p0"]
    stems = [r.image.rsplit("/", 1)[1].rsplit(".", 1)[0] for r in rows]
    photo_mesh = np.asarray(trimesh.load(out / "p0" / f"{stems[0]}.ply", process=False).visual.vertex_colors)
    np.testing.assert_array_equal(photo_mesh, np.asarray(trimesh.load(out / "p0" / "identity.ply",
                                                                        process=False).visual.vertex_colors))

    pure = torch.eye(3)

    def stand_in(albedo, weight, mirror, prior, cfg):
        return [pure[i].expand(albedo.shape[1], 3) for i in range(albedo.shape[0])]

    monkeypatch.setattr(fit_app, "leave_one_out", stand_in)
    pure_out = tmp_path / "pure"
    fit_photos(fitted["data"], pure_out, model=str(fitted["model_path"]), overrides=QUICK, progress=False,
               log=lambda _: None)
    for i, (row, stem) in enumerate(zip(rows, stems)):
        over = np.asarray(Image.open(pure_out / "p0" / f"{stem}_overlay.png").convert("RGB"), np.float64)
        face = np.asarray(Image.open(ds.root / row.mask)) > 0
        assert over[face].mean(0).argmax() == i  # photo i drawn in colour i


def test_an_unknown_texture_kind_is_refused_before_fitting(fitted, tmp_path):
    with pytest.raises(PhotofaceError, match="texture must be photos or model"):
        fit_photos(fitted["data"], tmp_path / "o", model=str(fitted["model_path"]), overrides=["texture=scan"],
                   progress=False)
