"""C3D / I3D backbones: registry, shapes, parameter counts, preprocessing, seeded init.

Expected numbers come from docs/backbones.md §2-§3, not from the implementation.
"""
from __future__ import annotations

import pytest
import torch

from vadflow.features.backbones import BACKBONES, get_backbone
from vadflow.features.backbones.c3d import C3D
from vadflow.features.backbones.i3d import I3D, MaxPool3dSame, Unit3D, _same_pads
from vadflow.features.checkpoints import CheckpointError

torch.set_num_threads(2)


def _rand_cfg(seed: int = 0, **extra) -> dict:
    return {"weights": "random", "seed": seed, **extra}


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def i3d():
    return get_backbone("i3d").build(_rand_cfg())


@pytest.fixture(scope="module")
def c3d():
    return get_backbone("c3d").build(_rand_cfg())


# ---------------------------------------------------------------- registry and defaults
def test_registry_names_dims_defaults():
    assert set(BACKBONES) >= {"c3d", "i3d"}
    c, i = get_backbone("c3d"), get_backbone("i3d")
    assert (c.name, c.dim, i.name, i.dim) == ("c3d", 4096, "i3d", 1024)
    assert c.defaults == {"clip_len": 16, "stride": 16, "resize": [128, 171], "crop": 112,
                          "preprocess": "caffe"}
    assert {k: i.defaults[k] for k in ("clip_len", "stride", "resize", "crop", "preprocess")} == {
        "clip_len": 16, "stride": 16, "resize": 256, "crop": 224, "preprocess": "default"}
    i.defaults["crop"] = 1  # a copy: callers cannot change the registry
    assert i.defaults["crop"] == 224
    assert c.defaults_for("davidea_demo")["resize"] == [112, 200]
    assert c.defaults_for("raw")["resize"] == [112, 112]


def test_unknown_backbone_lists_known_names():
    with pytest.raises(KeyError) as err:
        get_backbone("resnet9000")
    assert "c3d" in str(err.value) and "i3d" in str(err.value)


# ---------------------------------------------------------------- parameter and key counts
def test_parameter_and_key_counts():
    with torch.device("meta"):  # counting needs no memory
        c3d, c3d_head = C3D(), C3D(head=True)
        i3d, i3d_head, i3d_flow = I3D(), I3D(head=True), I3D(in_channels=2)
    assert _n_params(c3d) == 61_214_464
    assert len(c3d.state_dict()) == 18 and len(c3d_head.state_dict()) == 22
    assert _n_params(i3d) == 12_287_264
    assert _n_params(i3d_flow) == 12_265_312
    keys = list(i3d_head.state_dict())
    assert len(keys) == 344
    assert len([k for k in keys if not k.endswith("num_batches_tracked")]) == 287
    # BN eps is TensorFlow's 1e-3, not torch's 1e-5.
    assert i3d.mixed_4b.branch_1[1].batch3d.eps == 1e-3


# ---------------------------------------------------------------- output shapes
def test_c3d_fc6_shape_and_relu(c3d):
    x = torch.randn(1, 3, 16, 112, 112)
    with torch.inference_mode():
        out = c3d(x)
    assert out.shape == (1, 4096)
    assert (out >= 0).all() and (out > 0).any()  # fc6 *after* ReLU


def test_c3d_rejects_wrong_geometry(c3d):
    with torch.inference_mode(), pytest.raises(ValueError, match="16x112x112"):
        c3d(torch.randn(1, 3, 16, 80, 80))


def test_i3d_map_at_224(i3d):
    x = torch.randn(1, 3, 16, 224, 224)
    with torch.inference_mode():
        fmap = i3d.features(x)
        pooled = i3d.pool(fmap)
    assert fmap.shape == (1, 1024, 2, 7, 7)
    assert pooled.shape == (1, 1024)
    torch.testing.assert_close(pooled, fmap.mean(dim=(2, 3, 4)))


def test_i3d_at_112_pooled_is_mean_of_map(i3d):
    x = torch.randn(1, 3, 16, 112, 112)
    with torch.inference_mode():
        fmap, out = i3d.features(x), i3d(x)
    assert fmap.shape == (1, 1024, 2, 4, 4)
    assert out.shape == (1, 1024)
    torch.testing.assert_close(out, fmap.mean(dim=(2, 3, 4)))
    # He init keeps random features at a usable scale (torch's default gives ~1e-9).
    assert out.std() > 1e-2


