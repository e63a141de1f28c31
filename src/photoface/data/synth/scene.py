"""Per-photo scene sampling for synthetic photo collections: setting, expression, pose, light,
occluders, background and degradation.

Three difficulty settings follow the MICC Florence videos: ``cooperative`` (near-frontal, soft
white light, plain backgrounds, few occluders, clean images), ``indoor`` and ``outdoor``. Pose
range, light contrast and colour, occlusion and degradation grow at each step; outdoor reaches
the issue's ±75° yaw and hard side light. The numbers live in ``SETTING_SPECS`` and nowhere else.

Units: angles in degrees, scale f in px/mm, translations in pixels (the dataset ``pose``
convention of ``photoface.render.camera``); light codes are (27,) channel-major SH codes
RELATIVE to the renderer's default light (``photoface.render.sh``). Every function draws only
from the caller's ``numpy.random.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from photoface.data.format import SETTINGS
from photoface.data.synth.degrade import Degradation
from photoface.facemodel.model import fold_into_bounds, one_sided
from photoface.render.sh import NUM_COEFFS, default_light, directional_light, irradiance_basis

TRAIN_SETTING_WEIGHTS = (0.3, 0.4, 0.3)
"""How often each setting occurs among training photos."""


@dataclass(frozen=True)
class SettingSpec:
    """Ranges of one difficulty setting (degrees, irradiance units, probabilities, pixels at
    128², scaled with the image size)."""

    yaw: float  # |yaw| up to this
    pitch: float  # |pitch| up to this (truncated normal, sigma = half of it)
    roll: float
    ambient: tuple[float, float]  # uniform irradiance
    key: tuple[float, float]  # strength of the main directional light
    key_spread: float  # azimuth of the key light up to this from the camera axis
    tint: float  # colour deviation of the lights
    hard_side: float  # probability of a hard side light
    neutral: float  # probability of a neutral expression
    occlusion: float  # probability that a photo has any (non-glasses) occluder
    max_occluders: int
    occluders: tuple[str, ...]
    background: str
    clutter: tuple[int, int]
    bg_blur: tuple[float, float]
    blur: tuple[float, float]  # camera defocus sigma, px at 128²
    motion: float  # probability of motion blur
    noise: tuple[float, float]  # read noise std
    jpeg: tuple[int, int]  # JPEG quality range
    exposure: tuple[float, float]  # mean shading of the face after auto-exposure


SETTING_SPECS = {
    "cooperative": SettingSpec(
        yaw=25, pitch=10, roll=5, ambient=(0.5, 0.75), key=(0.25, 0.5), key_spread=35, tint=0.04,
        hard_side=0.0, neutral=0.5, occlusion=0.1, max_occluders=1, occluders=("hair",),
        background="plain", clutter=(0, 0), bg_blur=(0.0, 1.0), blur=(0.0, 0.5), motion=0.0,
        noise=(0.003, 0.012), jpeg=(80, 95), exposure=(0.85, 1.05)),
    "indoor": SettingSpec(
        yaw=50, pitch=20, roll=12, ambient=(0.3, 0.6), key=(0.4, 0.9), key_spread=70, tint=0.15,
        hard_side=0.2, neutral=0.3, occlusion=0.45, max_occluders=2,
        occluders=("hair", "hand", "microphone", "hat"), background="indoor", clutter=(2, 7),
        bg_blur=(0.0, 1.5), blur=(0.0, 0.9), motion=0.1, noise=(0.008, 0.03), jpeg=(50, 90),
        exposure=(0.7, 1.1)),
    "outdoor": SettingSpec(
        yaw=75, pitch=30, roll=20, ambient=(0.12, 0.45), key=(0.6, 1.3), key_spread=95,
        tint=0.25, hard_side=0.45, neutral=0.3, occlusion=0.65, max_occluders=3,
        occluders=("hair", "hand", "microphone", "hat", "sunglasses"), background="outdoor",
        clutter=(1, 5), bg_blur=(0.5, 2.5), blur=(0.0, 1.4), motion=0.2, noise=(0.01, 0.05),
        jpeg=(30, 85), exposure=(0.6, 1.2)),
}


@dataclass
class PhotoScene:
    """Everything sampled for one photo (except what depends on the rendered face).

    ``pose`` is provisional until the face is re-centred in the crop, and ``light`` until the
    auto-exposure scales it so that the face's mean shading equals ``exposure``
    (``photoface.data.synth.photo``).
    """

    setting: str
    alpha_exp: np.ndarray  # (L,) model units
    pose: np.ndarray  # (6,) pitch, yaw, roll deg, f px/mm, tx, ty px
    light: np.ndarray  # (27,) code relative to the renderer's default light
    occluders: list[str] = field(default_factory=list)
    background: str = "plain"
    clutter: int = 0
    bg_blur: float = 0.0
    degradation: Degradation = field(default_factory=Degradation)
    centre_jitter: np.ndarray = field(default_factory=lambda: np.zeros(2))
    exposure: float = 0.9


def _front_normals(n: int = 128) -> torch.Tensor:
    """Unit normals spread over the camera-facing hemisphere (a Fibonacci spiral)."""
    k = torch.arange(n, dtype=torch.float64) + 0.5
    z = k / n
    r = torch.sqrt(1 - z * z)
    phi = k * np.pi * (3 - np.sqrt(5))
    return torch.stack([r * torch.cos(phi), r * torch.sin(phi), z], 1)


_FRONT = _front_normals()
_FRONT_BASIS = irradiance_basis(_FRONT)  # (n, 9)
_FRONT_WEIGHT = _FRONT[:, 2]  # projected area seen by the camera


def _trunc_normal(rng, limit: float) -> float:
    return float(np.clip(rng.normal(0.0, limit / 2.0), -limit, limit))


def sample_setting(rng: np.random.Generator, photo_index: int, test: bool) -> str:
    """Test identities cycle through all settings (photo j gets setting j mod 3) so each has
    every setting; training photos draw them with ``TRAIN_SETTING_WEIGHTS``."""
    if test:
        return SETTINGS[photo_index % len(SETTINGS)]
    return SETTINGS[int(rng.choice(len(SETTINGS), p=TRAIN_SETTING_WEIGHTS))]


def sample_expression(rng: np.random.Generator, n_exp: int, exp_kind: str,
                      neutral_prob: float, bounds: np.ndarray | None = None) -> np.ndarray:
    """A sparse expression: neutral with probability ``neutral_prob``; otherwise one to three
    strong modes plus a faint trace of the others, as people rarely pull pure basis shapes.

    PCA bases (standard-normal coefficients): strong modes are drawn among the first ten
    (the large, natural ones) and the one-sided ones (``bounds``, e.g. FLAME's jaw opening, an
    articulation rather than a variance-ordered mode, appended after the expression components)
    with |value| about 1 to 2.5. Blendshape bases: one to three shapes at weights 0.3 to 1, all
    others 0. The result is folded into ``bounds`` (``facemodel.model.fold_into_bounds``): a
    one-sided coefficient keeps its magnitude with the allowed sign, so FLAME's jaw opens from
    14° to 36° when drawn (and stays closed otherwise), never past neutral.

    Args:
        bounds: (L, 2) [lower, upper] of each coefficient (``MorphableModel.exp_bounds``); None:
            those of ``exp_kind``.

    Returns:
        (n_exp,) float32.
    """
    e = np.zeros(n_exp, np.float32)
    if n_exp == 0 or rng.random() < neutral_prob:
        return e
    k = int(rng.integers(1, 4))
    if exp_kind == "blendshape":
        idx = rng.choice(n_exp, size=min(k, n_exp), replace=False)
        e[idx] = rng.uniform(0.3, 1.0, len(idx))
        return e if bounds is None else fold_into_bounds(e, bounds)
    top = min(n_exp, 10)
    extra = [] if bounds is None else [int(i) for i in np.flatnonzero(one_sided(bounds)) if i >= top]
    # without one-sided modes the draw is the one synth has always made (same bytes as before)
    pool = top if not extra else np.concatenate([np.arange(top), extra])
    idx = rng.choice(pool, size=min(k, top + len(extra)), replace=False)
    e[idx] = rng.choice([-1.0, 1.0], len(idx)) * rng.uniform(1.0, 2.5, len(idx))
    faint = min(n_exp, 20)
    e[:faint] += rng.normal(0.0, 0.15, faint).astype(np.float32)
    return e if bounds is None else fold_into_bounds(e, bounds)


def sample_pose(rng: np.random.Generator, spec: SettingSpec, size: int) -> np.ndarray:
    """Angles of the setting plus slight scale jitter (±8 %) around f0 = size / 200 px/mm.

    Returns (6,) with tx, ty at the image centre; the crop re-centring adds translation jitter.
    """
    yaw = rng.uniform(-spec.yaw, spec.yaw)
    pitch = _trunc_normal(rng, spec.pitch)
    roll = _trunc_normal(rng, spec.roll)
    f = size / 200.0 * float(np.exp(rng.uniform(-0.08, 0.08)))
    return np.array([pitch, yaw, roll, f, size / 2.0, size / 2.0], np.float64)


def sample_light(rng: np.random.Generator, spec: SettingSpec) -> np.ndarray:
    """Ambient plus a key light (camera-space direction), sometimes a coloured fill light from
    the other side, sometimes a hard side light with little ambient.

    Returns the (27,) code, scaled so that a camera-facing hemisphere has mean irradiance 1;
    the photo's auto-exposure rescales it after rendering (``PhotoScene.exposure``)."""
    def tint(amount):
        return np.clip(1.0 + rng.uniform(-amount, amount, 3), 0.4, 1.6)

    warm = rng.uniform(-1.0, 1.0) * spec.tint  # warm (tungsten) vs cool (shade) white balance
    base_col = np.array([1.0 + warm, 1.0, 1.0 - warm]) * tint(spec.tint * 0.4)
    if rng.random() < spec.hard_side:
        side = rng.choice([-1.0, 1.0])
        d = np.array([side, rng.uniform(-0.1, 0.5), rng.uniform(-0.2, 0.3)])
        total = directional_light(d.tolist(), rng.uniform(1.0, 1.5), rng.uniform(0.05, 0.2),
                                  base_col.tolist(), dtype=torch.float64)
    else:
        az = np.deg2rad(rng.uniform(-spec.key_spread, spec.key_spread))
        el = np.deg2rad(rng.uniform(-15, 55))
        d = [np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)]
        total = directional_light(d, rng.uniform(*spec.key), rng.uniform(*spec.ambient),
                                  base_col.tolist(), dtype=torch.float64)
        if rng.random() < 2 * spec.tint:  # coloured fill (sky, a screen, a neon sign)
            fd = [-d[0] + rng.normal(0, 0.3), rng.normal(0, 0.3), 0.6]
            total = total + directional_light(fd, rng.uniform(0.1, 0.3), 0.0,
                                              tint(0.4).tolist(), dtype=torch.float64)
    # normalise the brightness of a camera-facing surface to 1; the photo's auto-exposure
    # (``PhotoScene.exposure``, applied after rendering) then meters on the face itself
    irr = _FRONT_BASIS @ total.reshape(3, NUM_COEFFS).T  # (n, 3)
    level = float((irr.mean(1) * _FRONT_WEIGHT).sum() / _FRONT_WEIGHT.sum())
    total = total / max(level, 0.05)
    code = total - default_light(dtype=torch.float64)
    return code.numpy()


