import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from photoface.apps import figures
from photoface.apps.inputs import collect_images, load_faces
from photoface.apps.transfer import transfer, transfer_faces
from photoface.errors import PhotofaceError
from photoface.run.inference import load_trained
from support.view_data import mesh_arrays, read_view

S = 32


def test_transfer_grid_layout_and_meshes(tiny_run, tmp_path):
    img = tiny_run["data"] / "img"
    targets = [img / "007_0.png", img / "007_3.png", img / "006_1.png"]
    res = transfer(img / "006_0.png", targets, tiny_run["run"], tmp_path, meshes=True, aligned=True)
    t = len(targets)
    row_h = S + figures.LABEL_H
    assert res.image.shape == (2 * row_h + 2, (1 + t) * S + 2 * t, 3)
    assert np.asarray(Image.open(res.grid)).shape == res.image.shape
    # the top row shows the photos themselves
    src = np.asarray(Image.open(img / "006_0.png").convert("RGB"))
    assert np.array_equal(res.image[figures.LABEL_H:row_h, :S], src)
    assert sorted(p.name for p in res.meshes) == sorted(
        f"006_0_to_{n}{s}" for n in ("007_0", "007_3", "006_1") for s in (".obj", ".ply", ".glb"))
    v = load_trained(tiny_run["run"]).face_model.num_vertices
    assert trimesh.load(res.meshes[0], process=False).vertices.shape == (v, 3)
    # the viewer: the source, then each target with the transferred mesh beside the source's own
    view = read_view(res.view)
    assert [f["name"] for f in view["faces"]] == ["006_0", "007_0", "007_3", "006_1"]
    assert [f["meshes"] for f in view["faces"]] == [[0], [1, 0], [2, 0], [3, 0]]
    obj = trimesh.load(tmp_path / "006_0_to_007_3.obj", process=False)
    assert np.abs(mesh_arrays(view, 2)["verts"] - obj.vertices).max() < 0.02
    assert set(view["faces"][2]["codes"]["pose"]) >= {"yaw_deg", "pitch_deg", "roll_deg"}


def test_transfer_keeps_the_source_identity_and_takes_the_target_expression(tiny_run):
    trained = load_trained(tiny_run["stage1"])
    paths = collect_images([tiny_run["data"] / "img" / n for n in ("006_0.png", "007_2.png", "006_0.png")])
    src, tgt, same = list(load_faces(paths, S, aligned=True, with_landmarks=True))
    res = transfer_faces(trained, src, [tgt, same])
    out = trained.predict(torch.stack([src.crop, tgt.crop]), landmarks=torch.from_numpy(np.stack([src.landmarks, tgt.landmarks])))
    expected = trained.net.decode_shape(out.id_code[:1], out.exp_code[1:])
    assert torch.allclose(res["shapes"][0], expected[0], atol=1e-4)
    # onto itself, the transfer is the source's own reconstruction
    assert torch.allclose(res["shapes"][1], out.shape[0], atol=1e-4)
    assert torch.allclose(res["albedo"], trained.net.decode_albedo(out.id_code[:1])[0], atol=1e-5)


def test_transfer_needs_one_usable_source_and_a_target(tiny_run, tmp_path):
    img = tiny_run["data"] / "img"
    with pytest.raises(PhotofaceError, match="the source must be one photo"):
        transfer(img, [img / "007_0.png"], tiny_run["run"], tmp_path, aligned=True)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")
    with pytest.raises(PhotofaceError, match="source photo .*empty file"):
        transfer(bad, [img / "007_0.png"], tiny_run["run"], tmp_path / "o", aligned=True)
    with pytest.raises(PhotofaceError, match="no usable target"):
        transfer(img / "006_0.png", [bad], tiny_run["run"], tmp_path / "o", aligned=True, log=lambda m: None)
    assert not (tmp_path / "o").exists()


def test_an_empty_target_folder_is_reported_and_the_other_targets_transferred(tiny_run, tmp_path):
    img = tiny_run["data"] / "img"
    (tmp_path / "nobody").mkdir()
    messages = []
    res = transfer(img / "006_0.png", [tmp_path / "nobody", img / "007_0.png"], tiny_run["run"], tmp_path / "o",
                   aligned=True, log=messages.append)
    assert [s.path for s in res.skipped] == [tmp_path / "nobody"] and "no image files" in messages[0]
    assert res.image.shape[1] == 2 * S + 2  # source and the one usable target
