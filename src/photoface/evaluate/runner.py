"""The shared runner: methods applied to face crops, the two MICC modes, and the scoring steps.

A *method* turns N network-ready crops (N, 3, S, S) in [0, 1] (and their 68 landmarks, px) into a
:class:`MethodOutput`: per photo the shape with its expression and with a neutral expression
(V, 3) mm in the model's canonical frame, an identity representation, the physical pose
(pitch, yaw, roll degrees, f px/mm, tx, ty px; ``photoface.render.camera``) and the 68 projected
landmarks (px, same crops). Methods: :class:`NetworkMethod` (a trained run: the model, or the
shape-supervised run) and the baselines of :mod:`photoface.evaluate.baselines`.

Neutral expression of the network: the shape decoder is run on ``[c_id, 0]``. Nothing in training
ties the zero expression code to a neutral face, but it is what the decoder sees for "no
expression offset" and needs no data; ``neutral="mean"`` uses instead the mean expression code of
the photos evaluated together (a video, a benchmark), which is near-neutral when most photos are.

Modes (per subject and per video / setting, ``photoface.evaluate.micc``):

* ``identity``: the identity codes of all the group's photos are averaged and decoded with the
  neutral expression (for the linear baselines the coefficients are averaged, which is the same
  as averaging their meshes);
* ``three_views``: a left, a frontal and a right photo are chosen by yaw
  (``micc.select_three_views``) and their neutral-expression meshes are averaged vertex by vertex.
  Averaging meshes, not codes, works for any method with a fixed topology and is what "average
  over three views" means for a single-image method; for a linear model both are the same.

Scores: ``score_mesh`` runs ``photoface.evaluate.protocol.evaluate_mesh`` (95 mm crop, landmark
then ICP alignment with scale, symmetric point-to-surface mm) and caches results by content, so a
mesh that repeats (the mean face, a group whose three views are all its photos) costs once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from photoface.errors import PhotofaceError
from photoface.evaluate.micc import select_three_views, summarize_errors
from photoface.evaluate.protocol import CROP_RADIUS_MM, evaluate_mesh
from photoface.mesh.similarity import umeyama
from photoface.run import verification

MODES = ("identity", "three_views")
FOLDS = 2


@dataclass
class MethodOutput:
    """What a method predicts for N photos (see the module docstring for units).

    shape, neutral: (N, V, 3) mm. id_code: (N, D) or None (no identity representation).
    pose: (N, 6) or None. landmarks2d: (N, 68, 2) px or None. decode_neutral: (M, D) codes →
    (M, V, 3) mm, or None. extra: method-specific per-photo arrays.
    """

    name: str
    shape: np.ndarray
    neutral: np.ndarray
    id_code: np.ndarray | None
    pose: np.ndarray | None
    landmarks2d: np.ndarray | None
    decode_neutral: Callable[[np.ndarray], np.ndarray] | None
    extra: dict = field(default_factory=dict)


class NetworkMethod:
    """A trained run (``photoface.run.inference.Trained``) as a method.

    Args:
        trained: the loaded run.
        name: key in the results ("model", "shape_supervised").
        batch_size: crops per forward pass.
        neutral: "zero" or "mean" (module docstring).
    """

    def __init__(self, trained, name: str = "model", batch_size: int = 32, neutral: str = "zero"):
        if neutral not in ("zero", "mean"):
            raise ValueError(f"neutral must be 'zero' or 'mean', not {neutral!r}")
        self.trained = trained
        self.name = name
        self.batch_size = int(batch_size)
        self.neutral_kind = neutral
        fm = trained.face_model
        self.faces = fm.faces.cpu().numpy()
        self.landmarks68 = fm.landmarks68.cpu().numpy()
        self._neutral_code: torch.Tensor | None = None

    @torch.no_grad()
    def decode_neutral(self, id_codes) -> np.ndarray:
        """(M, D) identity codes → (M, V, 3) mm decoded with the neutral expression code."""
        net = self.trained.net
        dev = self.trained.device
        codes = np.asarray(id_codes)
        ids = torch.as_tensor(codes, dtype=torch.float32, device=dev).reshape(-1, codes.shape[-1])
        exp = self._neutral_code if self._neutral_code is not None else \
            torch.zeros(self.trained.config.model.exp_dim, device=dev)
        out = [net.decode_shape(c, exp.to(dev).expand(len(c), -1)) for c in ids.split(self.batch_size)]
        return torch.cat(out).float().cpu().numpy()

    @torch.no_grad()
    def predict(self, images: torch.Tensor, landmarks=None) -> MethodOutput:
        """images (N, 3, H, H) in [0, 1]; resized to the network's size when H differs (landmarks
        are scaled back to H). ``landmarks`` (N, 68, 2), the photos' detected landmarks in pixels
        of ``images``, go into a run whose encoder takes them (``model.landmark_input``) and are
        ignored otherwise."""
        size = self.trained.image_size
        keys = ("id_code", "exp_code", "pose", "landmarks2d", "shape")
        parts: dict[str, list] = {k: [] for k in keys}
        h = images.shape[-1]
        lms = None
        if self.trained.uses_landmarks:
            if landmarks is None:
                raise PhotofaceError(f"{self.name}: the run's encoder takes the photos' landmarks; none were given")
            lms = torch.as_tensor(np.asarray(landmarks), dtype=torch.float32) * (size / h)
        for i, batch in enumerate(images.split(self.batch_size)):
            x = batch.to(self.trained.device, torch.float32)
            if h != size:
                x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                                                    align_corners=False)
            lm = None if lms is None else lms[i * self.batch_size:(i + 1) * self.batch_size]
            out = self.trained.predict(x, render=False, landmarks=lm)
            for k in keys:
                parts[k].append(getattr(out, k).float().cpu())
        res = {k: torch.cat(v) for k, v in parts.items()}
        scale = h / size
        pose = res["pose"].double()
        pose[:, 3:] *= scale  # f and the translation follow the pixel scale (corner-origin pixels)
        if self.neutral_kind == "mean":
            self._neutral_code = res["exp_code"].mean(0)
        else:
            self._neutral_code = None
        return MethodOutput(
            name=self.name, shape=res["shape"].numpy(), neutral=self.decode_neutral(res["id_code"].numpy()),
            id_code=res["id_code"].double().numpy(), pose=pose.numpy(),
            landmarks2d=(res["landmarks2d"].double() * scale).numpy(), decode_neutral=self.decode_neutral,
            extra={"exp_code": res["exp_code"].numpy()},
        )


# ------------------------------------------------------------------------------------ modes


def group_meshes(out: MethodOutput, groups: Sequence[Sequence[int]], mode: str,
                 yaw_deg=None) -> list[tuple[np.ndarray, list[int]]]:
    """The mesh of each group of photos (a video, an identity × setting) in ``mode``.

    Args:
        out: the method's output for all photos.
        groups: each group's photo indices into ``out``.
        mode: "identity" or "three_views".
        yaw_deg: (N,) yaw per photo (degrees) for choosing the three views; default the method's
            own pose estimate.

    Returns:
        per group: (V, 3) mm and the photo indices used. Identity codes of all groups are decoded
        in one batch (a graph decoder's cost barely depends on the batch size).
    """
    groups = [list(g) for g in groups]
    if any(not g for g in groups):
        raise ValueError("empty group")
    if mode == "identity":
        if out.id_code is None or out.decode_neutral is None:
            return [(np.mean(out.neutral[g], axis=0), g) for g in groups]
        codes = np.stack([out.id_code[g].mean(axis=0) for g in groups])
        return list(zip(out.decode_neutral(codes), groups))
    if mode == "three_views":
        yaw_all = np.asarray(yaw_deg if yaw_deg is not None else out.pose[:, 1], np.float64)
        result = []
        for g in groups:
            views = select_three_views(yaw_all[g])
            used = [g[views[v]] for v in ("left", "frontal", "right")]
            result.append((np.mean(np.asarray(out.neutral)[used], axis=0), used))
        return result
    raise ValueError(f"unknown mode {mode!r}; choose from {MODES}")


def group_mesh(out: MethodOutput, index: Sequence[int], mode: str, yaw_deg=None) -> tuple[np.ndarray, list[int]]:
    """``group_meshes`` for one group: (V, 3) mm and the photo indices used."""
    return group_meshes(out, [index], mode, yaw_deg)[0]


# ------------------------------------------------------------------------------------ scores


class MeshScorer:
    """``evaluate_mesh`` with a content cache (see the module docstring).

    Args:
        faces: (F, 3) triangles of the predicted meshes; landmarks68: (68,) their landmark vertices.
        icp_options: passed to ``evaluate_mesh``.
    """

    def __init__(self, faces: np.ndarray, landmarks68: np.ndarray, **icp_options):
        self.faces = np.asarray(faces)
        self.landmarks68 = np.asarray(landmarks68)
        self.options = icp_options
        self._cache: dict[tuple[str, str], dict] = {}
        self.evaluations = 0

    def score(self, pred: np.ndarray, scan_key: str, scan_verts: np.ndarray, scan_faces: np.ndarray | None,
              scan_landmarks: np.ndarray | None = None, scan_nose_tip: np.ndarray | None = None) -> dict:
        """Protocol errors (mm) of ``pred`` (V, 3) against a scan; ``scan_key`` names the scan in
        the cache. With ``scan_landmarks`` (68, 3) the initial alignment uses the 68 landmarks;
        otherwise the nose tips (vertex ``landmarks68[30]`` of the prediction)."""
        pred = np.asarray(pred, np.float32)
        key = (hashlib.sha1(pred.tobytes()).hexdigest(), scan_key)
        if key not in self._cache:
            lm = pred[self.landmarks68].astype(np.float64)
            res = evaluate_mesh(
                pred, self.faces, scan_verts, scan_faces, scan_nose_tip=scan_nose_tip,
                pred_nose_tip=lm[30], scan_landmarks=scan_landmarks,
                pred_landmarks=lm if scan_landmarks is not None else None, **self.options,
            )
            self.evaluations += 1
            self._cache[key] = {"symmetric_mm": res.symmetric_mm, "scan_to_pred_mm": res.scan_to_pred_mm,
                                "pred_to_scan_mm": res.pred_to_scan_mm, "result": res}
        return self._cache[key]


def dense_errors(pred, true, landmarks68, crop_radius: float = CROP_RADIUS_MM) -> np.ndarray:
    """Per-photo mean vertex distance (mm) between meshes of the SAME topology after a similarity
    alignment on the corresponding vertices within ``crop_radius`` of the true nose tip.

    The known correspondence makes this exact and cheap (no ICP, no surface search); it
    complements the protocol on synthetic data, where every photo has a true mesh.

    Args:
        pred, true: (N, V, 3) mm; landmarks68: (68,) vertex indices (30 = nose tip).

    Returns:
        (N,) mm.
    """
    pred = np.asarray(pred, np.float64)
    true = np.asarray(true, np.float64)
    out = np.empty(len(pred))
    for i in range(len(pred)):
        keep = np.linalg.norm(true[i] - true[i, landmarks68[30]], axis=1) <= crop_radius
        t = umeyama(pred[i, keep], true[i, keep], with_scale=True)
        out[i] = np.linalg.norm(t.apply(pred[i, keep]) - true[i, keep], axis=1).mean()
    return out


def by_group(values, groups: Sequence[str], order: Sequence[str] | None = None) -> dict[str, dict]:
    """{group: micc.summarize_errors(values of the group)} in ``order`` (else sorted)."""
    values = np.asarray(values, np.float64)
    groups = np.asarray(list(groups))
    names = [g for g in (order or sorted(set(groups.tolist()))) if (groups == g).any()]
    return {g: summarize_errors(values[groups == g]) for g in names}


def balanced_threshold(scores, same) -> float:
    """The threshold maximising TAR − FAR (Youden's J, i.e. the balanced accuracy), placed midway
    between the two distinct scores on either side of the best cut.

    Why not ``verification.best_threshold``: it maximises plain accuracy, and with all pairs of a
    test set (mostly impostors) that is reached by rejecting nearly everything.
    """
    roc = verification.roc_curve(scores, same)
    thr = roc["threshold"]
    k = int(np.argmax(roc["tar"] - roc["far"]))
    if k == 0:
        return float(thr[1] + 1e-6)  # accept nothing: just above the highest score
    if k + 1 < len(thr):
        return float(0.5 * (thr[k] + thr[k + 1]))
    return float(thr[k] - 1e-6)


def balanced_accuracy(scores, same, threshold: float) -> float:
    """(TAR + TNR) / 2 of ``score >= threshold``: accuracy on equally many genuine and impostor pairs."""
    accepted = np.asarray(scores) >= threshold
    same = np.asarray(same).astype(bool)
    return float(0.5 * (accepted[same].mean() + (~accepted[~same]).mean()))


def verification_summary(codes, identities: Sequence[str], fars=verification.DEFAULT_FARS) -> dict | None:
    """Verification over all pairs of photos from identity codes (cosine), JSON-ready.

    EER, TAR@FAR and the ROC use every pair. The decision threshold is :func:`balanced_threshold`.
    ``threshold`` is calibrated on all pairs (the one for ``photoface verify``), with the FAR, TAR
    and balanced accuracy it gives on them. ``accuracy`` is honest: the identities are split into
    ``FOLDS`` identity-disjoint folds, each fold is scored at the threshold calibrated on the other
    fold's pairs, and the balanced accuracies are averaged. None when there are fewer than two
    identities or no genuine pair.
    """
    ids = np.asarray(list(identities))
    pairs = verification.all_pairs(len(ids))
    if len(pairs) == 0:
        return None
    same = (ids[pairs[:, 0]] == ids[pairs[:, 1]]).astype(int)
    if same.all() or not same.any():
        return None
    scores = verification.pair_scores(codes, pairs)
    thr = balanced_threshold(scores, same)
    accepted = scores >= thr
    out = {
        "pairs": int(len(same)), "genuine_pairs": int(same.sum()), "impostor_pairs": int(len(same) - same.sum()),
        "eer": verification.equal_error_rate(scores, same),
        "tar_at_far": {f"{f:g}": v for f, v in verification.tar_at_far(scores, same, fars).items()},
        "roc": _roc_summary(verification.roc_curve(scores, same)),
        "threshold": thr, "metric": "cosine",
        "far_at_threshold": float(accepted[same == 0].mean()), "tar_at_threshold": float(accepted[same == 1].mean()),
        "balanced_accuracy_at_threshold": balanced_accuracy(scores, same, thr),
    }
    unique = sorted(set(ids.tolist()))
    fold_of = {u: i % FOLDS for i, u in enumerate(unique)}
    pf = np.array([fold_of[ids[i]] if fold_of[ids[i]] == fold_of[ids[j]] else -1 for i, j in pairs])
    accs = []
    for k in range(FOLDS):
        cal, ev = pf == (k + 1) % FOLDS, pf == k
        if min(same[cal].sum(), (1 - same[cal]).sum(), same[ev].sum(), (1 - same[ev]).sum()) == 0:
            accs = []
            break
        accs.append(balanced_accuracy(scores[ev], same[ev], balanced_threshold(scores[cal], same[cal])))
    out["accuracy"] = float(np.mean(accs)) if accs else out["balanced_accuracy_at_threshold"]
    out["accuracy_calibrated_on"] = (f"other identities ({FOLDS} identity-disjoint folds)" if accs
                                     else "the evaluated pairs themselves (too few identities for folds)")
    return out


def _roc_summary(roc: dict, points: int = 21) -> dict:
    """The ROC resampled at FAR = 0, 0.05, ..., 1 (TAR = best TAR at FAR ≤ x), for JSON and plots."""
    grid = np.linspace(0.0, 1.0, points)
    tar = [float(roc["tar"][roc["far"] <= x + 1e-12].max()) for x in grid]
    far = roc["far"]
    auc = float(np.sum(np.diff(far) * (roc["tar"][1:] + roc["tar"][:-1]) / 2))
    return {"far": grid.round(4).tolist(), "tar": tar, "auc": auc}
