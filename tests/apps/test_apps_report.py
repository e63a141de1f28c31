import re

import numpy as np
import pytest

from photoface.apps.report_html import ReportInputs, learned_sentences, loss_curves, photo_table, pooled, shape_table, write_report


def _s(mean, std=0.5, n=2):
    return {"mean": mean, "std": std, "n": n, "failed": 0}


def _evaluation():
    """Results in the layout of photoface.evaluate.synthetic.evaluate_synthetic."""
    settings = ("cooperative", "indoor", "outdoor")
    ver = {"eer": 0.2, "accuracy": 0.8, "pairs": 10, "genuine_pairs": 4}
    return {
        "model": {"shape_mm": {"identity": {s: _s(2.0 + i) for i, s in enumerate(settings)}},
                  "photo_mm": {s: _s(3.0) for s in settings}, "expression_mm": {s: _s(1.0) for s in settings},
                  "pose_deg": {s: {"mean": 4.0} for s in settings},
                  "landmark_nme": {s: _s(0.05, 0.01) for s in settings}, "verification": ver},
        "landmark_fit": {"shape_mm": {"identity": {s: _s(3.5) for s in settings}},
                         "verification": {**ver, "eer": 0.3}},
        "mean_face": {"shape_mm": {"identity": {s: _s(4.0) for s in settings}},
                      "photo_mm": {s: _s(3.5) for s in settings},
                      "landmark_nme": {s: _s(0.10, 0.01) for s in settings},
                      "pose_deg": {s: {"mean": 20.0} for s in settings}},
        "meta": {"identities": 2, "photos": 12, "protocol": "95 mm crop <icp>"},
    }


def test_pooled_summary_matches_the_statistics_of_all_values():
    a, b = np.array([1.0, 2.0, 4.0]), np.array([10.0, 11.0])
    summary = pooled({"x": {"mean": a.mean(), "std": a.std(), "n": 3}, "y": {"mean": b.mean(), "std": b.std(), "n": 2},
                      "empty": {"mean": None, "std": None, "n": 0}})
    both = np.concatenate([a, b])
    assert summary["n"] == 5
    assert summary["mean"] == pytest.approx(both.mean()) and summary["std"] == pytest.approx(both.std())
    assert summary["sem"] == pytest.approx(both.std(ddof=1) / np.sqrt(5))
    assert pooled({}) is None


def test_tables_have_one_row_per_method_in_report_order():
    ev = _evaluation()
    table = shape_table(ev)
    labels = re.findall(r"<tr><td>([^<]+)</td>", table)
    assert labels == ["Ours (trained network)", "Linear model fitted to landmarks", "Mean face"]
    assert "2.00 ± 0.50" in table and "4.00 ± 0.50" in table
    assert "3.00 ± 0.96" in table  # pooled: means 2, 3, 4 with std 0.5 each → sqrt(0.25 + 2/3)
    rows = photo_table(ev)
    assert "5.00 ± 1.00" in rows and "0.200" in rows and "0.800" in rows  # NME in %, EER, accuracy


def test_findings_are_computed_from_the_numbers_and_admit_a_losing_model():
    ev = _evaluation()
    text = " ".join(learned_sentences(ev, {"steps": 7, "stage": 1, "train_minutes": 2.0},
                                      {"shape": 5.0}, {"shape": 4.0}))
    assert "7 steps" in text and "shape 5 → 4" in text
    assert "3.00 mm" in text and "25% lower than the mean face (4.00 mm)" in text and "reads real 3D" in text
    assert "Single photos, expression included, are 3.00 mm off (mean face: 3.50 mm)" in text
    assert "3.50 mm" in text and "equal error rate of 0.20" in text
    for by in ev["model"]["shape_mm"]["identity"].values():
        by["mean"] = 3.9
    slight = " ".join(learned_sentences(ev, {}, {}, {}))
    assert "3% lower than" in slight and "only slightly better" in slight and "reads real 3D" not in slight
    for by in ev["model"]["shape_mm"]["identity"].values():
        by["mean"] = 9.0
    worse = " ".join(learned_sentences(ev, {}, {}, {}))
    assert "higher than the mean face" in worse and "train longer" in worse


def test_report_links_only_existing_pictures_and_escapes_text(tiny_run, tmp_path):
    loss_png = loss_curves(tiny_run["run"] / "metrics.jsonl", tmp_path / "losses.png")
    assert loss_png is not None and loss_png.stat().st_size > 0
    panel = tmp_path / "rec" / "a_panel.png"
    panel.parent.mkdir()
    panel.write_bytes(loss_png.read_bytes())
    facts = {"steps": 2, "stage": 2, "train_minutes": 0.1, "summary": "tiny <run>", "commands": "photoface demo"}
    report = write_report(ReportInputs(out_dir=tmp_path, run_dir=tiny_run["run"], evaluation=_evaluation(),
                                       facts=facts, panels=[panel], loss_png=loss_png,
                                       verifications=[{"a": "x", "b": "y", "verdict": "similarity 1", "thumbs": []}]))
    text = report.read_text()
    assert "tiny &lt;run&gt;" in text and "&lt;icp&gt;" in text
    assert "Mean face" in text and "Expression transfer" not in text
    sources = re.findall(r"src='([^']+)'", text)
    assert sources == ["losses.png", "rec/a_panel.png"]
    assert all((tmp_path / s).is_file() for s in sources)
    assert loss_curves(tmp_path / "missing.jsonl", tmp_path / "none.png") is None


def test_report_embeds_the_first_viewer_and_links_all(tiny_run, tmp_path):
    views = [tmp_path / "reconstruct" / "view.html", tmp_path / "transfer" / "view.html"]
    for v in views:
        v.parent.mkdir()
        v.write_text("<html></html>")
    facts = {"steps": 2, "stage": 2, "train_minutes": 0.1, "summary": "", "commands": ""}
    text = write_report(ReportInputs(out_dir=tmp_path, run_dir=tiny_run["run"], evaluation=_evaluation(),
                                     facts=facts, views=views)).read_text()
    assert re.findall(r"<iframe src='([^']+)'", text) == ["reconstruct/view.html"]
    assert re.findall(r"<a href='([^']+)'", text) == ["reconstruct/view.html", "transfer/view.html"]


def test_fitted_column_sits_beside_the_network(tiny_run, tmp_path):
    from photoface.apps.report_html import fitted_sentence

    settings = ("cooperative", "indoor", "outdoor")
    fitted = {"model": {"shape_mm": {"identity": {s: _s(2.0) for s in settings}}},
              "refine": {"shape_mm": {"identity": {s: _s(1.5) for s in settings}}},
              "fit": {"shape_mm": {"identity": {s: _s(1.0) for s in settings}}},
              "meta": {"identities": 1}}
    sentence = fitted_sentence(fitted)
    assert "1 held-out people" in sentence and "2.00 mm" in sentence and "1.50 mm" in sentence \
        and "1.00 mm" in sentence
    rows = re.findall(r"<tr><td>([^<]+)</td>", shape_table(fitted))
    assert rows == ["Ours (trained network)", "Ours, fitted (refined per person)", "Fitted linear model (collection fit)"]
    report = write_report(ReportInputs(out_dir=tmp_path, run_dir=tiny_run["run"], evaluation=_evaluation(),
                                       facts={}, fitted=fitted))
    text = report.read_text()
    assert "Fitted beside the network (1 held-out people only" in text and sentence in text.replace("&#x27;", "'")
    assert fitted_sentence(None) is None
