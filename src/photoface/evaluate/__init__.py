"""photoface.evaluate: the metric and protocol layer of the evaluation (no network needed here).

* ``protocol`` — MICC-style scan-vs-prediction error: crop, landmark + ICP alignment, symmetric
  point-to-surface distance (``evaluate_mesh``); built on ``surface`` (exact closest points on
  triangles) and ``alignment`` (ICP with isotropic scale, on ``photoface.mesh.similarity``'s Umeyama).
* ``micc`` — MICC Florence layout, scans (OBJ, or VRML via ``vrml``), videos (``video``), the
  "average over identity" and "three views" modes, mean ± std per setting.
* ``aflw2000`` and ``nme`` — AFLW2000-3D annotations; landmark NME, per yaw bin (3DDFA).
* ``verification`` — cosine scores, ROC, TAR@FAR, EER, calibrated accuracy.
* ``shape_metrics`` — pose, expression and per-vertex errors against ground truth.
* ``tables`` — Markdown tables in the paper's layouts; ``error_maps`` — Figure-3-style PNGs.

Submodules are imported explicitly (``from photoface.evaluate.protocol import evaluate_mesh``) so
that importing the package stays cheap.
"""
