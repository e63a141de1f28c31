"""A training step on CUDA against the same step on the CPU, with bf16 autocast (``schedule.amp``)
and channels_last on and off: the network outputs, the render and every loss agree within the
precision used, and autocast really runs the encoder in bf16 (and only where it is asked to).

Tolerances: float32 on the GPU differs from the CPU by cuDNN's TF32 convolutions (torch's
default, ~1e-3 relative); bf16 keeps 8 bits of mantissa (~4e-3 per rounding, a few 1e-2 after a
ResNet). The tiny model and 32-px data of support.runs keep each step in milliseconds.
"""

import pytest
import torch

from photoface.train.feed import step_generator
from photoface.train.loop import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CASES = [(False, False), (False, True), (True, False), (True, True)]  # (amp, channels_last)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().float().cpu(), b.detach().float().cpu()
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


def trainers(tiny_setup, make_config, tmp_path, amp, channels_last):
    """(CPU float32 trainer, CUDA trainer with ``amp`` and ``channels_last``), same initial weights."""
    model, data = tiny_setup
    cpu = Trainer(make_config(model), [data], tmp_path / "cpu", progress=False)
    gpu = Trainer(make_config(model, "schedule.device=cuda", f"schedule.amp={str(amp).lower()}",
                              f"schedule.channels_last={str(channels_last).lower()}"),
                  [data], tmp_path / "gpu", progress=False)
    assert gpu.device.type == "cuda"
    return cpu, gpu


def copy(batch: dict) -> dict:
    return {k: v.clone() for k, v in batch.items()}


def first_conv(trainer) -> torch.nn.Conv2d:
    return next(m for m in trainer.parts.net.encoder.modules() if isinstance(m, torch.nn.Conv2d))


@pytest.mark.parametrize("amp,channels_last", CASES)
def test_cuda_forward_matches_cpu_and_autocast_engages(tiny_setup, make_config, tmp_path, amp, channels_last):
    cpu, gpu = trainers(tiny_setup, make_config, tmp_path, amp, channels_last)
    for p_cpu, p_gpu in zip(cpu.parts.net.parameters(), gpu.parts.net.parameters()):
        assert torch.equal(p_cpu, p_gpu.cpu())
    seen = []
    hook = first_conv(gpu).register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    batch = cpu.stream.next()
    _, out_c = cpu.forward_batch(copy(batch), step_generator(0, 0, 0))
    _, out_g = gpu.forward_batch(copy(batch), step_generator(0, 0, 0))
    hook.remove()
    assert seen == [torch.bfloat16 if amp else torch.float32]
    net_c, net_g = out_c.net, out_g.net
    # the renderer and the losses get float32
    assert all(t.dtype == torch.float32 for t in (net_g.shape, net_g.id_code, out_g.logits, net_g.image))
    tol = 6e-2 if amp else 1e-2
    mean = cpu.parts.face_model.mean
    for key in ("id_code", "exp_code", "pose_code", "light", "albedo", "landmarks2d", "image"):
        assert rel(getattr(net_g, key), getattr(net_c, key)) < tol, key
    assert rel(net_g.shape.cpu() - mean, net_c.shape - mean) < tol
    assert rel(out_g.logits, out_c.logits) < tol
    assert rel(out_g.pair_shape.cpu() - mean, out_c.pair_shape - mean) < tol


@pytest.mark.parametrize("amp,channels_last", [(False, False), (True, True)])
def test_cuda_training_steps_match_cpu_losses(tiny_setup, make_config, tmp_path, amp, channels_last):
    cpu, gpu = trainers(tiny_setup, make_config, tmp_path, amp, channels_last)
    tol = 0.1 if amp else 2e-2
    net = gpu.parts.net
    before = {name: [p.detach().clone() for p in getattr(net, name).parameters()]
              for name in ("encoder", "shape_decoder")}
    for step in range(3):  # both optimisers update in between, so later steps compare the updates too
        batch = cpu.stream.next()
        values_c, _ = cpu._train_step(copy(batch))
        values_g, _ = gpu._train_step(copy(batch))
        cpu.step, gpu.step = cpu.step + 1, gpu.step + 1
        assert values_c is not None and values_g is not None, f"step {step} skipped as non-finite"
        assert set(values_g) == set(values_c)
        for name, v in values_c.items():
            assert abs(values_g[name] - v) <= tol * abs(v) + 1e-4, (step, name, values_g[name], v)
    for name, old in before.items():
        now = list(getattr(net, name).parameters())
        assert sum(not torch.equal(a, b) for a, b in zip(old, now)) > len(now) // 2, f"{name} did not train"
    assert all(p.dtype == torch.float32 for p in gpu.parts.net.parameters())  # autocast keeps float32 weights
