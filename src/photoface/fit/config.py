"""``FitConfig``: every weight, iteration count, step size and threshold of the fitter, in one place.

The fitter (``photoface.fit.person``) minimises, per person (B photos, one shared identity)::

    E = Σ_b [ w_lm · L_lm,b + w_photo · L_photo,b + w_gdl · L_gdl,b + w_exp · P_exp,b + w_light · |l_b|² ]
        + w_id · |α_id|² + w_tex · |β|² + w_sym · L_sym

with the per-photo terms averaged over the batch (``photoface.losses`` returns means) and the
shared ones counted once, divided by B, so the posterior's balance between the data of B photos
and the one identity prior is the MAP one of B photos.

Units: landmark residuals are in fractions of the image side (``losses.landmark_loss``);
``landmark_sigma`` is the assumed landmark noise as a fraction of sqrt(w·h) of the photo's
landmark box (the same σ as ``photoface.evaluate.baselines.fit_landmarks``); photometric terms are
squared linear-RGB differences summed over the 3 channels, per masked pixel; coefficients are the
face model's (standard normal, blendshape weights in [0, 1]); angles in degrees; learning rates
are Adam step sizes in the units of each unknown (coefficients, pose code, SH light code).

Stages (coarse to fine):

1. ``landmark_*``: Levenberg-Marquardt on the 68 landmarks, all photos jointly, one identity,
   per-photo expression and pose, jaw landmarks on the silhouette (``photoface.fit.contour``);
2. ``light_iterations``: Adam on light and albedo only (shape and pose fixed), so the photometric
   term does not pull the geometry while the colours are still wrong;
3. ``photo_iterations``: Adam on everything, landmarks + photometric + priors + symmetry.

Override any field from the CLI as ``--set key=value`` (``apply_overrides``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import yaml

from photoface.errors import PhotofaceError


@dataclass
class FitConfig:
    """All knobs of the fitter (module docstring for units)."""

    # --- stage 1: joint landmark fit (Levenberg-Marquardt)
    landmark_sigma: float = 0.02  # landmark noise, fraction of sqrt(w·h) of the landmark box
    landmark_init_iterations: int = 10  # per-photo LM from three yaw starts (initial poses)
    landmark_iterations: int = 25  # joint LM iterations, shared identity
    yaw_starts: tuple[float, ...] = (-40.0, 0.0, 40.0)  # degrees, initial yaws of the per-photo fit
    id_prior: float = 1.0  # λ of |α_id|² (standard-normal coefficients: 1 is the Gaussian prior)
    exp_prior: float = 10.0  # λ of |α_exp|²; 10 measured best on the synthetic benchmark (docs/evaluation.md)
    invisible_weight: float = 0.25  # weight of landmarks flagged invisible (guessed by a detector)
    # --- contour (jaw-line) landmarks
    # "auto": on, except for datasets whose landmarks project FIXED vertices (synthetic ones)
    contour: str = "auto"  # auto | on | off: jaw landmarks slide along precomputed lines to the silhouette
    contour_min_yaw: float = 10.0  # degrees; below it the fixed landmark vertices are used
    # --- stages 2 and 3: Adam through the renderer
    light_iterations: int = 30
    photo_iterations: int = 60
    lr_light: float = 0.05
    lr_albedo: float = 0.05
    lr_id: float = 0.01
    lr_exp: float = 0.01
    lr_pose: float = 0.002
    contour_every: int = 10  # re-pick silhouette vertices every N Adam steps
    # --- weights of the Adam objective (per photo, means; see module docstring)
    w_landmark: float = 1.0  # × Σ_k w_k ‖r_k‖²/σ² (losses.landmark_energy): 1 = the MAP of stage 1
    w_photo: float = 10000.0
    w_gdl: float = 5000.0
    w_id: float = 1.0
    w_exp: float = 1.0
    w_tex: float = 1.0
    w_light: float = 1.0
    w_symmetry: float = 50.0
    # --- refinement of a trained network's codes (photoface.fit.network): Adam steps, code units
    refine_lr_id: float = 0.01
    refine_lr_exp: float = 0.01
    refine_lr_pose: float = 0.002
    refine_lr_light: float = 0.02
    refine_lr_albedo: float = 0.01
    # weights of the code-space priors |z - z_encoder|² (they replace w_id/w_exp/w_light's coefficient priors)
    refine_id_prior: float = 1.0
    refine_exp_prior: float = 1.0
    refine_light_prior: float = 1.0
    refine_albedo_prior: float = 100.0  # per-vertex mean of |offset - initial offset|², linear RGB
    # --- failure detection
    fail_landmark_nme: float = 0.05  # final landmark RMS / sqrt(w·h) of the landmark box
    fail_photo_increase: float = 1.5  # photometric error grew by this factor in stage 3: diverged ...
    fail_photo_min_increase: float = 0.005  # ... and by at least this much (MSE; small errors may wobble)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
                raise PhotofaceError(f"fit config: {f.name} must be >= 0, got {v}")
        if self.contour not in ("auto", "on", "off"):
            raise PhotofaceError(f"fit config: contour must be auto, on or off, got {self.contour!r}")
        if not self.yaw_starts:
            raise PhotofaceError("fit config: yaw_starts must hold at least one yaw")
        self.yaw_starts = tuple(float(y) for y in self.yaw_starts)


def apply_overrides(cfg: FitConfig, overrides: list[str] | tuple[str, ...]) -> FitConfig:
    """A copy of ``cfg`` with ``key=value`` overrides applied (YAML values, e.g. ``photo_iterations=0``).

    Raises PhotofaceError naming an unknown key or a value of the wrong type.
    """
    fields = {f.name: f for f in dataclasses.fields(FitConfig)}
    values = dataclasses.asdict(cfg)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if key.startswith("fit."):
            key = key[4:]
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