def test_i3d_any_size_uses_tf_same_geometry(i3d):
    with torch.inference_mode():
        fmap = i3d.features(torch.randn(1, 3, 10, 120, 136))
    # each of the 5 stride-2 steps maps n -> ceil(n/2); T has 3 of them
    assert fmap.shape == (1, 1024, 2, 4, 5)


@pytest.mark.parametrize("n,k,s,pads", [
    (224, 7, 2, (2, 3)),  # even: total k - s = 5, the front gets the smaller half
    (7, 2, 2, (0, 1)),    # odd: total k - n % s = 1
    (15, 3, 2, (1, 1)),
    (16, 1, 1, (0, 0)),
    (8, 3, 1, (1, 1)),
])
def test_tf_same_padding(n, k, s, pads):
    assert _same_pads([n], (k,), (s,)) == [pads]


def test_unit_and_pool_pad_each_axis_like_tf():
    # T = 9 (odd) and H = 10, W = 12 (even) need different pads per axis, so an axis mix-up fails
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 9, 10, 12, generator=gen)
    with torch.device("meta"):
        unit = Unit3D(3, 4, (7, 7, 7), (2, 2, 2), bn=False, relu=False)
    unit = unit.to_empty(device="cpu")
    torch.nn.init.normal_(unit.conv3d.weight, generator=gen)
    torch.nn.init.zeros_(unit.conv3d.bias)
    # hand-computed: T 9 % 2 = 1 -> 7 - 1 = 6 -> (3, 3); H, W even -> 7 - 2 = 5 -> (2, 3)
    want = torch.nn.functional.conv3d(torch.nn.functional.pad(x, (2, 3, 2, 3, 3, 3)),
                                      unit.conv3d.weight, unit.conv3d.bias, 2)
    torch.testing.assert_close(unit(x), want)
    assert want.shape[2:] == (5, 5, 6)  # ceil(n / 2)
    # pool 2x2x2 / 2 on (9, 10, 12): T gets (0, 1) zero padding, H, W none
    want = torch.nn.functional.max_pool3d(torch.nn.functional.pad(x, (0, 0, 0, 0, 0, 1)), 2, 2)
    torch.testing.assert_close(MaxPool3dSame((2, 2, 2), (2, 2, 2))(x), want)
    # pool 1x3x3 / (1, 2, 2): H, W even -> (0, 1), T none
    want = torch.nn.functional.max_pool3d(torch.nn.functional.pad(x, (0, 1, 0, 1, 0, 0)), (1, 3, 3), (1, 2, 2))
    torch.testing.assert_close(MaxPool3dSame((1, 3, 3), (1, 2, 2))(x), want)


def test_i3d_public_pool_mode():
    with torch.device("meta"):
        mean_model, public_model = I3D(), I3D(pool="public")
    fmap2 = torch.rand(1, 4, 2, 3, 3)
    torch.testing.assert_close(public_model.pool(fmap2), mean_model.pool(fmap2))  # T' = 2
    fmap3 = torch.zeros(1, 1, 3, 1, 1)
    fmap3[0, 0, :, 0, 0] = torch.tensor([3.0, 0.0, 0.0])
    # public: windows (t0,t1), (t1,t2) -> 1.5, 0 -> mean 0.75; plain mean = 1.0
    assert public_model.pool(fmap3).item() == pytest.approx(0.75)
    assert mean_model.pool(fmap3).item() == pytest.approx(1.0)


# ---------------------------------------------------------------- preprocessing presets
R, G, B = 255.0, 128.0, 0.0
PRESET_CASES = [  # hand-computed from docs/backbones.md §2-§3
    ("i3d", "default", [R / 127.5 - 1, G / 127.5 - 1, B / 127.5 - 1]),  # 1, 0.00392, -1
    ("c3d", "caffe", [B - 90.25, G - 97.66, R - 101.41]),                # BGR minus mean
    ("c3d", "davidea_demo", [R, G, B]),
    ("c3d", "ekosman", [(R - 124) * 0.0167, (G - 117) * 0.0167, (B - 104) * 0.0167]),
    ("c3d", "raw", [R, G, B]),
]


