import pytest
import torch
import trimesh

from photoface.mesh.hierarchy import MeshHierarchy
from photoface.nn.discriminator import ShapeDiscriminator


@pytest.fixture(scope="module")
def hier():
    ico = trimesh.creation.icosphere(3, radius=80.0)
    return MeshHierarchy.build(ico.vertices, ico.faces, (4, 4, 4, 2))


def test_discriminator_scores_and_gradient_penalty(hier):
    mean = torch.as_tensor(hier.levels[0].vertices, dtype=torch.float32)
    disc = ShapeDiscriminator(hier, mean, channels=(8, 16, 16, 32))
    shapes = (mean + torch.randn(3, *mean.shape)).requires_grad_()
    score = disc(shapes)
    assert score.shape == (3,)
    score.sum().backward(retain_graph=True)
    for name, p in disc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    disc.zero_grad()
    (g,) = torch.autograd.grad(score.sum(), shapes, create_graph=True)
    g.flatten(1).norm(dim=1).pow(6).mean().backward()  # WGAN-div penalty needs second derivatives
    assert disc.convs[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="discriminator expects"):
        disc(torch.zeros(3, 10, 3))
    assert disc(mean[None]).shape == (1,)
    # Translation of the input changes the score: the critic sees absolute shapes.
    assert not torch.allclose(disc(mean[None]), disc(mean[None] + 5.0))


def test_discriminator_needs_enough_levels(hier):
    mean = torch.as_tensor(hier.levels[0].vertices, dtype=torch.float32)
    with pytest.raises(ValueError, match="down-samplings"):
        ShapeDiscriminator(hier, mean, channels=(8,) * 5)
    with pytest.raises(ValueError, match="match the hierarchy"):
        ShapeDiscriminator(hier, mean[:-1])
