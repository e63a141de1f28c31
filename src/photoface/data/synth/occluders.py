"""Occluders for synthetic photos: glasses, sunglasses, hands, hair strands, microphones, hats.

Each occluder is a 2.5-D drawing: anti-aliased 2-D shapes (``photoface.data.synth.raster``) that
carry their own height (pixels towards the camera, larger = nearer, the renderer's z_screen
convention). Heights come from the posed face's landmarks, e.g. a lens sits about 14 mm in front
of its eye and a glasses temple runs back to the ear; so when the head turns, the face itself can
hide the far temple or a lens: ``composite`` z-tests every occluder pixel against the face's
depth. All occluders of a photo are painted into one ``Layer``.

Placement works in a face frame measured on the projected landmarks, so it follows pose, scale
and roll: ``u`` is the image direction from the subject's right eye to the left eye, ``v`` is
``u`` turned to point down the face (towards the chin); ``hs`` and ``vs`` are pixels per
millimetre along ``u`` (foreshortened by yaw) and along ``v``.

Colours are linear RGB multiplied by ``light_gain`` (the photo's overall light colour), so an
occluder is as bright as the scene around it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from photoface.data.synth.raster import Layer, bezier, ellipse, polyline

OCCLUDER_KINDS = ("glasses", "sunglasses", "hand", "hair", "microphone", "hat")
EYE_DISTANCE_MM = 62.0
"""Typical distance between the eye centres; converts the projected eye distance to px/mm."""


@dataclass
class FaceAnchors:
    """Where the posed face is, for placing occluders.

    Attributes:
        lm: (68, 2) projected landmarks, pixels.
        height: (68,) landmark heights (z_screen, pixels, larger = nearer).
        f: scale in pixels per millimetre.
        skin: (3,) linear RGB skin colour of the identity.
        hair: (3,) linear RGB hair colour of the identity.
    """

    lm: np.ndarray
    height: np.ndarray
    f: float
    skin: np.ndarray
    hair: np.ndarray

    def __post_init__(self):
        self.r_eye = self.lm[36:42].mean(0)
        self.l_eye = self.lm[42:48].mean(0)
        d = self.l_eye - self.r_eye
        n = float(np.hypot(*d))
        self.u = d / n if n > 1e-6 else np.array([1.0, 0.0])
        self.v = np.array([-self.u[1], self.u[0]])
        self.hs = max(n / EYE_DISTANCE_MM, 0.3 * self.f)
        self.vs = self.f
        self.eye_mid = 0.5 * (self.r_eye + self.l_eye)

    def at(self, origin: np.ndarray, a_mm: float, b_mm: float) -> np.ndarray:
        """Point ``a_mm`` along u and ``b_mm`` along v (down) from ``origin``, pixels."""
        return origin + self.u * a_mm * self.hs + self.v * b_mm * self.vs

    @property
    def angle(self) -> float:
        """Image angle of u (radians): the face's roll as seen in the picture."""
        return float(np.arctan2(self.u[1], self.u[0]))

    def nearest_height(self, pts: np.ndarray) -> np.ndarray:
        """Height of the nearest landmark for each of (n, 2) points."""
        d = ((pts[:, None, :] - self.lm[None]) ** 2).sum(-1)
        return self.height[np.argmin(d, axis=1)]


def _shade(colour, gain) -> np.ndarray:
    return np.clip(np.asarray(colour, np.float32) * gain, 0.0, 1.0)


def _glasses(layer: Layer, a: FaceAnchors, rng, gain, dark: bool) -> None:
    frame = _shade(rng.choice([[0.03, 0.03, 0.03], [0.25, 0.12, 0.05], [0.6, 0.6, 0.62],
                               [0.5, 0.05, 0.05]]), gain)
    rx_mm, ry_mm = rng.uniform(22, 27), rng.uniform(15, 21)
    rim = max(rng.uniform(1.5, 3.5) * a.f, 0.9)
    lift = rng.uniform(-1.0, 3.0)
    lens_h = []
    for eye, sl in ((a.r_eye, slice(36, 42)), (a.l_eye, slice(42, 48))):
        c = a.at(eye, 0.0, lift)
        h = float(a.height[sl].mean()) + 14.0 * a.f
        lens_h.append(h)
        if dark:
            ellipse(layer, c[0], c[1], rx_mm * a.hs, ry_mm * a.vs, a.angle,
                    _shade([0.04, 0.05, 0.06], gain), h)
        ellipse(layer, c[0], c[1], rx_mm * a.hs, ry_mm * a.vs, a.angle, frame, h, ring=rim)
    # bridge between the inner rims, and temples back to the ears (jaw landmarks 0 and 16)
    inner_r = a.at(a.r_eye, rx_mm, lift - 3)
    inner_l = a.at(a.l_eye, -rx_mm, lift - 3)
    polyline(layer, np.stack([inner_r, a.at(a.eye_mid, 0, lift - 5), inner_l]), rim, frame,
             [lens_h[0], max(lens_h) + 3 * a.f, lens_h[1]])
    for eye, side, ear, h in ((a.r_eye, -1, 0, lens_h[0]), (a.l_eye, 1, 16, lens_h[1])):
        outer = a.at(eye, side * rx_mm, lift - 4)
        ear_pt = a.lm[ear] + (a.eye_mid - a.lm[ear]) * 0.05
        polyline(layer, np.stack([outer, ear_pt]), rim * 0.8, frame, [h, a.height[ear]])