@pytest.mark.parametrize("backbone,preset,expected", PRESET_CASES)
def test_preset_values_on_constant_frame(backbone, preset, expected):
    clips = torch.empty(2, 4, 5, 6, 3, dtype=torch.uint8)
    clips[..., 0], clips[..., 1], clips[..., 2] = 255, 128, 0
    out = get_backbone(backbone).normalize(clips, {"preprocess": preset})
    assert out.dtype == torch.float32 and out.shape == (2, 3, 4, 5, 6)
    want = torch.tensor(expected, dtype=torch.float32).view(1, 3, 1, 1, 1).expand_as(out)
    torch.testing.assert_close(out, want, atol=1e-5, rtol=0)


def test_default_preset_applies_when_unset():
    clips = torch.full((1, 1, 2, 2, 3), 255, dtype=torch.uint8)
    assert get_backbone("i3d").normalize(clips, {}).max().item() == pytest.approx(1.0)
    clips[..., 0] = 0  # R = 0: under caffe (BGR) it is the *last* channel
    out = get_backbone("c3d").normalize(clips, {})
    assert out[0, 2].max().item() == pytest.approx(-101.41)


def test_normalize_layout_is_b_c_t_h_w():
    gen = torch.Generator().manual_seed(0)
    clips = torch.randint(0, 256, (2, 3, 4, 5, 3), dtype=torch.uint8, generator=gen)
    c3d = get_backbone("c3d")
    raw = c3d.normalize(clips, {"preprocess": "raw"})
    assert raw[1, 2, 0, 3, 4] == clips[1, 0, 3, 4, 2].float()
    assert torch.equal(raw, clips.permute(0, 4, 1, 2, 3).float())
    caffe = c3d.normalize(clips, {"preprocess": "caffe"})
    torch.testing.assert_close(caffe[:, 0], clips[..., 2].float() - 90.25)  # B first


def test_normalize_stays_on_input_device():
    # meta stands in for CUDA: constants created on the CPU would make this fail
    clips = torch.empty(1, 16, 8, 8, 3, dtype=torch.uint8, device="meta")
    for name, bb in BACKBONES.items():
        for preset in bb.presets:
            out = bb.normalize(clips, {"preprocess": preset})
            assert out.device.type == "meta" and out.shape == (1, 3, 16, 8, 8), (name, preset)


def test_normalize_rejects_bad_input_and_unknown_preset():
    i3d = get_backbone("i3d")
    with pytest.raises(ValueError, match="uint8"):
        i3d.normalize(torch.zeros(1, 2, 4, 4, 3), {})
    with pytest.raises(ValueError, match="uint8"):
        i3d.normalize(torch.zeros(1, 3, 2, 4, 4, dtype=torch.uint8), {})
    with pytest.raises(ValueError, match="default"):  # lists the known presets
        i3d.normalize(torch.zeros(1, 2, 4, 4, 3, dtype=torch.uint8), {"preprocess": "caffe"})


# ---------------------------------------------------------------- seeded random init
def test_i3d_seeded_init_is_reproducible_and_seed_dependent():
    bb = get_backbone("i3d")
    rng_before = torch.get_rng_state()
    a, a2, b = bb.build(_rand_cfg(3)), bb.build(_rand_cfg(3)), bb.build(_rand_cfg(4))
    assert torch.equal(torch.get_rng_state(), rng_before)  # global RNG untouched
    assert not a.training
    x = torch.randn(1, 3, 8, 112, 112)
    with torch.inference_mode():
        ya, ya2, yb = a(x), a2(x), b(x)
    assert torch.equal(ya, ya2)
    assert not torch.allclose(ya, yb)


def test_c3d_seeded_init_is_reproducible_and_seed_dependent(c3d):
    bb = get_backbone("c3d")
    same, other = bb.build(_rand_cfg(0)), bb.build(_rand_cfg(1))
    for key, value in c3d.state_dict().items():
        assert torch.equal(value, same.state_dict()[key]), key
    assert not torch.equal(c3d.conv1.weight, other.conv1.weight)
    assert not torch.equal(c3d.fc6.weight, other.fc6.weight)


def test_weights_id_random_and_unset():
    assert get_backbone("i3d").weights_id(_rand_cfg()) == "random-init"
    with pytest.raises(CheckpointError, match="weights: random"):
        get_backbone("c3d").build({"seed": 0})
