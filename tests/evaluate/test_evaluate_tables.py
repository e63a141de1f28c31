"""Paper-layout tables, shape/pose/expression metrics and error-map pictures."""

import numpy as np
import pytest
from PIL import Image

from photoface.evaluate import shape_metrics
from photoface.evaluate.error_maps import error_colors, render_error_view, save_error_map
from photoface.evaluate.tables import ablation_table, aflw2000_table, format_mean_std, micc_table, verification_table


def test_format_mean_std():
    assert format_mean_std({"mean": 1.234, "std": 0.456}) == "1.23 ± 0.46"
    assert format_mean_std((2.0, 0.5), digits=1) == "2.0 ± 0.5"
    assert format_mean_std({"mean": 1.234, "std": 0.456, "sem": 0.061}) == "1.23 ± 0.46 (SE 0.06)"
    assert format_mean_std(None) == "–"


def test_micc_table_layout():
    results = {
        "model": {"identity": {"cooperative": (1.5, 0.2), "indoor": (1.6, 0.3), "outdoor": (1.7, 0.4)},
                  "three_views": {"cooperative": (1.4, 0.2), "indoor": (1.5, 0.3), "outdoor": (1.6, 0.4)}},
        "mean_face": {"identity": {"outdoor": (2.5, 0.6), "cooperative": (2.0, 0.5)}},
    }
    lines = micc_table(results).splitlines()
    assert lines[0] == "| Method | Cooperative (mm) | Indoor (mm) | Outdoor (mm) |"
    assert lines[2].startswith("| **Average over identity** |")
    assert lines[3] == "| Ours | 1.50 ± 0.20 | 1.60 ± 0.30 | 1.70 ± 0.40 |"
    assert lines[4] == "| Mean face | 2.00 ± 0.50 | – | 2.50 ± 0.60 |"
    assert lines[5].startswith("| **Average over three views** |")
    assert lines[6] == "| Ours | 1.40 ± 0.20 | 1.50 ± 0.30 | 1.60 ± 0.40 |"
    assert len(lines) == 7


def test_ablation_table_rows_in_paper_order():
    res = {
        "laplacian": {"cooperative": {"mean": 2.0, "std": 0.1}},
        "full": {"cooperative": {"mean": 1.0, "std": 0.1}},
        "no_adv": {"cooperative": {"mean": 1.5, "std": 0.1}},
        "no_recog": {"cooperative": {"mean": 1.2, "std": 0.1}},
    }
    rows = [line.split(" | ")[0].strip("| ") for line in ablation_table(res).splitlines()[2:]]
    assert rows == ["Full model", "w/o L_recog", "w/o L_adv", "Conventional smoothing"]


def test_aflw_and_verification_tables():
    nme = {"model": {"bins": {"0-30": 0.031, "30-60": 0.042, "60-90": float("nan")}, "mean_of_bins": 0.0365}}
    line = aflw2000_table(nme).splitlines()[2]
    assert line == "| Ours | 3.10 | 4.20 | – | 3.65 |"
    ver = {"model": {"eer": 0.05, "tar_at_far": {"0.001": 0.5, "0.01": 0.7}, "accuracy": 0.95}}
    lines = verification_table(ver).splitlines()
    assert lines[0] == "| Method | EER | TAR@FAR=0.001 | TAR@FAR=0.01 | Accuracy |"
    assert lines[2] == "| Ours | 0.050 | 0.500 | 0.700 | 0.950 |"


def test_pose_errors_wrap_angles():
    pred = np.array([[10.0, 179.0, -5.0], [0.0, -30.0, 5.0]])
    true = np.array([[12.0, -179.0, -5.0], [0.0, -20.0, 1.0]])
    e = shape_metrics.pose_errors(pred, true)
    assert e["pitch"] == pytest.approx(1.0) and e["yaw"] == pytest.approx(6.0)
    assert e["roll"] == pytest.approx(2.0) and e["mean"] == pytest.approx(3.0)


def test_expression_error_ignores_identity_offsets():
    rng = np.random.default_rng(0)
    neutral = rng.normal(size=(2, 10, 3))
    expr = rng.normal(size=(2, 10, 3))
    wrong_identity = neutral + 5.0  # identity badly off, expression exactly right
    err = shape_metrics.expression_error(wrong_identity + expr, wrong_identity, neutral + expr, neutral)
    assert np.allclose(err, 0)
    off = shape_metrics.expression_error(neutral + expr + [0, 0, 2.0], neutral, neutral + expr, neutral)
    assert np.allclose(off, 2.0)
    assert np.allclose(shape_metrics.coefficient_error([[1.0, 3.0]], [[0.0, 0.0]]), [np.sqrt(5.0)])


def _tiny_mesh():
    xs, ys = np.meshgrid(np.linspace(-50, 50, 11), np.linspace(-60, 60, 13))
    z = 40 * np.exp(-(xs**2 + ys**2) / 2000)
    verts = np.stack([xs, ys, z], -1).reshape(-1, 3)
    idx = np.arange(11 * 13).reshape(13, 11)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    return verts, np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)])


def test_error_colors_scale_and_missing_data():
    rgb = error_colors([0.0, 2.0, 100.0, np.nan], vmax=2.0)
    assert np.allclose(rgb[1], rgb[2])  # clipped at vmax
    assert not np.allclose(rgb[0], rgb[1]) and np.allclose(rgb[3], 0.8)


def test_error_map_view_and_png(tmp_path):
    verts, faces = _tiny_mesh()
    errors = np.where(verts[:, 0] > 0, 3.0, 0.0)  # the subject's left half is wrong
    img = render_error_view(verts, faces, errors, vmax=3.0, image_size=64)
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    # jet: red for high errors on the subject's left (image right in a frontal view), blue low
    left, right = img[32, 40].astype(int), img[32, 24].astype(int)
    assert left[0] > left[2] and right[2] > right[0]
    assert (img[0, 0] == 255).all()  # white background
    path = save_error_map(tmp_path / "maps" / "err.png", verts, faces, errors, yaws=(0.0,), image_size=64,
                          title="demo")
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size[0] > 64
    assert path.stat().st_size < 300_000
