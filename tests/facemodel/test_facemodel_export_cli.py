import numpy as np
import pytest
import torch
import trimesh

from photoface.cli import main
from photoface.errors import PhotofaceError
from photoface.facemodel.export import export_face, face_mesh, parse_coefficients, write_mesh
from photoface.facemodel.io import load_model, save_model
from photoface.facemodel.summary import describe


def test_parse_coefficients_forms():
    assert torch.equal(parse_coefficients(None, 3, "identity"), torch.zeros(1, 3))
    assert parse_coefficients("1, -2", 4, "identity").tolist() == [[1.0, -2.0, 0.0, 0.0]]
    r1, r2 = parse_coefficients("random:5", 6, "identity"), parse_coefficients("random:5", 6, "identity")
    assert torch.equal(r1, r2) and r1.abs().sum() > 0
    w = parse_coefficients("random:1", 200, "expression", "blendshape")
    assert w.min() >= 0 and w.max() <= 1 and (w == 0).any()
    with pytest.raises(PhotofaceError, match="--identity"):
        parse_coefficients("1,2,3", 2, "identity")
    with pytest.raises(PhotofaceError, match="random:SEED"):
        parse_coefficients("random:x", 2, "identity")



def test_random_expression_is_folded_into_the_bounds():
    inf = float("inf")
    bounds = torch.tensor([[-inf, inf], [0.0, inf]] * 50)
    free = parse_coefficients("random:3", 100, "expression")
    jaw = parse_coefficients("random:3", 100, "expression", "pca", bounds)
    assert torch.equal(jaw[0, 1::2], free[0, 1::2].abs()) and torch.equal(jaw[0, ::2], free[0, ::2])
    assert (free[0, 1::2] < 0).any()

def test_export_keeps_vertex_order_and_colours(tiny_model, tmp_path):
    a_id = torch.zeros(1, tiny_model.n_id)
    a_id[0, 0] = 1.0
    beta = torch.ones(1, tiny_model.n_tex)
    for suffix in (".ply", ".obj"):
        path = export_face(tiny_model, tmp_path / f"face{suffix}", a_id, None, beta)
        mesh = trimesh.load(path, process=False)
        assert np.allclose(mesh.vertices, tiny_model.shape(a_id)[0].numpy(), atol=1e-4)
        assert np.array_equal(mesh.faces, tiny_model.faces.numpy())
        colours = mesh.visual.vertex_colors[:, :3] / 255.0
        assert np.allclose(colours, tiny_model.albedo(beta)[0].numpy(), atol=1 / 255 + 1e-6)
    with pytest.raises(PhotofaceError, match="unsupported"):
        export_face(tiny_model, tmp_path / "face.stl")


def test_write_mesh_clips_colours_and_keeps_vertices(tmp_path):
    verts = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0]])  # vertex 3 coincides with 0
    faces = np.array([[0, 1, 2], [3, 2, 1]])
    colours = np.array([[1.2, -0.1, 0.5], [0, 0, 0], [1, 1, 1], [0.25, 0.5, 0.75]])
    for suffix in (".ply", ".obj"):
        mesh = trimesh.load(write_mesh(tmp_path / f"m{suffix}", verts, faces, colours), process=False)
        assert np.allclose(mesh.vertices, verts) and np.array_equal(mesh.faces, faces)
        assert mesh.visual.vertex_colors[0, :3].tolist() == [255, 0, 128]
        assert mesh.visual.vertex_colors[3, :3].tolist() == [64, 128, 191]
    with pytest.raises(PhotofaceError, match="unsupported"):
        write_mesh(tmp_path / "m.stl", verts, faces, colours)


def test_export_does_not_merge_coincident_vertices(demo_model):
    mesh = face_mesh(demo_model)  # the closed mouth has two coincident lips
    assert len(mesh.vertices) == demo_model.num_vertices


def test_describe_reports_sizes_and_bounding_box(tiny_model):
    text = describe(tiny_model)
    assert "vertices:    121" in text and "identity:    4 modes" in text
    assert "x [-40.0, 40.0] (80.0)" in text
    assert "license:     CC0" in text


