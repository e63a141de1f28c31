"""End-to-end tests of ``photoface synth`` on a tiny face-model file (any model must work).

One small dataset (64², 4 identities × 6 photos) is generated per module and checked against
independent re-computations: re-rendering the stored ground truth, rebuilding the labels, the
file hashes of a second run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from photoface.cli import main as cli_main
from photoface.data.format import SETTINGS, load_dataset
from photoface.data.synth.collection import synthesize, write_contact_sheet
from photoface.errors import InputFileError, PhotofaceError
from photoface.facemodel.model import MorphableModel, canonical_origin
from photoface.render.renderer import Renderer

SIZE = 64


def _landmark_layout() -> list[tuple[float, float]]:
    """68 (x, y) mm positions in iBUG order on a frontal face."""
    jaw = [(-70 * np.cos(t), -5 - 62 * np.sin(t)) for t in np.linspace(0, np.pi, 17)]
    brows = [(x, 44) for x in (-54, -44, -34, -24, -12, 12, 24, 34, 44, 54)]
    nose = [(0, 36), (0, 26), (0, 16), (0, 6), (-12, -2), (-6, -3), (0, -4), (6, -3), (12, -2)]
    r_eye = [(-45, 30), (-37, 34), (-27, 34), (-18, 30), (-27, 26), (-37, 26)]
    l_eye = [(-x, y) for x, y in (r_eye[3], r_eye[2], r_eye[1], r_eye[0], r_eye[5], r_eye[4])]
    outer = [(-25, -25), (-15, -20), (-5, -18), (0, -19), (5, -18), (15, -20), (25, -25),
             (15, -33), (5, -36), (0, -36), (-5, -36), (-15, -33)]
    inner = [(-20, -25), (-8, -23), (0, -23), (8, -23), (20, -25), (8, -28), (0, -28), (-8, -28)]
    return jaw + brows + nose + r_eye + l_eye + outer + inner


def tiny_model(seed: int = 0) -> MorphableModel:
    """A 21×23 grid (8 mm spacing) bulged into a face-like cap with a nose, smooth random
    identity/expression/albedo bases, mirror-symmetric topology."""
    xs, ys = np.arange(-80, 80.1, 8.0), np.arange(-80, 96.1, 8.0)
    gx, gy = np.meshgrid(xs, ys)
    cap = np.clip(1 - (gx / 85) ** 2 - ((gy - 8) / 115) ** 2, 0.02, None)
    gz = 75 * np.sqrt(cap) + 22 * np.exp(-((gx / 10) ** 2 + ((gy - 12) / 16) ** 2))
    mean = np.stack([gx, gy, gz], -1).reshape(-1, 3)
    idx = np.arange(gx.size).reshape(gx.shape)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3),
                            np.stack([b, d, c], -1).reshape(-1, 3)])
    mirror = idx[:, ::-1].reshape(-1)
    flat = np.stack([gx.reshape(-1), gy.reshape(-1)], 1)
    lm, used = [], set()
    for p in _landmark_layout():  # nearest vertex not taken yet: the 68 must be distinct
        order = np.argsort(((flat - p) ** 2).sum(1))
        lm.append(next(int(v) for v in order if int(v) not in used))
        used.add(lm[-1])
    lm = np.array(lm)
    rng = np.random.default_rng(seed)

    def smooth_basis(k, scale, width):
        out = []
        for i in range(k):
            centre = mean[rng.integers(len(mean))]
            bump = np.exp(-((mean - centre) ** 2).sum(1) / (2 * width ** 2))
            out.append(bump[:, None] * rng.normal(size=3) * scale / (1 + 0.3 * i))
        return np.stack(out)

    mean = mean - canonical_origin(mean, lm)
    return MorphableModel(
        mean, smooth_basis(8, 3.0, 40.0), smooth_basis(5, 4.0, 20.0),
        np.tile([0.6, 0.45, 0.36], (len(mean), 1)), smooth_basis(4, 0.05, 50.0),
        faces, lm, mirror, {"cheeks": np.arange(len(mean))}, name="tiny", source="test",
        license="none",
    )


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "progress.jsonl"}


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.npz"
    tiny_model().save(path)
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, model_file):
    out = tmp_path_factory.mktemp("synth") / "ds"
    synthesize(str(model_file), 4, 6, out, labeled_fraction=0.5, size=SIZE, seed=7,
               test_fraction=0.25, workers=1, progress=False)
    return load_dataset(out)


def test_same_seed_same_files_other_seed_other_files(dataset, model_file, tmp_path):
    again = tmp_path / "again"
    synthesize(str(model_file), 4, 6, again, labeled_fraction=0.5, size=SIZE, seed=7,
               test_fraction=0.25, workers=1, progress=False)
    first = _hashes(dataset.root)
    assert len(first) > 4 * 6 * 3
    assert first == _hashes(again)
    other = tmp_path / "other"
    synthesize(str(model_file), 2, 3, other, labeled_fraction=0.5, size=SIZE, seed=8,
               test_fraction=0.0, workers=1, progress=False)
    images = [k for k in _hashes(other) if k.startswith("images/")]
    assert len(images) == 6 and all(_hashes(other)[k] != first[k] for k in images)


def test_interrupted_run_resumes_to_the_same_files(dataset, model_file, tmp_path, monkeypatch):
    import photoface.data.synth.collection as synth_mod

    real = synth_mod._write_identity
    calls = []

    def crash_on_third(writer, ident, *args):
        calls.append(ident.name)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(writer, ident, *args)

    out = tmp_path / "resumed"
    kwargs = dict(labeled_fraction=0.5, size=SIZE, seed=7, test_fraction=0.25, workers=1,
                  progress=False)
    monkeypatch.setattr(synth_mod, "_write_identity", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        synthesize(str(model_file), 4, 6, out, **kwargs)
    monkeypatch.setattr(synth_mod, "_write_identity", real)
    redone = []
    monkeypatch.setattr(synth_mod, "_write_identity",
                        lambda w, ident, *a: (redone.append(ident.name), real(w, ident, *a)))
    synthesize(str(model_file), 4, 6, out, **kwargs)
    assert redone == ["id00002", "id00003"]  # finished identities are not made again
    assert _hashes(dataset.root) == _hashes(out)
    with pytest.raises(PhotofaceError, match="seed"):  # a different run cannot mix in
        synthesize(str(model_file), 4, 6, out, **{**kwargs, "seed": 9})


@pytest.mark.slow
def test_worker_count_does_not_change_files(dataset, model_file, tmp_path):
    two = tmp_path / "two"
    synthesize(str(model_file), 4, 6, two, labeled_fraction=0.5, size=SIZE, seed=7,
               test_fraction=0.25, workers=2, progress=False)
    assert _hashes(dataset.root) == _hashes(two)


def test_format_counts_and_splits(dataset):
    meta = dataset.meta
    assert meta.image_size == SIZE and meta.counts["photos"] == 24
    train = {r.identity for r in dataset.rows if r.split == "train"}
    test = {r.identity for r in dataset.rows if r.split == "test"}
    assert len(train) == 3 and len(test) == 1 and not train & test
    for name in test:
        rows = [r for r in dataset.rows if r.identity == name]
        assert {r.setting for r in rows} == set(SETTINGS)
        assert not any(r.labeled for r in rows)
        scan = np.load(dataset.root / rows[0].extra["scan"])
        assert scan.shape == (tiny_model().num_vertices, 3)
        assert (dataset.root / meta.extra["scans"][name]["obj"]).is_file()
    assert sum(r.labeled for r in dataset.rows) > 0
    assert all(r.true_mesh and r.light is not None and r.alpha_id_true is not None
               for r in dataset.rows)


def test_visible_landmarks_lie_on_the_unoccluded_face(dataset):
    shares = []
    for row in dataset.rows:
        mask = dataset.load_mask(row)[0].numpy() > 0.5
        lm = np.asarray(row.extra["landmarks_true"])
        vis = row.visible
        j, i = np.floor(lm[vis, 0]).astype(int), np.floor(lm[vis, 1]).astype(int)
        assert mask[i, j].all(), row.image
        if abs(row.extra["pose_true"][1]) < 15 and not row.extra["occluders"]:
            shares.append(vis.mean())
    # near-frontal photos without occluders show most landmarks (a coordinate mix-up would not)
    assert shares and np.mean(shares) > 0.7


def test_stored_ground_truth_re_renders_the_photo(dataset, model_file):
    """true_mesh + pose_true + light + albedo(beta) reproduce the face pixels of the photo, and
    the mask never leaves the face's coverage."""
    model = MorphableModel.load(model_file)
    rows = dataset.rows
    beta = [json.loads((dataset.root / f"identities/{r.identity}.json").read_text())["beta"]
            for r in rows]
    with torch.no_grad():
        out = Renderer(model.faces, SIZE).render(
            torch.stack([dataset.load_true_mesh(r) for r in rows]),
            model.albedo(torch.tensor(beta, dtype=torch.float32)),
            torch.tensor([r.extra["pose_true"] for r in rows], dtype=torch.float32),
            torch.tensor(np.stack([r.light for r in rows]), dtype=torch.float32))
    errors = []
    for k, row in enumerate(rows):
        cov = out.mask[k, 0] > 0.5
        mask = dataset.load_mask(row)[0] > 0.5
        assert not (mask & ~cov).any(), row.image
        if row.setting == "cooperative" and mask.sum() > 50:
            diff = (dataset.load_image(row) - out.image[k].clamp(0, 1)).abs().mean(0)
            errors.append(diff[mask].mean().item())
    assert errors and max(errors) < 0.06


