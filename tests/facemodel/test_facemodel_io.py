import zipfile

import numpy as np
import pytest
import torch

from photoface.errors import InputFileError
from photoface.facemodel.io import load_model, model_arrays, model_hash, save_model
from support.runs import jaw_like


def test_save_load_round_trip_keeps_every_array_and_string(tiny_model, tmp_path):
    path = save_model(tiny_model, tmp_path / "m.npz")
    back = load_model(path)
    for key, a in model_arrays(tiny_model).items():
        assert np.array_equal(model_arrays(back)[key], a), key
    assert back.name == "tiny" and back.license == "CC0" and back.exp_kind == "pca"
    assert back.exp_names == tiny_model.exp_names
    assert model_hash(back) == model_hash(tiny_model)
    assert not list(tmp_path.glob("*.tmp"))  # the atomic write leaves no temporary behind
    with np.load(path) as z:
        assert z["mean"].dtype == np.float32 and z["faces"].dtype == np.int32


def test_hash_tracks_geometry_but_not_free_text(tiny_model):
    h = model_hash(tiny_model)
    tiny_model.name = "renamed"
    assert model_hash(tiny_model) == h
    with torch.no_grad():
        tiny_model.mean[0, 0] += 0.5
    assert model_hash(tiny_model) != h


def _write(tmp_path, arrays, name="bad.npz"):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "key, corrupt, message",
    [
        ("mean", lambda a: np.where(np.arange(a.size).reshape(a.shape) == 5, np.nan, a), "NaN"),
        ("id_basis", lambda a: a[:, :-1], "shape"),
        ("tex_basis", lambda a: a.astype(np.int32), "floating"),
        ("faces", lambda a: np.where(a == a.max(), 10_000, a), "indices must lie"),
        ("faces", lambda a: a.astype(np.float32), "integer"),
        ("landmarks68", lambda a: a[:60], "shape"),
        ("landmarks68", lambda a: np.where(np.arange(68) == 1, a[0], a), "distinct"),
        ("mirror", lambda a: np.zeros_like(a), "involution"),
        ("tex_mean", lambda a: a + 2.0, r"\[0, 1\]"),
        ("exp_kind", lambda a: np.array("fancy"), "must be one of"),
        ("name", lambda a: np.array([1, 2]), "string"),
        ("region_centre", lambda a: a + 1000, "indices"),
    ],
)
def test_a_bad_file_gives_one_error_naming_file_and_key(tiny_model, tmp_path, key, corrupt, message):
    arrays = model_arrays(tiny_model)
    arrays[key] = corrupt(arrays[key])
    path = _write(tmp_path, arrays)
    with pytest.raises(InputFileError, match=message) as info:
        load_model(path)
    assert f"'{key}'" in str(info.value) and str(path) in str(info.value)


def test_missing_and_unknown_keys_and_unreadable_files(tiny_model, tmp_path):
    arrays = model_arrays(tiny_model)
    del arrays["mirror"]
    with pytest.raises(InputFileError, match="'mirror': missing"):
        load_model(_write(tmp_path, arrays))
    arrays = model_arrays(tiny_model)
    arrays["surprise"] = np.zeros(3)
    with pytest.raises(InputFileError, match="'surprise': unknown key"):
        load_model(_write(tmp_path, arrays, "b.npz"))
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(InputFileError, match="not a readable"):
        load_model(junk)
    with pytest.raises(InputFileError, match="no such"):
        load_model(tmp_path / "absent.npz")
    # A pickled object array must not be loaded (it could run code).
    arrays = model_arrays(tiny_model)
    arrays["name"] = np.array([{"a": 1}], dtype=object)
    p = tmp_path / "pickled.npz"
    np.savez(p, **arrays)
    with pytest.raises(InputFileError):
        load_model(p)
    assert zipfile.is_zipfile(p)


def test_expression_bounds_round_trip_and_old_files_keep_their_hash(tiny_model, tmp_path):
    # a model that states no bounds writes no key: its file and hash are what they were before
    assert "exp_bounds" not in model_arrays(tiny_model)
    jaw = jaw_like(tiny_model, 1)
    assert model_hash(jaw) != model_hash(tiny_model)  # the bounds change what the coefficients mean
    back = load_model(save_model(jaw, tmp_path / "jaw.npz"))
    assert torch.equal(back.exp_bounds, jaw.exp_bounds) and model_hash(back) == model_hash(jaw)
    arrays = model_arrays(jaw)
    arrays["exp_bounds"] = np.array([[0.2, 1.0]] * tiny_model.n_exp, np.float32)
    with pytest.raises(InputFileError, match="key 'exp_bounds'.*contain 0"):
        load_model(_write(tmp_path, arrays))
    arrays["exp_bounds"] = np.zeros((tiny_model.n_exp + 1, 2), np.float32)
    with pytest.raises(InputFileError, match="key 'exp_bounds'"):
        load_model(_write(tmp_path, arrays, "short.npz"))