def test_cli_model_commands(tiny_model, tmp_path, capsys, monkeypatch):
    import photoface.apps.preview as preview

    for name in ("views_image", "identities_image", "expressions_image"):  # small pictures: fast
        original = getattr(preview, name)
        monkeypatch.setattr(preview, name, lambda m, _f=original: _f(m, size=24))
    path = save_model(tiny_model, tmp_path / "tiny.npz")
    assert main(["model", "info", str(path)]) == 0
    assert "triangles:   200" in capsys.readouterr().out
    out = tmp_path / "f.ply"
    assert main(["model", "export", str(path), "--identity", "random:3", "-o", str(out)]) == 0
    assert len(trimesh.load(out, process=False).vertices) == 121
    assert main(["model", "info", str(tmp_path / "missing.npz")]) == 1
    assert "missing.npz: no such face-model file" in capsys.readouterr().err
    assert main(["model", "preview", str(path), "--out", str(tmp_path / "prev")]) == 0
    assert sorted(p.name for p in (tmp_path / "prev").iterdir()) == [
        "tiny_expressions.png", "tiny_identities.png", "tiny_views.png"]


def test_cli_model_commands_take_builtin_names(tiny_model, tmp_path, capsys, monkeypatch):
    """info, export and preview read builtin:demo / builtin:paper like every command that takes a model."""
    import photoface.apps.preview as preview
    from photoface.facemodel import procedural

    for name in ("views_image", "identities_image", "expressions_image"):
        original = getattr(preview, name)
        monkeypatch.setattr(preview, name, lambda m, _f=original: _f(m, size=24))
    asked = []
    monkeypatch.setattr(procedural, "builtin_model", lambda resolution: asked.append(resolution) or tiny_model)
    assert main(["model", "info", "builtin:demo"]) == 0
    assert "vertices:    121" in capsys.readouterr().out
    out = tmp_path / "f.obj"
    assert main(["model", "export", "builtin:paper", "--identity", "random:1", "-o", str(out)]) == 0
    assert len(trimesh.load(out, process=False).vertices) == 121
    assert main(["model", "preview", "builtin:demo", "--out", str(tmp_path / "prev")]) == 0
    assert sorted(p.name for p in (tmp_path / "prev").iterdir())[0] == "builtin_demo_expressions.png"
    assert asked == ["demo", "paper", "demo"]
    assert main(["model", "info", "builtin:huge"]) == 1
    assert "builtin:demo and builtin:paper" in capsys.readouterr().err


def test_cli_build_procedural_writes_a_loadable_model(tmp_path, monkeypatch, tiny_model):
    from photoface.facemodel import procedural

    monkeypatch.setattr(procedural, "build_procedural_model", lambda resolution, seed: tiny_model)
    out = tmp_path / "m.npz"
    assert main(["model", "build-procedural", "--resolution", "demo", "--seed", "3", "-o", str(out)]) == 0
    assert load_model(out).num_vertices == tiny_model.num_vertices


def test_write_mesh_glb_holds_metres_colours_and_normals(tmp_path):
    import json
    import struct

    verts = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 10.0]])
    faces = np.array([[0, 1, 2], [0, 2, 3], [0, 3, 1], [1, 3, 2]])
    colours = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.5]])
    path = write_mesh(tmp_path / "face.glb", verts, faces, colours)
    mesh = next(iter(trimesh.load(path, process=False).geometry.values()))
    np.testing.assert_allclose(mesh.vertices, verts / 1000.0, atol=1e-7)  # glTF's unit is the metre
    np.testing.assert_array_equal(mesh.faces, faces)
    np.testing.assert_array_equal(mesh.visual.vertex_colors[:, :3], [[255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 128, 128]])
    blob = path.read_bytes()
    gltf = json.loads(blob[20:20 + struct.unpack("<I", blob[12:16])[0]])
    assert {"POSITION", "COLOR_0", "NORMAL"} <= set(gltf["meshes"][0]["primitives"][0]["attributes"])