def test_labels_rebuild_the_linear_part(dataset, model_file):
    model = MorphableModel.load(model_file)
    mean = model.mean.numpy()
    checked = 0
    for row in dataset.rows:
        if not row.labeled:
            continue
        linear = model.shape(torch.tensor(row.alpha_id_true[None], dtype=torch.float32),
                             torch.tensor([row.extra["alpha_exp_true"]], dtype=torch.float32))[0]
        rebuilt = model.shape(torch.tensor(row.alpha_id[None], dtype=torch.float32),
                              torch.tensor(row.alpha_exp[None], dtype=torch.float32))[0]
        err = np.linalg.norm(rebuilt.numpy() - linear.numpy(), axis=1).mean()
        err_mean = np.linalg.norm(mean - linear.numpy(), axis=1).mean()
        true = np.load(dataset.root / row.true_mesh)
        assert err < 0.1 * err_mean
        assert np.abs(true - linear.numpy()).max() > 0.2  # the label is not the true shape
        assert np.allclose(row.pose[:3], row.extra["pose_true"][:3], atol=1.0)
        assert np.abs(row.landmarks - np.asarray(row.extra["landmarks_true"])).max() < 2.0
        checked += 1
    assert checked > 0


def test_unlabeled_landmarks_are_noisy_but_close(dataset):
    d = [np.abs(r.landmarks - np.asarray(r.extra["landmarks_true"])).mean()
         for r in dataset.rows if not r.labeled]
    assert 0.05 < np.mean(d) < 5.0


