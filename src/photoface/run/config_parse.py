"""Configs from text: ``section.key=value`` overrides (``--set``) and a written config read back
(a run's config.yaml, a checkpoint's ``config``).

Split out of :mod:`photoface.run.config`, which keeps what a config is (its sections, presets and
YAML writer) and imports nothing from here: parsing text is a job of its own. ``FitConfig`` stays
with the other sections, since ``TrainConfig`` holds it and ``run`` may not import ``fit``.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from pathlib import Path
from typing import Any

import yaml

from photoface.errors import PhotofaceError
from photoface.run.config import TrainConfig


def apply_overrides(cfg: TrainConfig, overrides: list[str]) -> TrainConfig:
    """Return a copy of ``cfg`` with ``section.key=value`` overrides applied (values in YAML)."""
    cfg = copy.deepcopy(cfg)
    for item in overrides:
        if "=" not in item:
            raise PhotofaceError(f"override {item!r} is not of the form section.key=value")
        dotted, raw = item.split("=", 1)
        parts = dotted.strip().split(".")
        target: Any = cfg
        for p in parts[:-1]:
            if not dataclasses.is_dataclass(target) or not hasattr(target, p):
                raise PhotofaceError(f"override {item!r}: no config section {p!r}")
            target = getattr(target, p)
        key = parts[-1]
        if not dataclasses.is_dataclass(target) or key not in {f.name for f in dataclasses.fields(target)}:
            raise PhotofaceError(f"override {item!r}: no config key {dotted!r}")
        value = yaml.safe_load(raw)
        old = getattr(target, key)
        floats = isinstance(old, float) or (old is None and "float" in str(_field_type(target, key)))
        if isinstance(old, tuple) and isinstance(value, list):
            value = tuple(value)
        if floats and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if floats and isinstance(value, str):
            # YAML 1.1 reads "5e-05" (no dot) as a string
            with contextlib.suppress(ValueError):
                value = float(value)
        if old is not None and value is not None and not isinstance(value, type(old)):
            raise PhotofaceError(
                f"override {item!r}: {dotted} expects {type(old).__name__}, got {type(value).__name__}"
            )
        setattr(target, key, value)
    return cfg


def _field_type(obj: Any, name: str) -> Any:
    """The annotation of dataclass field ``name`` (a string under ``from __future__ import annotations``)."""
    return next(f.type for f in dataclasses.fields(obj) if f.name == name)


def from_dict(data: dict[str, Any]) -> TrainConfig:
    """Rebuild a config from ``to_dict`` output (e.g. a run's config.yaml)."""
    cfg = TrainConfig(preset=data.get("preset", "demo"))
    for section in ("model", "loss", "optim", "data", "schedule", "fit"):
        sub = getattr(cfg, section)
        for k, v in (data.get(section) or {}).items():
            if not hasattr(sub, k):
                raise PhotofaceError(f"config: unknown key {section}.{k}")
            if isinstance(getattr(sub, k), tuple) and isinstance(v, list):
                v = tuple(v)
            setattr(sub, k, v)
    cfg.fit.__post_init__()  # validate and normalise the fit values read
    return cfg


def load_yaml(path: str | Path) -> TrainConfig:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise PhotofaceError(f"{path}: cannot read config: {exc}") from exc
    if not isinstance(data, dict):
        raise PhotofaceError(f"{path}: config is not a mapping")
    return from_dict(data)
