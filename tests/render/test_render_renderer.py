import torch
import trimesh

from photoface.render.camera import pose_from_code, project
from photoface.render.rasterize import interpolate
from photoface.render.renderer import Renderer
from photoface.render.sh import light_preset

SIZE = 32


def sphere(radius=40.0, subdivisions=2, dtype=torch.float64):
    m = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return torch.tensor(m.vertices, dtype=dtype)[None], torch.tensor(m.faces, dtype=torch.long)


def frontal(batch=1, dtype=torch.float64, size=SIZE):
    return pose_from_code(torch.zeros(batch, 6, dtype=dtype), size)


def test_zero_light_code_renders_a_lit_face_and_frontal_pose_is_centred():
    verts, faces = sphere()
    out = Renderer(faces, SIZE).render(verts, torch.full_like(verts, 0.5), frontal())
    m = out.mask[0, 0] > 0
    assert m.sum() > 100
    lit = out.image[0][:, m]
    assert lit.min() > 0.5 * 0.6 - 0.02 and lit.max() < 0.5 * 1.0 + 0.02
    assert torch.isclose(out.image[0, :, 16, 16], torch.tensor(0.5, dtype=torch.float64), atol=0.01).all()
    rows, cols = torch.nonzero(m, as_tuple=True)
    centre = torch.stack([cols.double().mean() + 0.5, rows.double().mean() + 0.5])
    assert torch.allclose(centre, torch.tensor([SIZE / 2.0, SIZE / 2.0], dtype=torch.float64), atol=0.05)


def test_left_light_brightens_the_image_left():
    verts, faces = sphere()
    out = Renderer(faces, SIZE).render(verts, torch.full_like(verts, 0.5), frontal(), light_preset("left", torch.float64)[None])
    img = out.image[0, 0]
    assert img[:, : SIZE // 2].sum() > 1.5 * img[:, SIZE // 2 :].sum()


def test_light_is_fixed_to_the_camera_not_the_head():
    verts, faces = sphere(subdivisions=4)
    r = Renderer(faces, SIZE)
    light = light_preset("left", torch.float64)[None]
    albedo = torch.full_like(verts, 0.5)
    still = r.render(verts, albedo, frontal(), light).image
    p = frontal()
    p[0, :3] = torch.tensor([20.0, 60.0, 30.0], dtype=torch.float64)
    turned = r.render(verts, albedo, p, light).image
    assert (still - turned).abs().mean() < 0.01  # a turned sphere looks the same


def test_background_composite_and_output_shapes():
    verts, faces = sphere()
    bg = torch.rand(1, 3, SIZE, SIZE, dtype=torch.float64)
    r = Renderer(faces, SIZE)
    plain = r.render(verts, torch.full_like(verts, 0.7), frontal(), landmarks=torch.tensor([0, 5, 7]))
    over = r.render(verts, torch.full_like(verts, 0.7), frontal(), background=bg)
    m = over.mask.expand(1, 3, SIZE, SIZE) > 0
    assert torch.equal(over.image[~m], bg[~m])
    assert torch.equal(over.image[m], plain.image[m])
    assert (plain.image[~m] == 0).all() and (plain.shading[~m] == 0).all()
    assert plain.image.shape == (1, 3, SIZE, SIZE) and plain.mask.shape == (1, 1, SIZE, SIZE)
    assert plain.depth.shape == (1, 1, SIZE, SIZE) and plain.tri_id.shape == (1, SIZE, SIZE)
    assert plain.landmarks2d.shape == (1, 3, 2) and plain.screen_verts.shape == (1, verts.shape[1], 3)
    assert plain.image.dtype == torch.float64
    assert torch.equal(plain.mask[0, 0] > 0, plain.tri_id[0] >= 0)
    assert (plain.depth[plain.mask > 0] > 0).all()  # the visible half is in front of the centre
    grey = r.render(verts, torch.full_like(verts, 0.7), frontal(), background=torch.tensor([0.1, 0.2, 0.3]))
    assert torch.allclose(grey.image[0, :, 0, 0], torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64))


def test_image_space_albedo_is_read_at_the_pixel():
    verts, faces = sphere()
    amap = torch.rand(1, 3, SIZE, SIZE, dtype=torch.float64, requires_grad=True)
    out = Renderer(faces, SIZE).render(verts, amap, frontal(), background=0.25)
    m = out.mask.expand(1, 3, SIZE, SIZE) > 0
    assert torch.allclose(out.image[m], (amap * out.shading)[m])
    assert (out.image[~m] == 0.25).all()
    out.image.sum().backward()
    assert (amap.grad[~m] == 0).all() and (amap.grad[m] > 0).all()


