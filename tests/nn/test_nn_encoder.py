import pytest
import torch
import torchvision

from photoface.errors import InputFileError, PhotofaceError
from photoface.nn.encoder import ResNetEncoder


@pytest.fixture(scope="module")
def enc18():
    torch.manual_seed(0)
    return ResNetEncoder("resnet18").eval()


def test_codes_and_feature_maps_have_documented_shapes(enc18):
    out = enc18(torch.rand(2, 3, 64, 64))
    assert out.id_code.shape == (2, 128) and out.exp_code.shape == (2, 64)
    assert out.pose_code.shape == (2, 6) and out.light.shape == (2, 27)
    sizes = [f.shape[-1] for f in out.features]
    assert sizes == [32, 16, 8, 4, 2]
    assert [f.shape[1] for f in out.features] == list(enc18.feature_channels) == [64, 64, 128, 256, 512]


def test_zero_initialised_heads_give_zero_codes_but_still_learn(enc18):
    enc = ResNetEncoder("resnet18", id_dim=8, exp_dim=4)
    out = enc(torch.rand(2, 3, 64, 64))
    for code in (out.id_code, out.exp_code, out.pose_code, out.light):
        assert torch.count_nonzero(code) == 0
    (out.id_code.sum() + out.exp_code.sum() + out.pose_code.sum() + out.light.sum()).backward()
    for name, head in enc.heads.items():
        assert head[2].weight.grad.abs().sum() > 0, name  # the zero layer receives gradient


def test_channels_last_gives_same_result(enc18):
    cl = ResNetEncoder("resnet18", channels_last=True).eval()
    cl.load_state_dict(enc18.state_dict())
    x = torch.rand(1, 3, 64, 64)
    a, b = enc18(x), cl(x)
    assert b.features[2].is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(a.features[4], b.features[4], rtol=1e-4, atol=1e-4)


def test_imagenet_weights_load_from_a_user_file(tmp_path):
    ref = torchvision.models.resnet18(weights=None)
    path = tmp_path / "r18.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in ref.state_dict().items()}}, path)
    enc = ResNetEncoder("resnet18", weights_path=path)
    assert torch.equal(enc.stem[0].weight, ref.conv1.weight)
    assert torch.equal(enc.layer4[1].bn2.running_var, ref.layer4[1].bn2.running_var)


def test_bad_weight_files_raise_clear_errors(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        ResNetEncoder("resnet18", weights_path=tmp_path / "missing.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00not a checkpoint")
    with pytest.raises(InputFileError, match="garbage.pth: cannot read"):
        ResNetEncoder("resnet18", weights_path=garbage)
    r34 = tmp_path / "r34.pth"
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), r34)
    with pytest.raises(InputFileError, match="not torchvision resnet18 weights: .*unexpected keys"):
        ResNetEncoder("resnet18", weights_path=r34)
    shaped = tmp_path / "shaped.pth"
    sd = torchvision.models.resnet18(weights=None).state_dict()
    sd["conv1.weight"] = torch.zeros(64, 1, 7, 7)
    torch.save(sd, shaped)
    with pytest.raises(InputFileError, match="conv1.weight"):
        ResNetEncoder("resnet18", weights_path=shaped)
    with pytest.raises(PhotofaceError, match="unknown encoder"):
        ResNetEncoder("vgg16")


def _face_points(n: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    return 40 + 50 * torch.rand(n, 68, 2, generator=g)


def test_landmark_branch_feeds_the_heads_and_is_required():
    torch.manual_seed(0)
    enc = ResNetEncoder("resnet18", id_dim=8, exp_dim=4, landmark_input=32, image_size=64).eval()
    assert enc.uses_landmarks and enc.heads["id"][0].in_features == 512 + 32
    with pytest.raises(ValueError, match="landmark"):
        enc(torch.rand(2, 3, 64, 64))
    for head in enc.heads.values():  # non-zero last layers, so the codes show what the heads see
        torch.nn.init.normal_(head[2].weight)
    img = torch.rand(1, 3, 64, 64).expand(2, -1, -1, -1)
    lm = _face_points()
    out = enc(img, lm)
    assert not torch.allclose(out.id_code[0], out.id_code[1])  # same image, other landmarks: other codes
    same = enc(img, lm[:1].expand(2, -1, -1))
    assert torch.allclose(same.id_code[0], same.id_code[1])
    assert not ResNetEncoder("resnet18").uses_landmarks  # the paper's: image only


def test_landmark_linear_adds_its_codes_to_the_heads_outputs():
    torch.manual_seed(0)
    enc = ResNetEncoder("resnet18", id_dim=8, exp_dim=4, landmark_linear=True, image_size=64).eval()
    assert enc.uses_landmarks and enc.landmark_branch is None
    img, lm = torch.rand(2, 3, 64, 64), _face_points()
    base = enc(img, lm)
    assert torch.count_nonzero(base.id_code) == 0  # zero heads + zero map: the mean face
    g = torch.Generator().manual_seed(1)
    n = enc.landmark_linear.FEATURES
    w = torch.randn(8 + 4 + 6, n, generator=g) * 0.1
    b = torch.randn(18, generator=g)
    enc.landmark_linear.set_regression(torch.zeros(n), torch.ones(n), w, b)
    out = enc(img, lm)
    d_id, d_exp, d_pose = enc.landmark_linear(lm)
    assert torch.allclose(out.id_code, d_id) and torch.allclose(out.exp_code, d_exp)
    assert torch.allclose(out.pose_code, d_pose)
    assert torch.count_nonzero(out.light) == 0  # light comes from the image alone