def _hand(layer: Layer, a: FaceAnchors, rng, gain) -> None:
    skin = _shade(a.skin * rng.uniform(0.75, 0.95) * rng.uniform(0.95, 1.05, 3), gain)
    crease = skin * 0.7  # finger outlines, so that the fingers read as separate
    anchor_idx = int(rng.choice([2, 3, 4, 5, 8, 11, 12, 13, 14, 57, 48, 54]))
    target = a.lm[anchor_idx]
    out = target - a.lm[30]
    n = np.hypot(*out)
    out = out / n if n > 1e-6 else a.v
    if anchor_idx in (8, 57):
        out = a.v
    mm = a.f * rng.uniform(0.8, 1.0)  # pixels per mm of this hand (hand sizes vary)
    # palm sits outside the face below/beside the anchor, fingers reach across it
    palm = target + out * rng.uniform(25, 55) * mm
    up = -out
    ang = float(np.arctan2(up[1], up[0]))
    h = float(a.height[anchor_idx]) + rng.uniform(8, 20) * a.f
    side = np.array([-up[1], up[0]])

    def tex(uu, vv):
        k = 0.82 + 0.18 * np.clip(1.0 - (uu ** 2 + vv ** 2), 0.0, 1.0)
        return skin * k[..., None]

    ellipse(layer, palm[0], palm[1], 50 * mm, 43 * mm, ang, tex, h)
    spread = rng.uniform(-0.15, 0.15)
    for k, (offset, length) in enumerate(((-28, 62), (-10, 72), (8, 70), (25, 58))):
        base = palm + up * 35 * mm + side * offset * mm
        dirk = up * np.cos(spread * (k - 1.5)) + side * np.sin(spread * (k - 1.5))
        tip = base + dirk * length * mm * rng.uniform(0.85, 1.1)
        pts = np.stack([base, 0.5 * (base + tip), tip])
        width = np.array([19, 17, 15]) * mm
        polyline(layer, pts, width + 1.2, crease, h + 2 * a.f)
        polyline(layer, pts, width, skin * rng.uniform(0.9, 1.0), h + 2 * a.f)
    thumb_side = rng.choice([-1.0, 1.0])
    t0 = palm + side * thumb_side * 38 * mm
    t1 = t0 + (side * thumb_side * 0.6 + up * 0.8) * 55 * mm
    polyline(layer, np.stack([t0, t1]), np.array([22, 17]) * mm + 1.2, crease, h + 3 * a.f)
    polyline(layer, np.stack([t0, t1]), np.array([22, 17]) * mm, skin * 0.93, h + 3 * a.f)


def _hair(layer: Layer, a: FaceAnchors, rng, gain) -> None:
    base = _shade(a.hair, gain)
    side = rng.choice([-1.0, 1.0])
    brow_mid = 0.5 * (a.lm[19] + a.lm[24])
    root = a.at(brow_mid, side * rng.uniform(-10, 35), -rng.uniform(45, 60))
    end = a.at(brow_mid, side * rng.uniform(15, 55), rng.uniform(5, 55))
    n_strands = int(rng.integers(8, 30))
    width = max(rng.uniform(1.2, 2.5) * a.f, 0.6)
    for _ in range(n_strands):
        j0 = a.at(root, rng.normal(0, 6), rng.normal(0, 3)) - root
        j1 = a.at(end, rng.normal(0, 10), rng.normal(0, 8)) - end
        p0, p3 = root + j0, end + j1
        bend = (a.u * side * rng.uniform(5, 25) * a.hs)
        p1 = p0 + (p3 - p0) * 0.33 + bend
        p2 = p0 + (p3 - p0) * 0.66 + bend * rng.uniform(0.2, 1.0)
        pts = bezier(p0, p1, p2, p3, n=10)
        hts = a.nearest_height(pts) + 6.0 * a.f
        col = np.clip(base * rng.uniform(0.7, 1.3), 0, 1)
        polyline(layer, pts, np.linspace(width * 1.3, width * 0.6, len(pts)), col, hts)