def test_landmark_projection_lands_on_the_rasterised_vertex():
    verts, faces = sphere(subdivisions=3)
    lm = int(torch.argmax(verts[0] @ torch.tensor([0.3, 0.2, 0.93], dtype=torch.float64)))
    p = torch.tensor([[-10.0, 20.0, 5.0, 0.3, 0.0, 0.0]], dtype=torch.float64)
    at_zero = project(verts, p)[0, lm, :2]
    target = torch.tensor([13.5, 18.5], dtype=torch.float64)  # centre of pixel (row 18, col 13)
    p[0, 4:] = target - at_zero
    out = Renderer(faces, SIZE).render(verts, torch.full_like(verts, 0.5), p, landmarks=torch.tensor([lm]))
    assert torch.allclose(out.landmarks2d[0, 0], target)
    assert out.tri_id[0, 18, 13] >= 0
    model_xyz = interpolate(verts, faces, out.fragments)[0, 18, 13]
    assert torch.allclose(model_xyz, verts[0, lm], atol=1e-9)


def test_batch_items_render_independently():
    verts, faces = sphere()
    verts2 = torch.cat([verts, verts * torch.tensor([1.2, 0.8, 1.0], dtype=torch.float64)])
    albedo = torch.rand_like(verts2)
    pose = frontal(2)
    pose[1, :3] = torch.tensor([10.0, -30.0, 15.0], dtype=torch.float64)
    light = torch.randn(2, 27, dtype=torch.float64) * 0.1
    r = Renderer(faces, SIZE)
    both = r.render(verts2, albedo, pose, light).image
    for i in range(2):
        alone = r.render(verts2[i : i + 1], albedo[i : i + 1], pose[i : i + 1], light[i : i + 1]).image
        assert torch.allclose(both[i], alone[0])


def test_gradient_wrt_vertex_positions_matches_finite_differences_on_interior_pixels():
    torch.manual_seed(0)
    verts, faces = sphere(subdivisions=2)
    verts = verts * torch.tensor([1.0, 1.1, 0.8], dtype=torch.float64)
    albedo = torch.rand_like(verts) * 0.5 + 0.25
    light = torch.randn(1, 27, dtype=torch.float64) * 0.2
    pose = torch.tensor([[8.0, -15.0, 5.0, 0.3, 16.0, 16.0]], dtype=torch.float64)
    r = Renderer(faces, SIZE)
    mask = r.render(verts, albedo, pose).mask
    interior = -torch.nn.functional.max_pool2d(-mask, 5, stride=1, padding=2)  # eroded by 2 px
    weights = torch.rand(1, 3, SIZE, SIZE, dtype=torch.float64) * interior

    def loss(v):
        return (r.render(v, albedo, pose, light).image * weights).sum()

    v = verts.clone().requires_grad_()
    loss(v).backward()
    screen = project(verts, pose)[0]
    visible = torch.unique(faces[r.render(verts, albedo, pose).tri_id[0][interior[0, 0] > 0]])
    checked = 0
    for vi in visible[:: max(1, len(visible) // 8)].tolist():
        assert screen[vi, 2] > 0
        for axis in range(3):
            eps = 1e-5
            plus, minus = verts.clone(), verts.clone()
            plus[0, vi, axis] += eps
            minus[0, vi, axis] -= eps
            fd = (loss(plus) - loss(minus)) / (2 * eps)
            assert torch.isclose(v.grad[0, vi, axis], fd, rtol=1e-4, atol=1e-6), (vi, axis)
            checked += 1
    assert checked >= 18


def test_gradients_reach_pose_and_light():
    verts, faces = sphere()
    code = torch.zeros(1, 6, dtype=torch.float64, requires_grad=True)
    light = torch.zeros(1, 27, dtype=torch.float64, requires_grad=True)
    out = Renderer(faces, SIZE).render(verts, torch.full_like(verts, 0.5), pose_from_code(code, SIZE), light)
    out.image.sum().backward()
    assert code.grad[0, :4].abs().sum() > 0  # rotation and scale move shading and depth
    assert light.grad.abs().sum() > 0


def test_a_geometry_kept_from_a_no_grad_pass_shades_like_a_full_render():
    verts, faces = sphere()
    r = Renderer(faces, SIZE)
    albedo = torch.rand_like(verts)
    grads = []
    for keep in (False, True):
        light = light_preset("left", verts.dtype)[None].clone().requires_grad_(True)
        if keep:  # what the fitter's light stage does: rasterise once without autograd
            with torch.no_grad():
                geometry = r.geometry(verts, frontal())
            out = r.shade(geometry, albedo, light)
        else:
            out = r.render(verts, albedo, frontal(), light)
        out.image.pow(2).sum().backward()
        grads.append((out.image.detach(), light.grad))
    assert torch.allclose(grads[0][0], grads[1][0], atol=1e-9)
    assert torch.allclose(grads[0][1], grads[1][1], atol=1e-9) and grads[0][1].abs().sum() > 0
