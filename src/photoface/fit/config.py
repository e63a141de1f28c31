"""The fitter's config: ``FitConfig`` is the ``fit`` section of the one config source
(``photoface.run.config``, where every field is documented); ``apply_overrides`` applies the
``key=value`` (or ``fit.key=value``) overrides of ``photoface fit`` and ``reconstruct --refine``.
"""

from __future__ import annotations

import dataclasses

import yaml

from photoface.errors import PhotofaceError
from photoface.run.config import FitConfig


def apply_overrides(cfg: FitConfig, overrides: list[str] | tuple[str, ...]) -> FitConfig:
    """A copy of ``cfg`` with ``key=value`` overrides applied (YAML values, e.g. ``photo_iterations=0``).

    Raises PhotofaceError naming an unknown key or a value of the wrong type.
    """
    fields = {f.name: f for f in dataclasses.fields(FitConfig)}
    values = dataclasses.asdict(cfg)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        key = key.removeprefix("fit.")
        if not sep or key not in fields:
            known = ", ".join(sorted(fields))
            raise PhotofaceError(f"--set {item!r}: expected key=value with a key among {known}")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PhotofaceError(f"--set {item!r}: not a YAML value ({exc})") from None
        old = values[key]
        if isinstance(old, bool):
            ok = isinstance(value, bool)
        elif isinstance(old, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(old, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            value = float(value) if ok else value
        elif isinstance(old, str):
            value, ok = text.strip(), True  # raw text: YAML would read on/off as booleans
        elif isinstance(old, tuple):
            ok = isinstance(value, list) and all(isinstance(v, (int, float)) for v in value)
            value = tuple(value) if ok else value
        else:
            ok = True
        if not ok:
            raise PhotofaceError(f"--set {item!r}: {key} takes a {type(old).__name__}, got {value!r}")
        values[key] = value
    return FitConfig(**values)


__all__ = ["FitConfig", "apply_overrides"]
