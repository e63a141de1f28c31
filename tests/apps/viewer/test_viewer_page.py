import json

import numpy as np
import pytest

from photoface.apps.viewer.page import STEP_MM, ViewFace, ViewMesh, render_page, write_view
from photoface.errors import PhotofaceError
from support.view_data import buffer, mesh_arrays, read_view


def grid_surface(n: int, seed: int):
    """A face-sized (about 160 x 200 mm) smooth surface of n x n vertices: (V, 3) mm, (F, 3), (V, 3) colours."""
    rng = np.random.default_rng(seed)
    u, v = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n))
    bumps = sum(rng.normal(0, 3) * np.sin(rng.uniform(1, 4) * u + rng.uniform(0, 6)) *
                np.cos(rng.uniform(1, 4) * v + rng.uniform(0, 6)) for _ in range(12))
    verts = np.stack([80 * u, 100 * v, 60 * (1 - 0.5 * u**2 - 0.4 * v**2) + bumps], -1).reshape(-1, 3)
    i = np.arange(n - 1)[:, None] * n + np.arange(n - 1)[None, :]
    faces = np.concatenate([np.stack([i, i + 1, i + n], -1), np.stack([i + 1, i + n + 1, i + n], -1)]).reshape(-1, 3)
    colours = np.stack([0.6 + 0.1 * u, 0.45 + 0.05 * v, 0.35 + 0.02 * bumps / 3], -1).reshape(-1, 3)
    return verts, faces, np.clip(colours, 0, 1)


def photo(seed: int, side: int = 320) -> np.ndarray:
    """A photo-like picture: smooth shapes and a little sensor noise (noise alone is JPEG's worst case)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    small = (rng.random((6, 6, 3)) * 255).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(small).resize((side, side), Image.Resampling.BICUBIC), np.float64)
    return np.clip(smooth + rng.normal(0, 4, smooth.shape), 0, 255).astype(np.uint8)


def test_meshes_codes_and_shared_identities_come_back_from_the_page(tmp_path):
    verts, faces, colours = grid_surface(20, 0)
    other = verts + np.array([0.0, 0.0, 5.0]) + 0.3 * np.sin(verts)
    error = np.linspace(0.0, 4.0, len(verts))
    identity = ViewMesh("identity", verts, colours, key="anna")
    pic = photo(0, 64)
    items = [ViewFace("a", "anna", pic, pic, [ViewMesh("photo", other, colours, error), identity],
                      {"pose": {"yaw_deg": 12.5}, "expression": [0.25, -1.0]}),
             ViewFace("b</script>", "anna", pic, None, [ViewMesh("photo", verts, 1 - colours), ViewMesh("identity", other, colours, key="anna")])]
    data = read_view(write_view(tmp_path / "view.html", items, faces, "title"))
    assert [f["meshes"] for f in data["faces"]] == [[0, 1], [2, 1]]  # the identity once, the first one's arrays
    assert data["faces"][1]["name"] == "b</script>" and data["faces"][1]["overlay"] is None
    assert data["faces"][0]["codes"] == {"pose": {"yaw_deg": 12.5}, "expression": [0.25, -1.0]}
    first, ident, second = (mesh_arrays(data, k) for k in range(3))
    np.testing.assert_array_equal(first["faces"], faces)
    assert first["faces"].dtype == np.uint16
    assert np.abs(first["verts"] - other).max() <= STEP_MM / 2 + 1e-6
    assert np.abs(ident["verts"] - verts).max() <= STEP_MM / 2 + 1e-6
    assert np.abs(first["colours"] / 255.0 - colours).max() <= 0.5 / 255 + 1e-9
    assert np.abs(second["colours"] / 255.0 - (1 - colours)).max() <= 0.5 / 255 + 1e-9
    assert np.abs(first["error"] - error).max() <= 4.0 / 255
    assert second["error"] is None


def test_a_mesh_far_from_the_reference_keeps_its_shape_with_a_coarser_step(tmp_path):
    verts, faces, colours = grid_surface(8, 1)
    far = verts * 10.0  # up to 1 m from the reference: past 512 mm at 1/64 mm
    data = read_view(write_view(tmp_path / "view.html", [ViewFace("a", "", photo(1, 32), None, [
        ViewMesh("near", verts, colours), ViewMesh("far", far, colours)])], faces, "t"))
    back = mesh_arrays(data, 1)["verts"]
    assert data["meshes"][1]["step_mm"] > STEP_MM
    assert np.abs(back - far).max() <= data["meshes"][1]["step_mm"]


def test_the_occlusion_travels_with_the_topology_and_a_wrong_one_is_refused(tmp_path):
    verts, faces, colours = grid_surface(8, 3)
    occ = np.linspace(0.0, 1.0, len(verts))
    face = ViewFace("a", "", photo(3, 16), None, [ViewMesh("photo", verts, colours)])
    data = read_view(write_view(tmp_path / "v.html", [face], faces, "t", occlusion=occ))
    assert np.abs(buffer(data["topologies"][0]["occlusion"]) / 255.0 - occ).max() <= 0.5 / 255 + 1e-9
    assert "occlusion" not in read_view(write_view(tmp_path / "w.html", [face], faces, "t"))["topologies"][0]
    with pytest.raises(PhotofaceError, match="occlusion"):
        write_view(tmp_path / "x.html", [face], faces, "t", occlusion=occ[:-1])
    assert not (tmp_path / "x.html").exists()


def test_bad_meshes_are_refused_with_the_mesh_named(tmp_path):
    verts, faces, colours = grid_surface(6, 2)
    with pytest.raises(PhotofaceError, match="'photo'"):
        write_view(tmp_path / "v.html", [ViewFace("a", "", photo(2, 16), None, [ViewMesh("photo", verts[:-1], colours)])],
                   faces, "t")
    bad = verts.copy()
    bad[3, 1] = np.nan
    with pytest.raises(PhotofaceError, match="finite"):
        write_view(tmp_path / "v.html", [ViewFace("a", "", photo(2, 16), None, [ViewMesh("photo", bad, colours)])],
                   faces, "t")
    assert not (tmp_path / "v.html").exists()


def test_the_page_is_self_contained():
    verts, faces, colours = grid_surface(6, 3)
    html = render_page({"title": "t", "faces": [], "meshes": [], "topologies": [], "notes": "</script><b>"})
    assert "__PHOTOFACE" not in html
    for remote in ("http://", "https://", "src=\"//"):
        assert remote not in html
    assert json.loads(html.split('type="application/json">')[1].split("</script>")[0])["notes"] == "</script><b>"


@pytest.mark.slow
def test_fifty_faces_of_a_paper_sized_mesh_stay_under_20_mb(tmp_path):
    n = 193  # 37,249 vertices: the size of the builtin:paper model (37,119)
    items = []
    for person in range(10):
        verts, faces, colours = grid_surface(n, person)
        identity = ViewMesh("identity", verts, colours, key=str(person))
        for k in range(5):
            moved = verts + np.random.default_rng(100 * person + k).normal(0, 1.0, 3) + 2.0 * np.sin(verts / 30.0 + k)
            items.append(ViewFace(f"{person}_{k}", str(person), photo(10 * person + k), photo(10 * person + k + 1),
                                  [ViewMesh("photo", moved, colours, np.abs(moved - verts).sum(1)), identity]))
    size = write_view(tmp_path / "view.html", items, faces, "50 faces").stat().st_size
    print(f"view.html of 50 faces: {size / 1e6:.1f} MB")
    assert size < 20e6, f"{size / 1e6:.1f} MB"
