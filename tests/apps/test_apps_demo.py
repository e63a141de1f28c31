import json

import pytest
from PIL import Image

from photoface.apps.demo import pick_reconstructions, pick_transfer, run_demo, write_docs_figures
from photoface.data.format import DatasetRow
from support.view_data import read_view


def _row(identity, setting, exp=0.0):
    return DatasetRow(image=f"{identity}_{setting}.png", identity=identity, split="test", landmarks=None,
                      setting=setting, extra={"alpha_exp_true": [exp]})


def test_photo_selection_spreads_over_settings_and_people():
    rows = [_row(i, s, exp=k) for k, (i, s) in enumerate(
        [("a", "cooperative"), ("a", "indoor"), ("b", "cooperative"), ("b", "indoor"), ("c", "indoor"),
         ("c", "outdoor")])]
    picked = pick_reconstructions(rows, per_setting=2)
    assert [(r.identity, r.setting) for r in picked] == [
        ("a", "cooperative"), ("b", "cooperative"), ("a", "indoor"), ("b", "indoor"), ("c", "outdoor")]
    source, targets = pick_transfer(rows, targets=3)
    assert (source.identity, source.setting) == ("a", "cooperative")
    assert [(r.identity, r.setting) for r in targets] == [("c", "outdoor"), ("b", "indoor"), ("c", "indoor")]


@pytest.mark.slow
def test_demo_runs_end_to_end_and_continues_its_run(tmp_path):
    out = tmp_path / "demo"
    kwargs = dict(minutes=2, identities=10, photos_per_identity=3, progress=False, log=lambda m: None)
    report = run_demo(out, train_overrides=("schedule.max_steps=1",), **kwargs)
    text = report.read_text()
    for needle in ("Evaluation on held-out identities", "Mean face", "Expression transfer", "losses.png",
                   "Identity verification"):
        assert needle in text
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["meta"]["identities"] == 2 and evaluation["meta"]["step"] == 1
    fitted = json.loads((out / "evaluation_fitted.json").read_text())
    assert {"model", "refine", "fit"} <= set(fitted) and "Fitted beside the network" in text
    assert json.loads((out / "run" / "verification.json").read_text())["threshold"] == \
        evaluation["model"]["verification"]["threshold"]
    assert len(list((out / "reconstruct").glob("*_panel.png"))) == 6  # 3 settings × 2 people
    # the 3D viewer of the reconstructions, embedded, with error maps against the true meshes
    view = read_view(out / "reconstruct" / "view.html")
    assert len(view["faces"]) == 6 and all("error" in m for m in view["meshes"])
    assert "<iframe src='reconstruct/view.html'" in text and (out / "transfer" / "view.html").is_file()
    assert Image.open(out / "transfer" / "transfer.png").size[1] > 2 * 128

    run_demo(out, train_overrides=("schedule.max_steps=2",), **kwargs)
    assert json.loads((out / "evaluation.json").read_text())["meta"]["step"] == 2, "the run was continued"
    docs = write_docs_figures(out, tmp_path / "docs")
    assert [p.name for p in docs] == ["report_example.png", "demo_transfer.png", "demo_losses.png"]