def test_contact_sheet(dataset, tmp_path):
    out = write_contact_sheet(dataset.root, tmp_path / "sheet.png", identities=3, photos=4,
                              tile=32)
    from PIL import Image

    with Image.open(out) as im:
        assert im.size == (64 + 4 * 32, 3 * (32 + 11))


@pytest.mark.parametrize("kwargs, name", [
    (dict(identities=0), "--identities"),
    (dict(photos_per_identity=0), "--photos-per-identity"),
    (dict(photos_per_identity=2), "--photos-per-identity"),  # test identities need 3 settings
    (dict(labeled_fraction=1.5), "--labeled-fraction"),
    (dict(test_fraction=1.0), "--test-fraction"),
    (dict(size=16), "--size"),
    (dict(workers=0), "--workers"),
    (dict(identities=1), "--identities"),  # one identity cannot be split into train and test
])
def test_bad_arguments_name_the_argument(model_file, tmp_path, kwargs, name):
    args = dict(identities=3, photos_per_identity=3, labeled_fraction=0.5, size=SIZE,
                test_fraction=0.3, workers=1)
    args.update(kwargs)
    n, m = args.pop("identities"), args.pop("photos_per_identity")
    with pytest.raises(PhotofaceError, match=name):
        synthesize(str(model_file), n, m, tmp_path / "x", progress=False, **args)
    assert not (tmp_path / "x").exists()


