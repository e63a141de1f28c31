import copy
import json
import math

import pytest
import torch

from photoface.data.format import load_dataset
from photoface.errors import PhotofaceError
from photoface.facemodel import load_face_model, model_hash
from photoface.run.checkpoint import load_checkpoint
from photoface.run.config_parse import apply_overrides
from photoface.run.export import export_model
from photoface.run.inference import load_trained
from photoface.run.layout import checkpoint_dir, read_metrics, validation_path
from photoface.train import train
from photoface.train.feed import load_training_data
from photoface.train.loop import Trainer
from photoface.train.validation import Selection, selection_score, validation_people
from support.runs import write_tiny_dataset

VALIDATED = ("schedule.validation_identities=2", "schedule.keep_checkpoints=100")


@pytest.fixture(scope="module")
def people16(tiny_setup, tmp_path_factory):
    """(model path, a tiny dataset of 16 training people × 3 photos and 2 test people): an eighth
    of 16 gives the 2 validation people a verification needs."""
    model_path, _ = tiny_setup
    data = write_tiny_dataset(tmp_path_factory.mktemp("people16") / "data", load_face_model(model_path), model_path,
                              n_ids=16, per_id=3, test_ids=2)
    return model_path, data


def test_validation_people_come_from_training_never_from_the_test_split_and_train_no_more(people16, make_config):
    model_path, data = people16
    ds = load_dataset(data)
    chosen = validation_people([ds], 2, seed=0)
    assert len(chosen) == 2 and chosen == validation_people([ds], 2, seed=0)
    assert validation_people([ds], 20, seed=0) == chosen  # capped at an eighth of 16 people

    # a person with one photo in the test split is never a validation person
    mixed = copy.deepcopy(ds)
    next(r for r in mixed.rows if r.identity == chosen[0]).split = "test"
    others = validation_people([mixed], 2, seed=0)
    assert chosen[0] not in others and len(others) == 2
    with pytest.raises(PhotofaceError, match="at least 2 people"):
        validation_people([ds], 1, seed=0)

    cfg = make_config(model_path, *VALIDATED)
    model = load_face_model(model_path)
    fed = load_training_data([data], cfg, model, model_hash(model))
    test_people = {r.identity for r in ds.rows if r.split == "test"}
    assert fed.validation.identities == chosen
    assert not set(chosen) & set(fed.dataset.identities) and not set(chosen) & test_people
    assert len(fed.dataset.identities) == 14 and len(fed.validation) == 6


def test_selection_takes_the_best_checkpoint_no_metric_worse_than_the_start():
    start = {"eer": 0.2, "shape_mm": 2.0}
    assert selection_score(start, start) == 1.0
    assert selection_score({"eer": 0.1, "shape_mm": 2.1}, start) is None  # better codes, worse shape
    assert selection_score({"eer": math.nan, "shape_mm": 1.0}, start) is None
    assert selection_score({"eer": 0.1, "shape_mm": 2.0}, start) == pytest.approx(0.75)

    sel = Selection()
    assert sel.add(0, 1, start)  # the start is the first candidate
    assert not sel.add(200, 1, {"eer": 0.25, "shape_mm": 1.5})  # shapes better, codes worse: refused
    assert sel.add(400, 1, {"eer": 0.19, "shape_mm": 1.9})
    assert not sel.add(600, 2, {"eer": 0.19, "shape_mm": 1.9})  # a tie keeps the earlier one
    assert not sel.add(800, 2, {"eer": 0.2, "shape_mm": 1.95})  # admissible, but a higher score than 0.95
    assert sel.selected["step"] == 400
    again = Selection.from_state(sel.state_dict())
    assert again.records == sel.records and again.selected == sel.selected


def test_validating_leaves_the_network_modes_buffers_and_random_state_as_they_were(people16, make_config, tmp_path):
    model_path, data = people16
    trainer = Trainer(make_config(model_path, *VALIDATED), [data], tmp_path / "run", progress=False)
    net = trainer.parts.net
    net.encoder.eval()  # a mixed state, as a trainer that freezes a part would leave it
    modes = [m.training for m in net.modules()]
    buffers = {k: v.clone() for k, v in net.named_buffers()}
    rng = torch.get_rng_state()
    first = trainer.validator(net)
    assert [m.training for m in net.modules()] == modes
    assert all(torch.equal(v, buffers[k]) for k, v in net.named_buffers())
    assert torch.equal(torch.get_rng_state(), rng)
    assert set(first) == {"eer", "shape_mm"} and 0 <= first["eer"] <= 1 and first["shape_mm"] > 0
    assert trainer.validator(net) == first


def test_a_run_that_makes_validation_worse_ends_with_the_start_weights_everywhere(people16, make_config, tmp_path):
    model_path, data = people16
    # Adam at lr 0.05 moves every weight of the heads by ~0.05 a step: the codes of the held-out
    # people get worse, which is what the guard must not let through
    cfg = make_config(model_path, *VALIDATED, "optim.lr_generator=0.05", "schedule.checkpoint_every=3")
    run = tmp_path / "run"
    summary = train(cfg, [data], run, progress=False)
    report = json.loads(validation_path(run).read_text())
    assert [r["step"] for r in report["records"]] == [0, 3, 6]
    assert all(r["score"] is None for r in report["records"][1:])  # training did make them worse
    assert report["selected"]["step"] == 0 and summary.selected["step"] == 0

    start = load_checkpoint(checkpoint_dir(run) / "step_0000000.pt")["model"]
    last = load_checkpoint(run)["model"]
    assert any(not torch.equal(start[k], last[k]) for k in start)
    for weights in (load_trained(run).net.state_dict(),
                    torch.load(export_model(run, tmp_path / "model.pt"), weights_only=True)["model"]):
        assert all(torch.equal(weights[k], start[k]) for k in start)
    assert load_trained(run).step == 0 and load_trained(checkpoint_dir(run) / "last.pt").step == 6


@pytest.mark.slow
def test_validation_and_the_selected_weights_survive_resume_exactly(people16, make_config, tmp_path):
    model_path, data = people16
    cfg = make_config(model_path, *VALIDATED, "schedule.checkpoint_every=2")
    train(cfg, [data], tmp_path / "full", progress=False)
    train(apply_overrides(cfg, ["schedule.max_steps=4"]), [data], tmp_path / "part", progress=False)
    train(cfg, [data], tmp_path / "part", resume=True, progress=False)

    full, part = (json.loads(validation_path(tmp_path / r).read_text()) for r in ("full", "part"))
    assert [r["step"] for r in part["records"]] == [0, 2, 4, 6]
    assert part == full  # every validation, and the one selected, as in the uninterrupted run
    a, b = (load_trained(tmp_path / r) for r in ("full", "part"))
    assert a.step == b.step == full["selected"]["step"]
    assert all(torch.equal(a.net.state_dict()[k], v) for k, v in b.net.state_dict().items())

    def losses(run):
        return [{k: v for k, v in r.items() if k not in ("images_per_s", "elapsed_s")} for r in read_metrics(run)]

    assert losses(tmp_path / "part") == losses(tmp_path / "full")
