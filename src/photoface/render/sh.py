"""Lambertian shading under spherical-harmonics lighting: 3 bands, 9 coefficients per colour.

Convention (Ramamoorthi & Hanrahan 2001, "An efficient representation for irradiance
environment maps"): the 9 coefficients ``L_lm`` per colour channel are the real-SH projection of
the distant incident radiance, and the shading is the irradiance

    E(n) = sum_{l<=2} sum_m  Â_l · L_lm · Y_lm(n),    Â_0 = π, Â_1 = 2π/3, Â_2 = π/4,

with ``Y_lm`` the standard orthonormal real spherical harmonics, ordered
(0,0), (1,-1), (1,0), (1,1), (2,-2), (2,-1), (2,0), (2,1), (2,2):

    0.282095,  0.488603·y, 0.488603·z, 0.488603·x,
    1.092548·xy, 1.092548·yz, 0.315392·(3z²-1), 1.092548·xz, 0.546274·(x²-y²).

This is the convention Deep3DFaceRecon and DECA build on (they fold the same Â_l·Y_lm constants
into their basis, with their own orderings and axis signs). The albedo is multiplied by ``E``
directly (the 1/π of the Lambertian BRDF is absorbed into the coefficients), so a white surface
under ``E = 1`` renders white. Normals and light directions are in CAMERA space
(``photoface.render.camera``: x image-right, y up, z towards the camera); the light therefore
stays fixed relative to the camera as the head turns. A single distant light of strength ``I``
from direction ``d`` has ``L_lm = I · Y_lm(d)``, giving ``E(n) ≈ I · max(n·d, 0)``.

Light code (B, 27): channel-major, ``light[:, c*9 + k]`` is coefficient k of colour c (R, G, B).
The renderer ADDS ``DEFAULT_LIGHT`` to the code, so a zero code is already a sensibly lit face:
ambient irradiance 0.6 plus a frontal term 0.4·n_z (1.0 where the surface faces the camera, 0.6
at the silhouette), white. Presets for people (``light_preset``) are codes relative to it.
"""

from __future__ import annotations

import math

import torch

from photoface.errors import PhotofaceError

NUM_COEFFS = 9
"""SH coefficients per colour channel (bands 0..2)."""
LIGHT_DIM = 3 * NUM_COEFFS
"""Length of a light code (27)."""

_Y0 = 0.5 / math.sqrt(math.pi)
_Y1 = math.sqrt(3.0 / (4.0 * math.pi))
_Y2_OFF = 0.5 * math.sqrt(15.0 / math.pi)
_Y2_ZZ = 0.25 * math.sqrt(5.0 / math.pi)
_Y2_XY = 0.25 * math.sqrt(15.0 / math.pi)
_A0, _A1, _A2 = math.pi, 2.0 * math.pi / 3.0, math.pi / 4.0

DEFAULT_AMBIENT = 0.6
"""Irradiance of the default light everywhere (the zero code)."""
DEFAULT_FRONTAL = 0.4
"""Extra irradiance of the default light on surfaces facing the camera (× n_z)."""


def sh_basis(normals: torch.Tensor) -> torch.Tensor:
    """Orthonormal real SH basis (bands 0..2) at unit directions.

    Args:
        normals: (..., 3) unit vectors (x, y, z).

    Returns:
        (..., 9) values ``Y_lm(n)`` in the order of the module docstring.
    """
    x, y, z = normals.unbind(-1)
    return torch.stack(
        [
            torch.full_like(x, _Y0),
            _Y1 * y,
            _Y1 * z,
            _Y1 * x,
            _Y2_OFF * x * y,
            _Y2_OFF * y * z,
            _Y2_ZZ * (3.0 * z * z - 1.0),
            _Y2_OFF * x * z,
            _Y2_XY * (x * x - y * y),
        ],
        dim=-1,
    )


_BAND_GAIN = (_A0, _A1, _A1, _A1, _A2, _A2, _A2, _A2, _A2)


def irradiance_basis(normals: torch.Tensor) -> torch.Tensor:
    """``Â_l · Y_lm(n)``: the basis whose dot product with ``L_lm`` is the irradiance.

    Args:
        normals: (..., 3) unit vectors.

    Returns:
        (..., 9).
    """
    gain = torch.tensor(_BAND_GAIN, dtype=normals.dtype, device=normals.device)
    return sh_basis(normals) * gain


