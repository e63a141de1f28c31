import torch

from photoface.nn.code_map import linear_basis, linear_codes, linear_targets
from support.runs import tiny_face_model


def test_code_map_and_basis_reproduce_the_linear_model():
    fm = tiny_face_model()  # K = 8 identity, L = 4 expression, M = 4 texture coefficients
    c = fm.sample(5, generator=torch.Generator().manual_seed(0))
    c_id, c_exp = linear_codes(c, id_dim=10, exp_dim=6)
    assert torch.equal(c_id[:, :8], c.alpha_id) and torch.equal(c_id[:, 8:], c.beta[:, :2])
    assert torch.equal(c_exp[:, :4], c.alpha_exp) and torch.count_nonzero(c_exp[:, 4:]) == 0
    basis = linear_basis(fm, 10, 6)
    shape, albedo = linear_targets(fm, c, 10)
    via_basis = fm.mean + torch.einsum("bj,jvc->bvc", torch.cat([c_id, c_exp], 1), basis)
    assert torch.allclose(via_basis, shape, atol=1e-4)
    assert torch.allclose(shape, fm.shape(c.alpha_id, c.alpha_exp))  # all 8 identity coefficients fit
    assert torch.allclose(albedo, fm.albedo(c.beta[:, :2]))
    small_id, _ = linear_codes(c, id_dim=5, exp_dim=6)  # fewer code entries than coefficients: truncated
    assert torch.equal(small_id, c.alpha_id[:, :5])
