"""Face proportions in iBUG-68 terms, and the reference figures they are checked against.

The reference is shared/FACE_PROPORTIONS.md: mean and standard deviation (mm) of each
measurement over 2,000 random identities of a scan-based morphable model at neutral expression.
The procedural model calibrates its identity variation against these figures, and the tests
check its mean face against them. Axes: x to the subject's left, y up, z out of the face.
"""

from __future__ import annotations

import numpy as np

# name -> (kind, landmark a, landmark b, reference mean, reference std). Kinds: "dist" (3-D
# distance), "dy" (y[a] - y[b]), "dz" (z[a] - z[b]). Landmark -1 stands for "the outer eye
# corners" (mean of 36 and 45).
REFERENCE = {
    "jaw width at ear level (0-16)": ("dist", 0, 16, 147.2, 7.2),
    "jaw width at mouth level (4-12)": ("dist", 4, 12, 114.4, 7.1),
    "outer eye corners (36-45)": ("dist", 36, 45, 89.2, 5.0),
    "inner eye corners (39-42)": ("dist", 39, 42, 36.8, 3.3),
    "eye width (36-39)": ("dist", 36, 39, 27.0, 2.0),
    "eye opening (37-41, vertical)": ("dy", 37, 41, 8.1, 1.3),
    "nose root to nose base (27-33)": ("dist", 27, 33, 50.2, 3.1),
    "nostril width (31-35)": ("dist", 31, 35, 25.0, 2.7),
    "nose tip in front of nose base (30 vs 33, z)": ("dz", 30, 33, 15.1, 2.7),
    "nose tip in front of the outer eye corners (z)": ("dz", 30, -1, 44.8, 4.2),
    "mouth width (48-54)": ("dist", 48, 54, 50.7, 3.9),
    "nose base to upper lip (33-51)": ("dist", 33, 51, 13.4, 1.5),
    "lower lip to chin (57-8)": ("dist", 57, 8, 34.2, 2.8),
    "nose root to chin (27-8)": ("dist", 27, 8, 113.3, 6.3),
    "brow above eye (19 vs 37, vertical)": ("dy", 19, 37, 23.8, 2.0),
    "brow width (17-26)": ("dist", 17, 26, 116.3, 5.5),
    "chin behind nose tip (30 vs 8, z)": ("dz", 30, 8, 26.4, 5.7),
}


def measure(landmarks: np.ndarray) -> np.ndarray:
    """The REFERENCE measurements of landmark sets.

    Args:
        landmarks: (..., 68, 3) positions in mm.

    Returns:
        (..., len(REFERENCE)) measurements in mm, in REFERENCE order.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    eyes = 0.5 * (lm[..., 36, :] + lm[..., 45, :])
    out = []
    for kind, a, b, _, _ in REFERENCE.values():
        pa = lm[..., a, :]
        pb = eyes if b == -1 else lm[..., b, :]
        if kind == "dist":
            out.append(np.linalg.norm(pa - pb, axis=-1))
        elif kind == "dy":
            out.append(pa[..., 1] - pb[..., 1])
        else:
            out.append(pa[..., 2] - pb[..., 2])
    return np.stack(out, axis=-1)


def reference_mean() -> np.ndarray:
    return np.array([v[3] for v in REFERENCE.values()])


def reference_std() -> np.ndarray:
    return np.array([v[4] for v in REFERENCE.values()])


def proportions_table(landmarks_mean: np.ndarray, landmarks_samples: np.ndarray | None = None) -> str:
    """A Markdown table comparing a model's measurements with the reference."""
    m = measure(landmarks_mean)
    sd = measure(landmarks_samples).std(axis=0) if landmarks_samples is not None else None
    lines = ["| measurement | ours | reference | ours std | reference std |", "|---|---|---|---|---|"]
    for i, (name, v) in enumerate(REFERENCE.items()):
        ours_sd = f"{sd[i]:.1f}" if sd is not None else "-"
        lines.append(f"| {name} | {m[i]:.1f} | {v[3]:.1f} | {ours_sd} | {v[4]:.1f} |")
    return "\n".join(lines)
