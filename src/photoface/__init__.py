"""photoface: semi-supervised 3D face representation learning from unconstrained photo collections.

An implementation of Gao et al., "Semi-supervised 3D Face Representation Learning from
Unconstrained Photo Collections" (CVPR Workshops 2020) in pure PyTorch, with a CPU path,
an embedded procedural face model and synthetic photo collections so that everything runs
offline on a fresh machine. The package map is in ARCHITECTURE.md; the subpackages are
``facemodel``, ``mesh``, ``render`` (ground floor), ``nn``, ``losses``, ``data`` and
``train``, ``evaluate``, ``apps`` on top.
"""

__version__ = "0.1.0"