def _microphone(layer: Layer, a: FaceAnchors, rng, gain) -> None:
    mouth = a.lm[48:60].mean(0)
    side = rng.choice([-1.0, 1.0])
    head = a.at(mouth, side * rng.uniform(0, 35), rng.uniform(10, 35))
    r = rng.uniform(20, 28) * a.f
    h = float(a.height[48:60].mean()) + rng.uniform(25, 45) * a.f
    grey = rng.uniform(0.15, 0.5)

    def mesh(uu, vv):
        grid = (np.abs(np.sin(uu * 9.0)) < 0.25) | (np.abs(np.sin(vv * 9.0)) < 0.25)
        shade = 0.7 + 0.3 * np.clip(1 - (uu + 0.4) ** 2 - (vv + 0.4) ** 2, 0, 1)
        c = np.where(grid[..., None], grey * 1.5, grey * 0.6) * shade[..., None]
        return _shade(np.broadcast_to(c, uu.shape + (3,)), gain)

    down = a.at(np.zeros(2), side * 0.35, 1.0)
    down = down / max(np.hypot(*down), 1e-6)
    end = head + down * rng.uniform(120, 180) * a.f
    polyline(layer, np.stack([head, end]), np.array([22, 32]) * a.f,
             _shade([0.04, 0.04, 0.05], gain), h - 5 * a.f)
    ellipse(layer, head[0], head[1], r, r, 0.0, mesh, h)


def _hat(layer: Layer, a: FaceAnchors, rng, gain) -> None:
    colour = _shade(np.clip(rng.uniform(0.05, 0.9) * (1 + rng.uniform(-0.6, 0.6, 3)), 0, 1), gain)
    brow_mid = 0.5 * (a.lm[19] + a.lm[24])
    edge_mm = rng.uniform(8, 30)  # the hat's lower edge, mm above the brows
    crown = a.at(brow_mid, 0.0, -edge_mm - 10)
    h = float(a.height[17:27].max()) + 15 * a.f
    rx, ry = rng.uniform(88, 100) * a.hs, rng.uniform(80, 100) * a.vs
    # keep only the part above the edge line: points p with v·p <= v·edge
    edge = a.at(brow_mid, 0.0, -edge_mm)
    cut = (a.v[0], a.v[1], float(a.v @ edge))
    beanie = rng.random() < 0.5

    def tex(uu, vv):
        k = 0.8 + 0.2 * np.clip(1 - uu ** 2 - (vv + 0.5) ** 2, 0, 1)
        if beanie:
            k = k * (0.85 + 0.15 * (np.sin(uu * 40.0) > 0))
        return colour * k[..., None]

    ellipse(layer, crown[0], crown[1], rx, ry, a.angle, tex, h, cut=cut)
    if beanie:  # a folded cuff along the edge
        cuff = a.at(brow_mid, 0.0, -edge_mm - 6)
        ellipse(layer, cuff[0], cuff[1], rx * 0.98, 9 * a.vs, a.angle, colour * 0.85, h + a.f)
    else:  # a cap's brim sticking out towards the camera
        brim = a.at(brow_mid, 0.0, -edge_mm + 2)
        ellipse(layer, brim[0], brim[1], rx * 0.8, rng.uniform(10, 18) * a.vs, a.angle,
                colour * 0.7, h + 40 * a.f)


_DRAW = {
    "glasses": lambda layer, a, rng, gain: _glasses(layer, a, rng, gain, dark=False),
    "sunglasses": lambda layer, a, rng, gain: _glasses(layer, a, rng, gain, dark=True),
    "hand": _hand,
    "hair": _hair,
    "microphone": _microphone,
    "hat": _hat,
}


def draw_occluders(kinds, anchors: FaceAnchors, size: int, rng: np.random.Generator,
                   light_gain: np.ndarray, layer: Layer | None = None) -> Layer:
    """Paint the listed occluders (back to front in the given order) into ``layer`` (a new
    one when None).

    Args:
        kinds: occluder names from ``OCCLUDER_KINDS``.
        anchors: the posed face.
        size: image side in pixels.
        rng: the caller's generator (consumed).
        light_gain: (3,) colour multiplier of the scene light.

    Returns:
        The ``Layer`` (rgb, alpha, height), empty when ``kinds`` is empty.
    """
    layer = Layer(size) if layer is None else layer
    gain = np.asarray(light_gain, np.float32)
    for kind in kinds:
        if kind not in _DRAW:
            raise ValueError(f"unknown occluder {kind!r}; expected one of {OCCLUDER_KINDS}")
        _DRAW[kind](layer, anchors, rng, gain)
    return layer


OCCLUDING_ALPHA = 0.5
"""An occluder pixel hides the face (leaves the mask) where its coverage reaches this."""


def composite(img: np.ndarray, face_cov: np.ndarray, face_depth: np.ndarray,
              layer: Layer) -> tuple[np.ndarray, np.ndarray]:
    """Draw the occluder layer over a picture that already shows the face, with a z-test.

    Args:
        img: (S, S, 3) float32 picture (background + face).
        face_cov: (S, S) bool, pixels covered by the rendered face.
        face_depth: (S, S) the face's z_screen (pixels, larger = nearer); ignored off the face.
        layer: the occluders.

    Returns:
        (picture (S, S, 3) float32, occluded (S, S) bool): ``occluded`` marks face pixels that
        an occluder in front of the face covers with alpha >= ``OCCLUDING_ALPHA``.
    """
    face_h = np.where(face_cov, face_depth, -np.inf)
    a = layer.alpha * (layer.height > face_h)
    out = img * (1.0 - a[..., None]) + layer.rgb * a[..., None]
    return out.astype(np.float32), face_cov & (a >= OCCLUDING_ALPHA)
