"""Fixtures for the training tests: the tiny face model and 32-px dataset of ``support.runs``,
and its builders handed out as fixtures."""

from __future__ import annotations

import pytest

from photoface.facemodel.io import save_model
from support.runs import tiny_config, tiny_face_model, tiny_overrides, write_tiny_dataset


@pytest.fixture(scope="session")
def tiny_setup(tmp_path_factory):
    """(model path, dataset dir) shared by the training tests (read-only)."""
    root = tmp_path_factory.mktemp("tiny")
    model = tiny_face_model()
    model_path = root / "tiny_model.npz"
    save_model(model, model_path)
    data = write_tiny_dataset(root / "data", model, model_path)
    return model_path, data


@pytest.fixture()
def make_config():
    return tiny_config


@pytest.fixture()
def make_face_model():
    return tiny_face_model


@pytest.fixture()
def make_overrides():
    return tiny_overrides
