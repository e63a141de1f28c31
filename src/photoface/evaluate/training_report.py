"""Is training working? Numbers from a run folder and a prepared dataset with ground truth.

* **loss trends**: mean of each loss over the first and the last tenth of ``metrics.jsonl``;
* **identity separation**: the ratio of the mean cosine distance between identity codes of the
  same person to that between different people (lower = codes cluster by person; 1 = no
  structure), on the training identities and on held-out (test) identities;
* **shape error on held-out identities**: per photo, the mean per-vertex distance (mm) between the
  reconstructed shape (with its expression) and the photo's true mesh after a similarity
  alignment within 95 mm of the nose tip — the ``photo_mm`` number of the evaluation's synthetic
  benchmark (``photoface.evaluate.runner.dense_errors``) — and the same for the model's mean
  face, the baseline a network that learned nothing about shape would reach;
* **shape spread**: how far the held-out photos' decoded shapes lie from their own average (mm),
  next to the same number for their true meshes, and the mean norms of the identity and
  expression codes. A spread near 0 means the decoder gives every photo the same face (codes
  collapsed to a constant), whatever the losses say.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from photoface.data.format import load_dataset
from photoface.data.torch_dataset import PhotoDataset
from photoface.evaluate.runner import dense_errors
from photoface.nn import FaceNet
from photoface.run.inference import load_trained
from photoface.run.layout import checkpoint_dir, metrics_path, read_metrics


@torch.no_grad()
def encode(net: FaceNet, dataset: PhotoDataset, batch: int = 32) -> dict[str, torch.Tensor]:
    """Identity codes (N, D), expression codes (N, E) and shapes (N, V, 3) mm of every item,
    without rendering."""
    ids, exps, shapes = [], [], []
    for start in range(0, len(dataset), batch):
        items = [dataset[i] for i in range(start, min(start + batch, len(dataset)))]
        dev = next(net.parameters()).device
        landmarks = torch.stack([it["landmarks"] for it in items]).to(dev) if net.uses_landmarks else None
        out = net(torch.stack([it["image"] for it in items]).to(dev), render=False, landmarks=landmarks)
        ids.append(out.id_code.float().cpu())
        exps.append(out.exp_code.float().cpu())
        shapes.append(out.shape.float().cpu())
    return {"id": torch.cat(ids), "exp": torch.cat(exps), "shape": torch.cat(shapes)}


def shape_spread(shapes) -> float:
    """Mean distance (mm) of (N, V, 3) shapes from their average shape, per vertex and shape.

    0 when every photo gets the same face; compare it with the spread of the true meshes.
    """
    shapes = torch.as_tensor(shapes, dtype=torch.float64)
    return float((shapes - shapes.mean(dim=0, keepdim=True)).norm(dim=-1).mean())


def identity_separation(codes: torch.Tensor, labels: list[int]) -> dict[str, float]:
    """Mean cosine distance within and between identities of (N, D) codes, and their ratio."""
    x = torch.nn.functional.normalize(codes.double(), dim=1)
    if not bool(codes.abs().sum(dim=1).gt(0).all()):
        return {"intra": math.nan, "inter": math.nan, "ratio": math.nan}
    dist = 1 - x @ x.T
    lab = torch.as_tensor(labels)
    same = lab[:, None] == lab[None, :]
    off = ~torch.eye(len(lab), dtype=torch.bool)
    intra, inter = dist[same & off].mean().item(), dist[~same].mean().item()
    return {"intra": intra, "inter": inter, "ratio": intra / inter}


def _loss_trends(run_dir: Path) -> dict[str, dict[str, float]]:
    records = read_metrics(metrics_path(run_dir))
    n = max(1, len(records) // 10)
    out = {}
    for key in ("photometric", "landmark", "shape", "pairwise_shape", "recognition", "total"):
        values = [r[key] for r in records if key in r]
        if len(values) >= 2:
            k = max(1, min(n, len(values) // 2))
            out[key] = {"first": float(np.mean(values[:k])), "last": float(np.mean(values[-k:]))}
    return out


def training_report(run_dir: str | Path, data_dir: str | Path, steps: list[int] | None = None) -> dict[str, Any]:
    """Loss trends of the run and, per checkpoint (``steps``, default: every kept step file),
    identity separation on train and test identities and the held-out shape error against the
    mean face."""
    run_dir = Path(run_dir)
    data = load_dataset(data_dir)
    folder = checkpoint_dir(run_dir)
    if steps is None:
        checkpoints = sorted(folder.glob("step_*.pt"))
    else:
        checkpoints = [folder / f"step_{s:07d}.pt" for s in steps]
    report: dict[str, Any] = {"losses": _loss_trends(run_dir), "checkpoints": []}
    for path in checkpoints:
        trained = load_trained(path)
        fm = trained.face_model
        entry: dict[str, Any] = {"checkpoint": str(path), "step": trained.step, "stage": trained.stage}
        for split in ("train", "test"):
            ds = PhotoDataset([data], split, fm.n_id, fm.n_exp, trained.image_size)
            enc = encode(trained.net, ds)
            entry[f"identity_{split}"] = identity_separation(enc["id"], ds.identity_index)
            if split == "test":
                true = torch.stack([data.load_true_mesh(ds.row(i)) for i in range(len(ds))]).numpy()
                mean = fm.mean.cpu().numpy()[None].repeat(len(ds), axis=0)
                lm = fm.landmarks68.cpu().numpy()
                entry["shape_error_mm"] = float(dense_errors(enc["shape"].numpy(), true, lm).mean())
                entry["mean_face_error_mm"] = float(dense_errors(mean, true, lm).mean())
                entry["shape_spread_mm"] = shape_spread(enc["shape"])
                entry["true_spread_mm"] = shape_spread(true)
                entry["id_code_norm"] = float(enc["id"].norm(dim=1).mean())
                entry["exp_code_norm"] = float(enc["exp"].norm(dim=1).mean())
        report["checkpoints"].append(entry)
    return report


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of :func:`training_report`'s numbers."""
    lines = ["loss (mean of first / last tenth of the logged steps)"]
    for k, v in report["losses"].items():
        lines.append(f"  {k:15s} {v['first']:10.4f} -> {v['last']:10.4f}")
    lines.append("step  stage  id-ratio(train)  id-ratio(test)  shape error mm (test)  mean face mm"
                 "  spread mm (pred/true)  |c_id|  |c_exp|")
    for e in report["checkpoints"]:
        spread = f"{e['shape_spread_mm']:.3f}/{e['true_spread_mm']:.3f}"
        lines.append(
            f"{e['step']:5d}  {e['stage']:5d}  {e['identity_train']['ratio']:15.3f}  {e['identity_test']['ratio']:14.3f}"
            f"  {e['shape_error_mm']:21.3f}  {e['mean_face_error_mm']:12.3f}  {spread:>21s}"
            f"  {e['id_code_norm']:6.3f}  {e['exp_code_norm']:7.3f}"
        )
    return "\n".join(lines)
