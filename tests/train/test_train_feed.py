import shutil

import pytest
import torch

from photoface.errors import PhotofaceError
from photoface.facemodel import load_face_model, model_hash
from photoface.train.feed import check_data_against_checkpoint, load_training_data, step_generator
from support.runs import tiny_face_model, write_tiny_dataset


def _load(model_path, data, make_config):
    cfg = make_config(model_path)
    model = load_face_model(model_path)
    data = load_training_data([data], cfg, model, model_hash(model))
    assert data.validation is None  # six training people are too few to hold validation people out
    return data.dataset, data.meta


def test_training_data_are_the_train_split_with_fingerprints(tiny_setup, make_config):
    model_path, data = tiny_setup
    dataset, meta = _load(model_path, data, make_config)
    assert len(dataset.identities) == 6 and len(dataset) == 24  # the 2 test people are left out
    assert sum(dataset.labeled) == 12
    assert meta[0]["path"] == str(data.resolve()) and len(meta[0]["hash"]) >= 16


def test_labels_made_with_another_face_model_are_refused_naming_the_dataset(tiny_setup, make_config, tmp_path):
    model_path, _ = tiny_setup
    other = tiny_face_model(seed=3)  # same topology, other bases: labels would mean other shapes
    data = write_tiny_dataset(tmp_path / "other_labels", other, tmp_path / "other.npz", n_ids=2, per_id=2, test_ids=0)
    with pytest.raises(PhotofaceError, match=r"other_labels.*refer to face model"):
        _load(model_path, data, make_config)


def test_resuming_on_changed_data_or_other_people_is_refused(tiny_setup, make_config, tmp_path):
    model_path, data = tiny_setup
    dataset, meta = _load(model_path, data, make_config)
    state = {"dataset": meta, "identities": list(dataset.identities)}
    check_data_against_checkpoint(tmp_path, state, dataset, meta)  # the same data: accepted
    check_data_against_checkpoint(tmp_path, None, dataset, meta)  # a fresh run: nothing to check

    changed = shutil.copytree(data, tmp_path / "changed")
    meta_file = changed / "meta.json"  # the fingerprint covers meta.json and index.jsonl
    meta_file.write_text(meta_file.read_text().replace('"tiny-test"', '"tiny-test, re-prepared"'))
    dataset2, meta2 = _load(model_path, changed, make_config)
    with pytest.raises(PhotofaceError, match="data differ"):
        check_data_against_checkpoint(tmp_path, state, dataset2, meta2)
    with pytest.raises(PhotofaceError, match="identities differ"):
        check_data_against_checkpoint(tmp_path, {**state, "identities": state["identities"][:-1]}, dataset, meta)


def test_step_generator_repeats_per_step_and_rank_and_differs_between_them():
    def draw(*key):
        return torch.rand(4, generator=step_generator(*key))

    assert torch.equal(draw(0, 5, 0), draw(0, 5, 0))
    for other in ((0, 6, 0), (0, 5, 1), (1, 5, 0)):
        assert not torch.equal(draw(0, 5, 0), draw(*other))