def test_out_must_be_a_new_or_resumable_folder(model_file, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(PhotofaceError, match="--out"):
        synthesize(str(model_file), 2, 3, tmp_path / "file", progress=False)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(PhotofaceError, match="not empty"):
        synthesize(str(model_file), 2, 3, tmp_path / "busy", progress=False)


def test_missing_model_file_names_the_file(tmp_path):
    with pytest.raises(InputFileError, match="nope.npz"):
        synthesize(str(tmp_path / "nope.npz"), 2, 3, tmp_path / "x", progress=False)


def test_cli_reports_bad_arguments(model_file, tmp_path, capsys):
    code = cli_main(["synth", "--model", str(model_file), "--identities", "-2",
                     "--photos-per-identity", "3", "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 1
    assert "--identities" in capsys.readouterr().err


def test_a_model_without_albedo_modes_gets_procedural_skin_and_says_so(tmp_path):
    m = tiny_model()
    flat = MorphableModel(m.mean, m.id_basis, m.exp_basis, m.tex_mean, np.zeros((0, m.num_vertices, 3)), m.faces,
                          m.landmarks68, m.mirror, {k: v for k, v in m.regions.items()}, name="flat")
    path = tmp_path / "flat.npz"
    flat.save(path)
    ds = synthesize(str(path), 3, 2, tmp_path / "ds", size=SIZE, seed=1, test_fraction=0.0, workers=1,
                    progress=False)
    assert ds.meta.extra["albedo_source"].startswith("procedural")
    albedos = []
    for name in ("id00000", "id00001", "id00002"):
        info = json.loads((ds.root / f"identities/{name}.json").read_text())
        assert info["albedo_source"].startswith("procedural") and len(info["beta"]) > 10
        albedos.append(np.load(ds.root / info["albedo"]))
    albedos = np.stack(albedos)
    assert albedos.shape == (3, m.num_vertices, 3) and 0.0 <= albedos.min() and albedos.max() <= 1.0
    # identities differ in skin tone, and each face is not one flat colour (lips, brows, eyes)
    assert np.abs(albedos[0] - albedos[1]).mean() > 0.01
    assert albedos[0].std(0).max() > 0.03
    # the stored albedo is the one the photos were rendered with
    rows = ds.rows
    alb = torch.from_numpy(albedos[[int(r.identity[2:]) for r in rows]])
    with torch.no_grad():
        out = Renderer(flat.faces, SIZE).render(
            torch.stack([ds.load_true_mesh(r) for r in rows]), alb,
            torch.tensor([r.extra["pose_true"] for r in rows], dtype=torch.float32),
            torch.tensor(np.stack([r.light for r in rows]), dtype=torch.float32))
    errors = [(ds.load_image(r) - out.image[k].clamp(0, 1)).abs().mean(0)[ds.load_mask(r)[0] > 0.5].mean().item()
              for k, r in enumerate(rows) if r.setting == "cooperative" and (ds.load_mask(r)[0] > 0.5).sum() > 50]
    assert errors and max(errors) < 0.06
