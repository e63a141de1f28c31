"""view.html in a real browser: headless Chromium (Debian's ``chromium``), driven like a user.

Skipped where no Chromium is installed, unless PHOTOFACE_REQUIRE_CHROMIUM is set (CI sets it:
there a missing browser is a failure, not a skip).
"""

import os

import numpy as np
import pytest
from PIL import Image

from photoface.apps.reconstruct import reconstruct
from photoface.apps.viewer.browser import Browser, file_url, find_chromium
from photoface.apps.viewer.page import ViewFace, ViewMesh, write_view
from photoface.run.inference import load_trained

pytestmark = pytest.mark.skipif(
    find_chromium() is None and not os.environ.get("PHOTOFACE_REQUIRE_CHROMIUM"),
    reason="no Chromium on this machine (apt-get install chromium; .ci/run installs it)")


def drawn(shot: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels that differ from the background (read at the canvas's corner)."""
    return np.abs(shot.astype(int) - shot[1, 1].astype(int)).max(axis=-1) > 12


def centre(x, y, w, h):
    return x + w / 2, y + h / 2


def dome(n: int):
    """A face-sized dome on an n x n grid: u, v (n, n) in [-1, 1], verts (n², 3) mm, faces (F, 3)."""
    u, v = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n))
    verts = np.stack([70 * u, 90 * v, 50 * (1 - 0.5 * u**2 - 0.5 * v**2)], -1).reshape(-1, 3)
    i = np.arange(n - 1)[:, None] * n + np.arange(n - 1)[None, :]
    faces = np.concatenate([np.stack([i, i + 1, i + n], -1), np.stack([i + 1, i + n + 1, i + n], -1)]).reshape(-1, 3)
    return u, v, verts, faces


def state(b: Browser) -> dict:
    return b.evaluate("window.photofaceViewer.state()")


@pytest.mark.slow
def test_reconstruct_view_draws_turns_zooms_and_switches_modes(tiny_run, tmp_path):
    photos = [tiny_run["data"] / "img" / f"{n}.png" for n in ("006_0", "007_1")]
    mean = load_trained(tiny_run["run"]).face_model.mean.numpy()
    res = reconstruct(photos, tiny_run["run"], tmp_path / "out", aligned=True, progress=False,
                      truths={photos[0]: mean})
    with Browser(1000, 700) as b:
        b.open(file_url(res.view))
        assert b.evaluate("window.photofaceReady.then(() => window.photofaceViewer.state())")["panes"] == 1
        canvas = b.rect("#mesh")
        shots = {}

        def shoot(name):
            shots[name] = b.screenshot(canvas)
            Image.fromarray(shots[name]).save(tmp_path / f"{name}.png")
            return shots[name]

        front = drawn(shoot("shaded"))
        ys, xs = np.nonzero(front)
        h, w = front.shape
        assert 0.02 < front.mean() < 0.9
        # framed: the face sits in the middle of the canvas
        assert abs(xs.mean() - w / 2) < 0.15 * w and abs(ys.mean() - h / 2) < 0.15 * h

        for mode in ("albedo", "error"):
            b.click(*centre(*b.rect(f"#mode-{mode}")))
            assert state(b)["mode"] == mode
            shoot(mode)
        assert np.abs(shots["albedo"].astype(int) - shots["shaded"]).mean() > 1
        assert np.abs(shots["error"].astype(int) - shots["albedo"]).mean() > 1

        cx, cy = centre(*canvas)
        b.drag(cx, cy, cx + 120, cy)
        assert state(b)["yaw"] == pytest.approx(60.0)
        turned = drawn(shoot("turned"))
        assert turned.mean() > 0.01 and (turned != front).mean() > 0.01

        b.wheel(cx, cy, -400)
        assert state(b)["zoom"] > 1.5
        assert drawn(shoot("zoomed")).mean() > turned.mean()

        # the second photo has no true mesh: no error map there
        b.click(*centre(*b.rect('.thumb[data-index="1"]')))
        b.evaluate("new Promise(r => setTimeout(r, 50))")
        s = state(b)
        assert s["index"] == 1 and not s["errorEnabled"] and s["mode"] == "shaded"
        assert drawn(shoot("second")).mean() > 0.01
        assert b.console_errors() == []


