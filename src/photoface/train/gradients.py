"""Which loss drives which part of the network: gradient norms of every weighted term of a run.

For a run's last checkpoint, on a few training batches drawn as training draws them, this takes
each active term of the objective (weight × loss, :mod:`photoface.train.objective`) alone and
measures the norm of its gradient in parameter groups of the generator: the shape decoder, the
identity, expression and pose heads of the encoder, and the encoder's last residual block. Read it
to see whether a regulariser outweighs the data terms in the shape decoder, or which terms the
backbone learns from. Nothing is trained and nothing is written into the run folder.

    python -m photoface.train.gradients RUN [--batches N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from photoface.run.resolve import resolve_run_config
from photoface.train.feed import step_generator
from photoface.train.loop import Trainer
from photoface.train.objective import generator_losses, term_weights

GROUPS = ("shape_decoder", "id_head", "exp_head", "pose_head", "encoder_last_block")


def _groups(net) -> dict[str, list[torch.nn.Parameter]]:
    enc = net.encoder
    return {
        "shape_decoder": list(net.shape_decoder.parameters()),
        "id_head": list(enc.heads["id"].parameters()),
        "exp_head": list(enc.heads["exp"].parameters()),
        "pose_head": list(enc.heads["pose"].parameters()),
        "encoder_last_block": list(enc.layer4.parameters()),
    }


def term_gradient_norms(run_dir: str | Path, batches: int = 3) -> dict[str, dict[str, float]]:
    """{term: {group: mean over ``batches`` of ‖∂(weight · term)/∂group‖₂}} at the run's last checkpoint.

    Batches are the ones the run would train on next, augmented with the draws of the steps
    after it; the critic is the checkpoint's (frozen).
    """
    cfg, data = resolve_run_config(run_dir, resume=True)
    trainer = Trainer(cfg, data, run_dir, resume=True, progress=False, read_only=True)
    p, weights = trainer.parts, term_weights(cfg.loss)
    groups = _groups(p.net)
    sums: dict[str, dict[str, float]] = {}
    p.critic.requires_grad_(False)
    try:
        for i in range(batches):
            g = step_generator(cfg.schedule.seed, trainer.step + i, trainer.dist.rank)
            x, out = trainer.forward_batch(trainer.stream.next(), g)
            terms = generator_losses(cfg.loss, x, out, p.face_model, p.nbr_mean, p.centers,
                                     p.critic if cfg.loss.adversarial > 0 else None, cfg.model.image_size)
            for name, value in terms.items():
                for group, params in groups.items():
                    grads = torch.autograd.grad(weights[name] * value, params, retain_graph=True, allow_unused=True)
                    norm = sum(float(t.square().sum()) for t in grads if t is not None) ** 0.5
                    sums.setdefault(name, dict.fromkeys(GROUPS, 0.0))[group] += norm
    finally:
        p.critic.requires_grad_(True)
    return {name: {grp: v / batches for grp, v in row.items()} for name, row in sums.items()}


def format_norms(norms: dict[str, dict[str, float]]) -> str:
    """A plain-text table of :func:`term_gradient_norms`."""
    lines = ["term".ljust(16) + "".join(g.rjust(20) for g in GROUPS)]
    for name, row in norms.items():
        lines.append(name.ljust(16) + "".join(f"{row[g]:20.2e}" for g in GROUPS))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m photoface.train.gradients", description=__doc__.split("\n")[0])
    parser.add_argument("run", metavar="RUN", help="run folder")
    parser.add_argument("--batches", type=int, default=3, metavar="N", help="training batches to average (default 3)")
    args = parser.parse_args(argv)
    print(format_norms(term_gradient_norms(args.run, args.batches)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