def sh_shading(normals: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    """Lambertian SH shading (irradiance) per colour channel.

    Args:
        normals: (..., 3) unit normals, camera space.
        coeffs: (..., 27) channel-major light coefficients (total light, i.e. already including
            the default if wanted), broadcastable against ``normals[..., :1]``.

    Returns:
        (..., 3) shading per R, G, B; multiply the albedo by it.
    """
    basis = irradiance_basis(normals)  # (..., 9)
    coeffs = coeffs.reshape(*coeffs.shape[:-1], 3, NUM_COEFFS)
    return (coeffs * basis.unsqueeze(-2)).sum(-1)


def irradiance_matrices(coeffs: torch.Tensor) -> torch.Tensor:
    """The same shading as a quadratic form (Ramamoorthi & Hanrahan 2001, eq. 12).

    ``E_c(n) = [n, 1]ᵀ · Q_c · [n, 1]`` holds for every n, unit or not, which lets the renderer
    shade with one small matrix product per pixel instead of nine basis functions.

    Args:
        coeffs: (B, 27) channel-major light coefficients.

    Returns:
        (B, 3, 4, 4) symmetric matrices Q_c.
    """
    l = coeffs.reshape(-1, 3, NUM_COEFFS)
    a1, off = _A1 * _Y1 / 2.0, _A2 * _Y2_OFF / 2.0
    zz, xy = _A2 * _Y2_ZZ, _A2 * _Y2_XY
    q = [
        [xy * l[..., 8], off * l[..., 4], off * l[..., 7], a1 * l[..., 3]],
        [off * l[..., 4], -xy * l[..., 8], off * l[..., 5], a1 * l[..., 1]],
        [off * l[..., 7], off * l[..., 5], 3.0 * zz * l[..., 6], a1 * l[..., 2]],
        [a1 * l[..., 3], a1 * l[..., 1], a1 * l[..., 2], _A0 * _Y0 * l[..., 0] - zz * l[..., 6]],
    ]
    return torch.stack([torch.stack(row, dim=-1) for row in q], dim=-2)


def sh_shading_grouped(normals: torch.Tensor, coeffs: torch.Tensor, group_sizes) -> torch.Tensor:
    """``sh_shading`` for points grouped by batch item, via ``irradiance_matrices``.

    Same result as ``sh_shading(normals, coeffs[item_of_each_point])`` without materialising a
    27-number light or 9 basis values per point, which dominated the renderer's shading cost.

    Args:
        normals: (N, 3) unit normals, camera space, item 0's points first, then item 1's, ...
        coeffs: (B, 27) channel-major total light per item.
        group_sizes: B ints summing to N.

    Returns:
        (N, 3) shading.
    """
    n4 = torch.cat([normals, torch.ones_like(normals[:, :1])], dim=1)  # (N, 4)
    q = irradiance_matrices(coeffs).permute(0, 2, 1, 3).reshape(-1, 4, 12)  # (B, 4, 3·4)
    parts = [part @ q[i] for i, part in enumerate(torch.split(n4, list(group_sizes)))]
    t = torch.cat(parts) if parts else n4.new_zeros(0, 12)
    return (t.view(-1, 3, 4) * n4.unsqueeze(1)).sum(-1)


def default_light(dtype=torch.float32, device=None) -> torch.Tensor:
    """(27,) the total light of a zero code: ambient 0.6 + frontal 0.4·n_z, white."""
    per_channel = torch.zeros(NUM_COEFFS, dtype=dtype, device=device)
    per_channel[0] = DEFAULT_AMBIENT / (_A0 * _Y0)
    per_channel[2] = DEFAULT_FRONTAL / (_A1 * _Y1)
    return per_channel.repeat(3)


def directional_light(
    direction, intensity: float = 1.0, ambient: float = 0.0, color=(1.0, 1.0, 1.0),
    dtype=torch.float32, device=None,
) -> torch.Tensor:
    """(27,) TOTAL light coefficients of one distant light plus uniform ambient irradiance.

    Args:
        direction: 3 numbers, camera space, pointing from the face towards the light
            (normalised here).
        intensity: irradiance on a surface facing the light (before colour).
        ambient: irradiance added everywhere.
        color: RGB multipliers of the whole light.

    Returns:
        (27,) channel-major coefficients (subtract ``default_light()`` to get a code).
    """
    d = torch.nn.functional.normalize(torch.as_tensor(direction, dtype=dtype, device=device), dim=0)
    per_channel = intensity * sh_basis(d)
    per_channel[0] = per_channel[0] + ambient / (_A0 * _Y0)
    rgb = torch.as_tensor(color, dtype=dtype, device=device)
    return (rgb[:, None] * per_channel[None, :]).reshape(LIGHT_DIM)


_PRESETS = {
    # name: (direction towards the light, intensity, ambient, colour); None = the default light
    "front": None,
    "flat": ((0.0, 0.0, 1.0), 0.0, 1.0, (1.0, 1.0, 1.0)),
    "left": ((-0.8, 0.3, 0.55), 0.85, 0.35, (1.0, 1.0, 1.0)),
    "right": ((0.8, 0.3, 0.55), 0.85, 0.35, (1.0, 1.0, 1.0)),
    "above": ((0.0, 0.85, 0.5), 0.85, 0.35, (1.0, 1.0, 1.0)),
    "below": ((0.0, -0.8, 0.6), 0.8, 0.35, (1.0, 1.0, 1.0)),
    "warm": ((0.45, 0.35, 0.8), 0.6, 0.45, (1.1, 0.9, 0.7)),
    "dim": ((0.0, 0.0, 1.0), 0.25, 0.3, (1.0, 1.0, 1.0)),
}
LIGHT_PRESETS = tuple(_PRESETS)
"""Names accepted by ``light_preset`` (and the CLI's ``--light``)."""


def light_preset(name: str, dtype=torch.float32, device=None) -> torch.Tensor:
    """(27,) light CODE (relative to the default) of a named preset.

    ``front`` is the default light (a zero code). Directions are in camera space, so ``left``
    lights the side of the face on the image's left.
    """
    if name not in _PRESETS:
        raise PhotofaceError(f"unknown light preset {name!r}; choose one of {', '.join(LIGHT_PRESETS)}")
    if _PRESETS[name] is None:
        return torch.zeros(LIGHT_DIM, dtype=dtype, device=device)
    direction, intensity, ambient, color = _PRESETS[name]
    total = directional_light(direction, intensity, ambient, color, dtype=dtype, device=device)
    return total - default_light(dtype=dtype, device=device)


def parse_light(text: str) -> torch.Tensor:
    """A light code from a preset name or 27 comma-separated numbers (the CLI's ``--light``)."""
    text = text.strip()
    if text in _PRESETS:
        return light_preset(text)
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise PhotofaceError(
            f"--light {text!r}: expected a preset ({', '.join(LIGHT_PRESETS)}) or 27 comma-separated numbers"
        ) from None
    if len(values) != LIGHT_DIM:
        raise PhotofaceError(f"--light: expected {LIGHT_DIM} numbers, got {len(values)}")
    return torch.tensor(values)