def sample_occluders(rng: np.random.Generator, spec: SettingSpec, setting: str,
                     wears_glasses: bool) -> list[str]:
    """Occluder names for one photo, drawn back to front (hair and hats first, hands last)."""
    kinds: list[str] = []
    if wears_glasses and rng.random() < 0.75:
        kinds.append("glasses")
    if rng.random() < spec.occlusion:
        n = int(rng.integers(1, spec.max_occluders + 1))
        pool = [k for k in spec.occluders if not (k == "sunglasses" and kinds)]
        kinds += [str(k) for k in rng.choice(pool, size=min(n, len(pool)), replace=False)]
    order = ("hair", "hat", "glasses", "sunglasses", "microphone", "hand")
    return sorted(set(kinds), key=order.index)


def sample_degradation(rng: np.random.Generator, spec: SettingSpec, size: int) -> Degradation:
    """Blur and noise scaled to the image size (ranges are for 128²)."""
    k = size / 128.0
    motion = rng.random() < spec.motion
    return Degradation(
        blur_sigma=float(rng.uniform(*spec.blur) * k),
        motion_px=float(rng.uniform(2.0, 5.0) * k) if motion else 0.0,
        motion_angle=float(rng.uniform(0, np.pi)),
        read_noise=float(rng.uniform(*spec.noise)),
        shot_noise=float(rng.uniform(0.0, 0.02)),
        jpeg_quality=int(rng.integers(spec.jpeg[0], spec.jpeg[1] + 1)),
    )


