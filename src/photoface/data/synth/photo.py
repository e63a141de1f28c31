"""One identity's synthetic photo collection: sample, render, compose, label.

``IdentityGenerator`` holds what a worker builds once per face model (renderer, detail space,
linear fitter) and turns ``(seed, identity index)`` into that identity's photos and ground truth.
Everything random is drawn from ONE ``numpy.random.Generator`` seeded with
``SeedSequence([seed, index])``, in a fixed order, so an identity's files do not depend on which
worker makes it or how many workers there are.

Per photo, back to front: background (``synth_background``), the head around the face
(``synth_head``), the rendered face (``photoface.render.Renderer``, all photos of an identity in
one batch), occluders z-tested against the face depth (``synth_occluders``), then camera
degradations (``synth_degrade``).

Framing: pose angles and a ±8 % scale come from ``synth_scene``; the translation then puts the
centre of the 68 projected landmarks' bounding box where a frontal view of the same face would
have it (for a frontal face that is the canonical origin at the image centre, the convention of
``photoface.render.camera``), plus up to ±6 % jitter — like a face detector's crop, so turned
heads stay in the picture.

Ground truth per photo (``PhotoResult``): the TRUE shape (neutral true shape + expression), the
true pose and light, the exact projected landmarks with visibility, and the mask. A landmark is
visible when it projects inside the image onto a face pixel that no occluder hides and whose
depth is within ``VISIBILITY_TOLERANCE_MM`` of the landmark's own depth (otherwise another part
of the face, e.g. the nose at large yaw, is in front of it). The mask is 255 on face pixels that
no occluder hides (``photoface.data.synth.occluders.composite``: coverage at least 0.5 and nearer
the camera than the face). The hair over the forehead (``synth_head.draw_hair_cap``) counts as an
occluder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from photoface.data.synth import exact
from photoface.data.synth.background import random_background
from photoface.data.synth.degrade import degrade
from photoface.data.synth.fit import LinearFitter, fitted_pose
from photoface.data.synth.head import draw_hair_cap, draw_head
from photoface.data.synth.identity import AlbedoSpace, DetailSpace, Identity, sample_identity
from photoface.data.synth.occluders import FaceAnchors, composite, draw_occluders
from photoface.data.synth.raster import Layer
from photoface.data.synth.scene import PhotoScene, detector_noise, sample_scene, sample_setting
from photoface.pixels import to_uint8
from photoface.render.camera import project
from photoface.render.renderer import Renderer
from photoface.render.sh import default_light

VISIBILITY_TOLERANCE_MM = 4.0
"""A landmark counts as self-occluded when the visible surface is this much nearer than it."""
RENDER_CHUNK = 16
"""Photos rendered in one batch."""


@dataclass
class PhotoResult:
    """One synthetic photo and its ground truth.

    Attributes:
        index: photo number within the identity.
        scene: what was sampled (setting, true expression, true pose, light, occluders, ...).
        image: (S, S, 3) uint8 RGB. mask: (S, S) uint8, 255 = visible face pixel.
        true_mesh: (V, 3) float32 mm, canonical pose.
        landmarks_true: (68, 2) exact projections, px. visible: (68,) bool.
        landmarks: (68, 2) what the row stores: the fit's landmarks when labeled, detector-like
            noisy ones otherwise.
        labeled: bool. alpha_id, alpha_exp, pose: the linear-fit label (labeled photos only).
    """

    index: int
    scene: PhotoScene
    image: np.ndarray
    mask: np.ndarray
    true_mesh: np.ndarray
    landmarks_true: np.ndarray
    visible: np.ndarray
    landmarks: np.ndarray
    labeled: bool
    alpha_id: np.ndarray | None = None
    alpha_exp: np.ndarray | None = None
    pose: np.ndarray | None = None


class IdentityGenerator:
    """Makes identities and their photos for one face model and image size.

    Args:
        model: ``photoface.facemodel.MorphableModel`` (CPU).
        size: image side in pixels.
    """

    def __init__(self, model, size: int):
        self.model = model.cpu().eval()
        self.size = size
        self.renderer = Renderer(self.model.faces, size)
        self.space = DetailSpace(self.model)
        self.albedo_space = AlbedoSpace(self.model)
        self.fitter = LinearFitter(self.model)
        self.lm_idx = self.model.landmarks68.cpu()
        self.exp_bounds = self.model.exp_bounds.numpy()
        self.exp_flat = self.model.exp_basis.detach().cpu().double().reshape(self.model.n_exp, -1).numpy()

    def identity(self, rng: np.random.Generator, index: int, name: str, split: str) -> Identity:
        return sample_identity(rng, self.model, self.space, index, name, split, self.albedo_space)

    def generate(self, seed: int, index: int, name: str, split: str, photos: int,
                 labeled_fraction: float) -> tuple[Identity, list[PhotoResult]]:
        """The identity ``index`` and its ``photos`` photos, fully determined by (seed, index)."""
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))
        ident = self.identity(rng, index, name, split)
        test = split == "test"
        scenes = []
        for j in range(photos):
            setting = sample_setting(rng, j, test)
            scenes.append(sample_scene(rng, setting, self.model.n_exp, self.model.exp_kind,
                                       self.size, ident.wears_glasses, self.exp_bounds))
        labeled = [bool(rng.random() < labeled_fraction) and not test for _ in range(photos)]
        shapes = self._true_shapes(ident, scenes)
        self._frame(ident, scenes, shapes)
        results = []
        for start in range(0, photos, RENDER_CHUNK):
            stop = min(start + RENDER_CHUNK, photos)
            results += self._photos(rng, ident, scenes[start:stop], shapes[start:stop],
                                    labeled[start:stop], start)
        return ident, results

    # ------------------------------------------------------------------ geometry
    def _true_shapes(self, ident: Identity, scenes: list[PhotoScene]) -> np.ndarray:
        """(M, V, 3) float32: the true neutral shape plus each photo's expression."""
        exp = np.stack([s.alpha_exp for s in scenes])
        disp = exact.combine(exp, self.exp_flat).reshape(len(scenes), -1, 3)
        return (ident.neutral.astype(np.float64)[None] + disp).astype(np.float32)

    def _frame(self, ident: Identity, scenes: list[PhotoScene], shapes: np.ndarray) -> None:
        """Set each pose's translation: landmark box centred like the frontal view, + jitter."""
        lm = torch.from_numpy(shapes[:, self.lm_idx.numpy()]).double()
        pose = torch.from_numpy(np.stack([s.pose for s in scenes])).double()
        front = pose.clone()
        front[:, :3] = 0.0
        neutral_lm = torch.from_numpy(ident.neutral[self.lm_idx.numpy()]).double()
        p = project(lm, pose)[..., :2]
        p0 = project(neutral_lm.expand_as(lm), front)[..., :2]
        box = 0.5 * (p.amin(1) + p.amax(1))
        box0 = 0.5 * (p0.amin(1) + p0.amax(1))
        shift = (box0 - box).numpy()
        for s, d in zip(scenes, shift):
            s.pose[4:6] += d + s.centre_jitter

    # ------------------------------------------------------------------ photos
    def _photos(self, rng, ident: Identity, scenes, shapes, labeled, start) -> list[PhotoResult]:
        b = len(scenes)
        verts = torch.from_numpy(shapes)
        albedo = torch.from_numpy(ident.albedo)[None].expand(b, -1, -1)
        poses = np.stack([s.pose for s in scenes]).astype(np.float64)
        pose = torch.from_numpy(poses).float()
        light = torch.from_numpy(np.stack([s.light for s in scenes])).float()
        with torch.no_grad():
            out = self.renderer.render(verts, albedo, pose, light, None, self.lm_idx)
        cov = out.mask[:, 0].numpy() > 0.5
        # auto-exposure: image and shading are linear in the total light, so scaling them and
        # the light by the same factor keeps the stored light exact
        # the level summed in float64 and the gain rounded to 1e-4: a float32 sum's order depends on
        # the CPU kernel, and the stored light (rounded to 1e-5) would take the last bits with it
        m = out.mask[:, 0].double()
        level = (out.shading.double().mean(1) * m).sum((1, 2)) / m.sum((1, 2)).clamp_min(1)
        exposure = torch.tensor([s.exposure for s in scenes], dtype=torch.float64)
        gain = torch.round(exposure / level.clamp_min(0.05), decimals=4).float()
        default = default_light(dtype=torch.float64).numpy()
        for s, g in zip(scenes, gain.double().numpy()):
            s.light = g * (s.light + default) - default
        face = (out.image * gain[:, None, None, None]).clamp(0, 1).permute(0, 2, 3, 1).numpy()
        depth = out.depth[:, 0].numpy()
        shading = (out.shading * gain[:, None, None, None]).permute(0, 2, 3, 1).numpy()
        # in float64, not the renderer's float32 screen vertices: a float32 matrix product's last
        # bits depend on the BLAS kernel and would move landmarks rounded to 1e-3 px across a
        # rounding boundary (synth's same-bytes promise); float64 leaves ~1e-13 px of that
        lm_screen = project(torch.from_numpy(shapes[:, self.lm_idx.numpy()]).double(), torch.from_numpy(poses)).numpy()
        results = []
        for k in range(b):
            results.append(self._compose(rng, ident, scenes[k], shapes[k], labeled[k], start + k,
                                         face[k], cov[k], depth[k], shading[k], lm_screen[k]))
        return results

    def _compose(self, rng, ident, scene, shape, labeled, index, face, cov, depth, shading,
                 lm_screen) -> PhotoResult:
        size = self.size
        light_total = torch.from_numpy(scene.light).double() + default_light(dtype=torch.float64)
        img = random_background(rng, size, scene.background, scene.clutter, scene.bg_blur)
        draw_head(img, scene.pose, light_total, ident.look, face_cover=cov)
        img = np.where(cov[..., None], face, img)

        gain = shading[cov].mean(0) if cov.any() else np.ones(3, np.float32)
        anchors = FaceAnchors(lm=lm_screen[:, :2], height=lm_screen[:, 2],
                              f=float(scene.pose[3]), skin=ident.look.skin, hair=ident.look.hair)
        layer = Layer(size)
        draw_hair_cap(layer, scene.pose, light_total, ident.look)
        draw_occluders(scene.occluders, anchors, size, rng, np.clip(gain, 0.15, 1.5), layer)
        img, occluded = composite(img, cov, depth, layer)
        mask = cov & ~occluded

        lm = lm_screen[:, :2]
        visible = self._visibility(lm, lm_screen[:, 2], cov, depth, occluded, scene.pose[3])
        img = degrade(img.astype(np.float32), scene.degradation, rng)
        noisy = detector_noise(rng, lm, visible, scene.pose[1], size)
        result = PhotoResult(
            index=index, scene=scene,
            image=to_uint8(img),
            mask=(mask.astype(np.uint8) * 255), true_mesh=shape.astype(np.float32),
            landmarks_true=lm, visible=visible, landmarks=noisy, labeled=labeled,
        )
        if labeled:
            fit = self.fitter.fit(shape)
            pose_fit = fitted_pose(scene.pose, fit)
            fit_lm = torch.from_numpy(fit.shape[self.lm_idx.numpy()]).double()[None]
            result.landmarks = project(fit_lm, torch.from_numpy(pose_fit)[None])[0, :, :2].numpy()
            result.alpha_id, result.alpha_exp, result.pose = fit.alpha_id, fit.alpha_exp, pose_fit
        return result

    def _visibility(self, lm, lm_z, cov, depth, occluded, f) -> np.ndarray:
        """(68,) bool: inside the image, on an unoccluded face pixel, not behind the face."""
        size = self.size
        j = np.floor(lm[:, 0]).astype(np.int64)
        i = np.floor(lm[:, 1]).astype(np.int64)
        inside = (i >= 0) & (i < size) & (j >= 0) & (j < size)
        ic, jc = np.clip(i, 0, size - 1), np.clip(j, 0, size - 1)
        on_face = cov[ic, jc] & ~occluded[ic, jc]
        front = depth[ic, jc] <= lm_z + VISIBILITY_TOLERANCE_MM * f
        return inside & on_face & front