def test_fit_view_draws_the_photo_mesh_beside_the_identity(tmp_path):
    u, v, verts, faces = dome(24)
    red = np.tile([0.9, 0.1, 0.1], (len(verts), 1))
    tip = (u**2 + v**2).ravel() < 0.1
    red[tip] = [0.1, 0.9, 0.1]  # the "nose", the surface's front-most part, in green
    pic = np.full((64, 64, 3), 128, np.uint8)
    page = write_view(tmp_path / "view.html", [ViewFace("a", "anna", pic, pic, [
        ViewMesh("photo", verts, red), ViewMesh("identity", verts * 0.8, red, key="anna")],
        {"pose": {"pitch_deg": 0.0, "yaw_deg": 50.0, "roll_deg": 0.0}})], faces, "two panes")
    with Browser(1000, 700) as b:
        b.call("Network.enable")
        b.open(file_url(page))
        assert b.evaluate("window.photofaceReady.then(() => window.photofaceViewer.state())")["panes"] == 2
        b.click(*centre(*b.rect("#mode-albedo")))
        shot = b.screenshot(b.rect("#mesh")).astype(int)
        mask = drawn(shot)
        half = mask.shape[1] // 2
        left, right = mask[:, :half], mask[:, half:]
        assert left.mean() > 0.05 and right.mean() > 0.03
        assert left.mean() > right.mean()  # one scale for both: the smaller identity looks smaller
        px = shot[mask]
        green = (shot[..., 1] > shot[..., 0] + 40) & mask
        assert ((px[:, 0] > px[:, 1] + 40) | (px[:, 1] > px[:, 0] + 40)).mean() > 0.9  # the vertex colours
        nose_x = np.nonzero(green[:, :half])[1].mean()
        assert abs(nose_x - half / 2) < 0.05 * half  # frontal: the nose in the middle
        # turned as in the photo (+50° yaw, towards the subject's left): the nose moves right
        b.click(*centre(*b.rect("#posed")))
        assert state(b)["posed"]
        turned = b.screenshot(b.rect("#mesh")).astype(int)
        green = (turned[..., 1] > turned[..., 0] + 40) & drawn(turned)
        assert np.nonzero(green[:, :half])[1].mean() - nose_x > 0.04 * half
        assert b.evaluate("document.getElementById('mode-error').disabled") is True
        assert b.console_errors() == []
        # offline: the page asks for nothing but itself and its inlined data: images
        urls = [e["params"]["request"]["url"] for e in b.events if e.get("method") == "Network.requestWillBeSent"]
        assert urls[0] == file_url(page) and all(u.startswith("data:") for u in urls[1:])


def test_the_shaded_mode_darkens_what_the_occlusion_darkens_and_the_albedo_mode_does_not(tmp_path):
    u, v, verts, faces = dome(24)
    colours = np.full((len(verts), 3), 0.7)
    pic = np.full((32, 32, 3), 128, np.uint8)
    occ = np.where(v.ravel() > 0, 0.25, 1.0)  # the upper half in a cavity
    shots = {}
    for name, o in (("plain", None), ("occluded", occ)):
        page = write_view(tmp_path / f"{name}.html", [ViewFace("a", "", pic, None, [ViewMesh("m", verts, colours)])],
                          faces, "t", occlusion=o)
        with Browser(1000, 700) as b:
            b.open(file_url(page))
            assert b.evaluate("window.photofaceReady.then(() => window.photofaceViewer.state())")["panes"] == 1
            shots[name] = b.screenshot(b.rect("#mesh")).astype(float)
            b.click(*centre(*b.rect("#mode-albedo")))
            shots[name + " albedo"] = b.screenshot(b.rect("#mesh")).astype(float)
            assert b.console_errors() == []
    mask = drawn(shots["plain"].astype(np.uint8))
    rows = np.nonzero(mask.any(1))[0]
    top = np.zeros_like(mask)
    top[rows.min() + 5:(rows.min() + rows.max()) // 2 - 5] = True
    bottom = np.zeros_like(mask)
    bottom[(rows.min() + rows.max()) // 2 + 5:rows.max() - 5] = True
    ratio = lambda region: shots["occluded"][region & mask].mean() / shots["plain"][region & mask].mean()  # noqa: E731
    assert ratio(top) < 0.5 and ratio(bottom) > 0.95
    assert np.abs(shots["occluded albedo"] - shots["plain albedo"]).mean() < 0.5
