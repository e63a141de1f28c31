import torch

from photoface.nn.code_map import linear_codes, linear_targets
from photoface.train.build import build_parts
from photoface.train.pretrain import pretrain_decoders
from support.runs import tiny_config, tiny_face_model


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