def sample_scene(rng: np.random.Generator, setting: str, n_exp: int, exp_kind: str, size: int,
                 wears_glasses: bool, exp_bounds: np.ndarray | None = None) -> PhotoScene:
    """Everything random about one photo in a given setting (``exp_bounds``: ``sample_expression``)."""
    spec = SETTING_SPECS[setting]
    return PhotoScene(
        setting=setting,
        alpha_exp=sample_expression(rng, n_exp, exp_kind, spec.neutral, exp_bounds),
        pose=sample_pose(rng, spec, size),
        light=sample_light(rng, spec),
        occluders=sample_occluders(rng, spec, setting, wears_glasses),
        background=spec.background,
        clutter=int(rng.integers(spec.clutter[0], spec.clutter[1] + 1)),
        bg_blur=float(rng.uniform(*spec.bg_blur) * size / 128.0),
        degradation=sample_degradation(rng, spec, size),
        centre_jitter=np.clip(rng.normal(0.0, 0.025, 2), -0.06, 0.06) * size,
        exposure=float(rng.uniform(*spec.exposure)),
    )


def detector_noise(rng: np.random.Generator, landmarks: np.ndarray, visible: np.ndarray,
                   yaw_deg: float, size: int) -> np.ndarray:
    """Landmarks as a 68-point detector would give them.

    About 1 px (at 128²) Gaussian error everywhere; the jaw contour (0-16) gets up to 2.5 px
    more as |yaw| grows to 75° (detectors slide it along the silhouette); landmarks hidden by the
    face or an occluder get 2 px more (they are guessed); one photo in twenty has a gross error
    on one part (an eye, the mouth or the jaw shifted by about 4 px).

    Args:
        landmarks: (68, 2) exact pixels. visible: (68,) bool.

    Returns:
        (68, 2) float64 pixels.
    """
    k = size / 128.0
    sigma = np.full(68, 1.0 * k)
    sigma[:17] += 2.5 * k * min(abs(yaw_deg) / 75.0, 1.0)
    sigma[~np.asarray(visible, bool)] += 2.0 * k
    out = landmarks + rng.normal(0.0, 1.0, (68, 2)) * sigma[:, None]
    if rng.random() < 0.05:
        part = [slice(36, 42), slice(42, 48), slice(48, 68), slice(0, 17)][int(rng.integers(4))]
        out[part] += rng.normal(0.0, 4.0 * k, 2)
    return out
