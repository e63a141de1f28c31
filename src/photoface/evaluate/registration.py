"""A linear face model's identity space registered in 3D to a target surface: ICP + ridge.

This is the "registration floor" of the face-space benchmark (``photoface.evaluate.face_space``):
the closest a face model's identity space comes to a given face when the 3D surface itself is
known, so no reconstruction from photos can do better with that model (up to the ridge).

Units: millimetres. The model moves (a similarity ``transform`` maps its canonical frame onto the
target); the target stays.

Method. Start from the model's mean, at the protocol's alignment (68-landmark similarity, rigid
ICP, similarity ICP; ``photoface.evaluate.protocol``). Then, ``iterations`` times:

1. correspondences in both directions, as in the symmetric error: every model vertex that lies
   within ``crop_radius`` of the target's nose tip goes to its closest point on the (cropped)
   target surface; every cropped target vertex goes to its closest point on the model's surface,
   a fixed barycentric combination of three model vertices, so still linear in the coefficients;
   both residuals are taken along the surface normal there (point-to-plane);
2. the identity coefficients c solve the ridge problem, in the model's frame (the target points
   mapped back by the inverse similarity)

       E(c) = ½ mean_i (n_i·(x_i(c) − y_i))² + ½ mean_j (n_j·(Σ_k w_jk x_k(c) − g_j))² + λ ||c||²,
       x(c) = mean + Σ_k c_k id_basis[k]   (mm², coefficients standard normal);

3. the new shape is aligned again as the protocol aligns it, from its landmarks, and its
   symmetric error at that alignment is recorded.

The result is the iterate (the mean included) with the lowest symmetric error: the floor is the
best the identity space does under the protocol, and any iterate is an upper bound of it.
Re-aligning from the landmarks each round, not carrying the previous similarity along, matters:
carried along, the similarity's scale and the model's size modes can drift together (a larger
face scaled down), a registration the protocol itself would never align that way (an earlier
version did this on some ICT-FaceKit faces; docs/evaluation.md, "Against the issue's numbers").

λ = 1e-2 by default, as in issue 20 (docs/evaluation.md has the floor and the largest |c| at
1e-2 and 1e-3, with the commands: at 1e-3 the fits reach faces the model itself would
essentially never draw). The maximum |c| is reported so a reader sees when the fit
left the face space.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from photoface.evaluate.alignment import icp
from photoface.evaluate.protocol import CROP_RADIUS_MM, crop_mesh
from photoface.evaluate.surface import TriangleMeshDistance
from photoface.mesh.similarity import Similarity, umeyama

DEFAULT_RIDGE = 1e-2


@dataclass
class Registration:
    """The model's identity fitted to one target.

    alpha_id: (K,) identity coefficients. verts: (V, 3) mm, the fitted shape in the model's own
    canonical frame. transform: the similarity that maps ``verts`` onto the target.
    energies: E(c) after each ridge solve (mm²). scores: the symmetric error (mm) of the mean and of
    each iterate at its protocol alignment; the result is the iterate with the lowest.
    """

    alpha_id: np.ndarray
    verts: np.ndarray
    transform: Similarity
    energies: list[float]
    scores: list[float]

    @property
    def max_abs_coefficient(self) -> float:
        return float(np.abs(self.alpha_id).max()) if len(self.alpha_id) else 0.0


def barycentric(points: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Barycentric weights (N, 3) of points (N, 3) lying on triangles (N, 3, 3).

    Degenerate triangles give the weights of their first corner."""
    a, b, c = tris[:, 0], tris[:, 1], tris[:, 2]
    v0, v1, v2 = b - a, c - a, points - a
    d00 = np.einsum("ij,ij->i", v0, v0)
    d01 = np.einsum("ij,ij->i", v0, v1)
    d11 = np.einsum("ij,ij->i", v1, v1)
    d20 = np.einsum("ij,ij->i", v2, v0)
    d21 = np.einsum("ij,ij->i", v2, v1)
    den = d00 * d11 - d01 * d01
    ok = np.abs(den) > 1e-18
    safe = np.where(ok, den, 1.0)
    v = np.where(ok, (d11 * d20 - d01 * d21) / safe, 0.0)
    w = np.where(ok, (d00 * d21 - d01 * d20) / safe, 0.0)
    return np.stack([1.0 - v - w, v, w], axis=1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def register_identity(
    mean: np.ndarray,
    id_basis: np.ndarray,
    faces: np.ndarray,
    landmarks68: np.ndarray,
    target_verts: np.ndarray,
    target_faces: np.ndarray,
    target_landmarks: np.ndarray,
    *,
    ridge: float = DEFAULT_RIDGE,
    iterations: int = 5,
    crop_radius: float = CROP_RADIUS_MM,
    icp_iterations: int = 30,
    icp_points: int | None = 2000,
) -> Registration:
    """Fit identity coefficients and a similarity to a target surface (module docstring).

    Args:
        mean: (V, 3) mm, the model's mean shape; id_basis: (K, V, 3) mm per unit coefficient;
            faces: (F, 3); landmarks68: (68,) the model's landmark vertices.
        target_verts: (Vt, 3) mm; target_faces: (Ft, 3); target_landmarks: (68, 3) mm, the
            target's 68 landmarks (row 30, the nose tip, is the crop centre).
        ridge: λ of the module docstring (mm² per squared standard deviation).
        iterations: correspondence / ridge / alignment rounds (``Registration.scores`` records the
            error after each, so whether more rounds would help can be read off a result).
        crop_radius: mm around the target's nose tip.
        icp_iterations: iteration limit of each ICP; icp_points: the fixed random subset of the
            cropped target's vertices the ICPs use (a subset speeds the rounds; the final score
            uses all).
    """
    mean = np.asarray(mean, np.float64)
    basis = np.asarray(id_basis, np.float64)
    faces = np.asarray(faces, np.int64)
    k = len(basis)
    target_landmarks = np.asarray(target_landmarks, np.float64)
    nose = target_landmarks[30]
    crop_v, crop_f, _ = crop_mesh(target_verts, target_faces, nose, crop_radius)
    if len(crop_f) == 0:
        raise ValueError(f"no target triangle lies within {crop_radius} mm of the nose tip")
    target = TriangleMeshDistance(crop_v, crop_f)

    def protocol_alignment(verts: np.ndarray) -> Similarity:
        """The protocol's alignment of a shape: landmark similarity, rigid ICP, similarity ICP."""
        t = umeyama(verts[landmarks68], target_landmarks, with_scale=True)
        for scale in (False, True):
            t = icp(verts, faces, crop_v, init=t, with_scale=scale, max_iterations=icp_iterations,
                    max_points=icp_points).transform
        return t

    def measure(verts: np.ndarray, transform: Similarity):
        """The protocol's symmetric error (mm) of a shape at an alignment, from the first candidate
        triangles (``certify=False``: an upper bound, exact on these meshes in our checks; the final
        score is the protocol's, exact), and the closest points both ways that it found, which the
        next round's correspondences are: (score, (world, inside, q1, tri1, q2, tri2)), or
        (inf, None) when no vertex of the shape lies in the crop."""
        world = transform.apply(verts)
        inside = np.flatnonzero(np.linalg.norm(world - nose, axis=1) <= crop_radius)
        if not len(inside):
            return np.inf, None
        d1, q1, tri1 = target.query(world[inside], certify=False)  # model vertex → target surface
        d2, q2, tri2 = TriangleMeshDistance(world, faces).query(crop_v, certify=False)  # target → model
        return 0.5 * (d2.mean() + d1.mean()), (world, inside, q1, tri1, q2, tri2)

    flat = basis.reshape(k, -1).T  # (3V, K)
    alpha = np.zeros(k)
    verts = mean.copy()
    transform = protocol_alignment(verts)
    score, found = measure(verts, transform)
    best = (score, alpha, verts, transform)
    energies, scores = [], [score]
    for _ in range(iterations):
        if found is None:
            break
        world, inside, q, tri1, q2, tri2 = found
        to_model = transform.inverse()
        a1 = basis[:, inside].transpose(1, 2, 0)  # (N1, 3, K)
        b1 = to_model.apply(q) - mean[inside]
        # target vertex → model surface (barycentric in the model's triangles)
        corners = faces[tri2]  # (N2, 3)
        w = barycentric(q2, world[corners])
        a2 = np.einsum("nc,kncd->ndk", w, basis[:, corners])
        b2 = to_model.apply(crop_v) - np.einsum("nc,ncd->nd", w, mean[corners])
        # point-to-plane, with the normals in the model's frame
        normal1 = _unit(np.cross(target.tris[tri1, 1] - target.tris[tri1, 0],
                                 target.tris[tri1, 2] - target.tris[tri1, 0]) @ transform.rotation)
        v = verts[corners]
        normal2 = _unit(np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]))
        a1, b1 = np.einsum("nd,ndk->nk", normal1, a1), np.einsum("nd,nd->n", normal1, b1)
        a2, b2 = np.einsum("nd,ndk->nk", normal2, a2), np.einsum("nd,nd->n", normal2, b2)
        w1, w2 = 0.5 / len(inside), 0.5 / len(crop_v)
        lhs = w1 * a1.T @ a1 + w2 * a2.T @ a2 + ridge * np.eye(k)
        alpha = np.linalg.solve(lhs, w1 * a1.T @ b1 + w2 * a2.T @ b2)
        energies.append(float(w1 * np.sum((a1 @ alpha - b1) ** 2) + w2 * np.sum((a2 @ alpha - b2) ** 2)
                              + ridge * alpha @ alpha))
        verts = mean + (flat @ alpha).reshape(-1, 3)
        transform = protocol_alignment(verts)
        score, found = measure(verts, transform)
        scores.append(score)
        if scores[-1] < best[0]:
            best = (scores[-1], alpha, verts, transform)
    _, alpha, verts, transform = best
    return Registration(alpha, verts, transform, energies, scores)
