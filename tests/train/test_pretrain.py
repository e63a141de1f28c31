import torch

from photoface.train.build import build_parts
from photoface.train.pretrain import linear_basis, linear_codes, linear_targets, pretrain_decoders
from support.runs import tiny_config, tiny_face_model


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


def test_stage0_moves_the_decoders_towards_linear_samples_and_leaves_the_encoder(tmp_path):
    from photoface.facemodel.io import save_model

    path = tmp_path / "m.npz"
    save_model(tiny_face_model(), path)
    cfg = tiny_config(path, "model.shape_linear_path=false")
    torch.manual_seed(0)
    parts = build_parts(cfg, torch.device("cpu"))
    net, fm = parts.net, parts.face_model
    enc_before = {k: v.clone() for k, v in net.encoder.state_dict().items()}
    c = fm.sample(64, generator=torch.Generator().manual_seed(5))
    c_id, c_exp = linear_codes(c, cfg.model.id_dim, cfg.model.exp_dim)
    target, _ = linear_targets(fm, c, cfg.model.id_dim)

    def err():
        with torch.no_grad():
            return float((net.decode_shape(c_id, c_exp) - target).norm(dim=-1).mean())

    before = err()
    result = pretrain_decoders(net, fm, steps=60, batch=8, lr=3e-3, seed=1)
    assert result["steps"] == 60 and result["shape_mm"] > 0
    assert err() < 0.8 * before  # held-out samples, not the ones trained on
    assert all(torch.equal(v, net.encoder.state_dict()[k]) for k, v in enc_before.items())
