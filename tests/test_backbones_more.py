"""R3D-18, R(2+1)D-18, R(2+1)D-50, ResNet-50, Xception and the I3D map (docs/backbones.md §3-§9).

Expected numbers (counts, key shapes, output shapes, preprocessing values) are written out from
the spec, not taken from the implementation. Checkpoint files are saved in the public layouts:
torchvision plain state_dicts, kenshohara's wrapped dict with DataParallel's ``module.``,
Cadene's Xception with ``fc`` and 2-D ``pointwise`` weights.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
import yaml

from vadflow.cli import main as cli_main
from vadflow.features import checkpoints as ck
from vadflow.features.backbones import BACKBONES, get_backbone

torch.set_num_threads(2)

NEW = ["i3d_map", "r3d_18", "r2plus1d_18", "r2plus1d_50", "resnet50_2d", "xception"]
VIDEO_TINY = (1, 3, 8, 32, 32)  # for checks where the spec's geometry is not what is tested
FRAME_TINY = (1, 3, 2, 64, 64)  # two frames
TINY = {"r3d_18": VIDEO_TINY, "r2plus1d_18": VIDEO_TINY, "r2plus1d_50": VIDEO_TINY,
        "resnet50_2d": FRAME_TINY, "xception": FRAME_TINY, "i3d_map": (1, 3, 2, 224, 224)}  # 7x7 map


def _rand_cfg(seed: int = 0, **extra) -> dict:
    return {"weights": "random", "seed": seed, **extra}


def _meta(name: str, **cfg) -> torch.nn.Module:
    with torch.device("meta"):
        return get_backbone(name)._make_model(cfg)


def _x(shape, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def models() -> dict[str, torch.nn.Module]:
    return {name: get_backbone(name).build(_rand_cfg()) for name in NEW}


# ---------------------------------------------------------------- registry, defaults, schema
def test_registry_dims_shapes_defaults():
    spec = {  # name: (dim, feature_shape, resize, crop, default preset)
        "i3d_map": (1024, (1024, 7, 7), 256, 224, "default"),
        "r3d_18": (512, (512,), [128, 171], 112, "torchvision"),
        "r2plus1d_18": (512, (512,), [128, 171], 112, "torchvision"),
        "r2plus1d_50": (2048, (2048,), 112, 112, "kenshohara"),
        "resnet50_2d": (2048, (2048,), 256, 224, "imagenet"),
        "xception": (2048, (2048,), 333, 299, "cadene"),
    }
    for name, (dim, shape, resize, crop, preset) in spec.items():
        bb = get_backbone(name)
        d = bb.defaults
        assert (bb.name, bb.dim, bb.feature_shape) == (name, dim, shape)
        assert (d["clip_len"], d["stride"], d["resize"], d["crop"], d["preprocess"]) == (16, 16, resize, crop, preset)
    assert get_backbone("c3d").feature_shape == (4096,) and get_backbone("i3d").feature_shape == (1024,)
    assert set(get_backbone("resnet50_2d").presets) == {"imagenet", "caffe_bgr"}
    assert set(get_backbone("xception").presets) == {"cadene", "keras_squash"}
    assert get_backbone("xception").defaults_for("keras_squash")["resize"] == [299, 299]  # squashed, no crop
    assert get_backbone("resnet50_2d").defaults_for("caffe_bgr")["resize"] == [224, 224]
    assert get_backbone("i3d_map").families == get_backbone("i3d").families


def test_schema_lists_every_backbone():
    schema = yaml.safe_load((Path(__file__).parents[1] / "workflow/schemas/config.schema.yaml").read_text())
    assert set(schema["$defs"]["extractor"]["properties"]["backbone"]["enum"]) == set(BACKBONES)


# ---------------------------------------------------------------- parameter and key counts
@pytest.mark.parametrize("name,params,keys,keys_no_nbt", [
    ("r3d_18", 33_166_272, 122, 102),
    ("r2plus1d_18", 31_300_125, 224, 187),
    ("r2plus1d_50", 46_215_782, 422, 352),
    ("resnet50_2d", 23_508_032, 320, 267),
    ("xception", 20_806_952, 276, 236),
    ("i3d_map", 12_287_264, 344, 287),
])
def test_parameter_and_key_counts(name, params, keys, keys_no_nbt):
    trunk, full = _meta(name), _meta(name, head=True)
    assert sum(p.numel() for p in trunk.parameters()) == params
    sd = full.state_dict()
    assert len(sd) == keys
    assert len([k for k in sd if not k.endswith("num_batches_tracked")]) == keys_no_nbt


SPEC_KEYS = {  # examples given in docs/backbones.md §4-§6 (with the classifier)
    "r3d_18": {"stem.0.weight": (64, 3, 3, 7, 7), "layer2.0.downsample.0.weight": (128, 64, 1, 1, 1),
               "layer1.0.conv1.0.weight": (64, 64, 3, 3, 3), "layer4.1.conv2.1.running_var": (512,),
               "fc.weight": (400, 512)},
    "r2plus1d_18": {"stem.0.weight": (45, 3, 1, 7, 7), "stem.3.weight": (64, 45, 3, 1, 1), "stem.4.bias": (64,),
                    "layer2.0.conv2.0.0.weight": (230, 128, 1, 3, 3),
                    "layer2.0.downsample.0.weight": (128, 64, 1, 1, 1), "layer2.0.conv1.0.1.weight": (230,),
                    "layer2.0.conv1.0.3.weight": (128, 230, 3, 1, 1), "layer2.0.conv1.1.weight": (128,),
                    "fc.weight": (400, 512)},
    "r2plus1d_50": {"conv1_s.weight": (110, 3, 1, 7, 7), "bn1_s.weight": (110,), "conv1_t.weight": (64, 110, 7, 1, 1),
                    "layer4.0.conv2_s.weight": (1152, 512, 1, 3, 3), "layer4.0.conv2_t.weight": (512, 1152, 3, 1, 1),
                    "layer4.0.downsample.0.weight": (2048, 1024, 1, 1, 1), "layer4.2.bn3.weight": (2048,),
                    "fc.weight": (700, 2048)},
    "resnet50_2d": {"conv1.weight": (64, 3, 7, 7), "bn1.running_mean": (64,),
                    "layer4.2.conv3.weight": (2048, 512, 1, 1), "layer1.0.downsample.0.weight": (256, 64, 1, 1),
                    "layer3.5.bn2.weight": (256,), "fc.weight": (1000, 2048)},
    "xception": {"conv1.weight": (32, 3, 3, 3), "conv2.weight": (64, 32, 3, 3),
                 "block1.rep.0.conv1.weight": (64, 1, 3, 3), "block1.rep.0.pointwise.weight": (128, 64, 1, 1),
                 "block1.skip.weight": (128, 64, 1, 1), "block1.skipbn.weight": (128,),
                 "block2.rep.1.pointwise.weight": (256, 128, 1, 1), "block12.rep.4.pointwise.weight": (1024, 728, 1, 1),
                 "conv3.pointwise.weight": (1536, 1024, 1, 1), "conv4.pointwise.weight": (2048, 1536, 1, 1),
                 "bn4.weight": (2048,), "last_linear.weight": (1000, 2048)},
}
# (2+1)D mids, block 0 / block 1 (docs/backbones.md §4): floor(27 in out / (9 in + 3 out)), block input planes.
TV_MIDS = {1: (144, 144), 2: (230, 288), 3: (460, 576), 4: (921, 1152)}


@pytest.mark.parametrize("name", list(SPEC_KEYS))
def test_spec_key_examples(name):
    sd = _meta(name, head=True).state_dict()
    for key, shape in SPEC_KEYS[name].items():
        assert tuple(sd[key].shape) == shape, key
    if name == "r2plus1d_18":
        for layer, mids in TV_MIDS.items():
            for block, mid in enumerate(mids):
                for conv in ("conv1", "conv2"):  # the same mid for both convs of a block
                    assert sd[f"layer{layer}.{block}.{conv}.0.0.weight"].shape[0] == mid
    if name == "xception":  # middle-flow blocks 4-11 have no skip conv
        assert not any(k.startswith(f"block{i}.skip") for i in range(4, 12) for k in sd)
        assert {int(k.split(".")[0][5:]) for k in sd if ".skip." in k} == {1, 2, 3, 12}


# ---------------------------------------------------------------- output shapes (docs/backbones.md §9)
SPEC_INPUT = {  # the §1 inputs (frame backbones: 2 frames of the per-frame size); the last map
    "r3d_18": ((1, 3, 16, 112, 112), "layer4", (1, 512, 2, 7, 7)),
    "r2plus1d_18": ((1, 3, 16, 112, 112), "layer4", (1, 512, 2, 7, 7)),
    "r2plus1d_50": ((1, 3, 16, 112, 112), "layer4", (1, 2048, 1, 4, 4)),
    "resnet50_2d": ((1, 3, 2, 224, 224), "layer4", (2, 2048, 7, 7)),
    "xception": ((1, 3, 2, 299, 299), "bn4", (2, 2048, 10, 10)),
    "i3d_map": ((1, 3, 16, 224, 224), "mixed_5c", (1, 1024, 2, 7, 7)),
}


@pytest.mark.parametrize("name", list(SPEC_INPUT))
def test_output_and_map_shapes_at_spec_input(models, name):
    """One forward pass at the spec's input; a hook captures the last map to check the pooling."""
    model, bb = models[name], get_backbone(name)
    shape, layer, map_shape = SPEC_INPUT[name]
    seen = []
    hook = getattr(model, layer).register_forward_hook(lambda m, i, o: seen.append(o.clone()))
    try:
        with torch.inference_mode():
            out = model(_x(shape))
    finally:
        hook.remove()
    fmap = torch.cat(seen)  # frame backbones may run the trunk in chunks
    assert tuple(fmap.shape) == map_shape
    assert out.shape == (1, *bb.feature_shape)
    if name == "i3d_map":  # Mixed_5c averaged over T'
        assert out.shape == (1, 1024, 7, 7)
        want = fmap.mean(dim=2)
    elif name in ("resnet50_2d", "xception"):  # GAP per frame (of ReLU(bn4) for Xception), mean over frames
        assert out.shape == (1, 2048)
        want = (fmap.relu() if name == "xception" else fmap).mean(dim=(0, 2, 3))[None]
    else:  # average pool after layer4
        assert out.shape == (1, bb.dim)
        want = fmap.mean(dim=(2, 3, 4))
    torch.testing.assert_close(out, want, atol=1e-6 * want.abs().max().item(), rtol=1e-5)
    assert torch.isfinite(out).all() and out.std() > 1e-2


def test_i3d_map_size_follows_the_crop(models):
    # ADOR accepts any H'xW' map: a 112 px crop (the synthetic default) gives 4x4 tokens, and
    # the map's spatial mean is still the pooled i3d feature.
    with torch.inference_mode():
        x = _x((1, 3, 2, 112, 112))
        fmap = models["i3d_map"](x)
        assert fmap.shape == (1, 1024, 4, 4)


def test_frame_backbones_clip_is_mean_of_frames(models):
    for name in ("resnet50_2d", "xception"):
        model = models[name]
        x = _x((2, 3, 2, 64, 64), 2)  # 2 clips of 2 different frames
        with torch.inference_mode():
            frames = model.forward_frames(x)
            assert frames.shape == (2, 2, 2048)
            # Random-init features are large (~1e3) and oneDNN's rounding depends on the batch.
            tol = {"atol": 1e-6 * frames.abs().max().item(), "rtol": 1e-5}
            torch.testing.assert_close(frames[1, 0], model.frame_features(x[1:2, :, 0])[0], **tol)  # order
            assert not torch.allclose(frames[0, 0], frames[0, 1])
            model.frame_batch = 3  # the 4 frames in two trunk passes: same features
            try:
                torch.testing.assert_close(model(x), frames.mean(dim=1), **tol)
            finally:
                model.frame_batch = type(model).frame_batch


# ---------------------------------------------------------------- preprocessing presets
PIXEL = (100.0, 150.0, 200.0)  # R, G, B of a constant frame


def _std(mean, std):
    return [(PIXEL[c] / 255 - mean[c]) / std[c] for c in range(3)]


PRESET_CASES = [  # hand-computed from the spec's constants (§3-§6)
    ("r3d_18", "torchvision", _std((0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989))),
    ("r2plus1d_18", "torchvision", _std((0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989))),
    ("r2plus1d_50", "kenshohara", _std((0.4345, 0.4051, 0.3775), (0.2768, 0.2713, 0.2737))),
    ("resnet50_2d", "imagenet", _std((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))),
    ("resnet50_2d", "caffe_bgr", [200 - 103.939, 150 - 116.779, 100 - 123.68]),  # B, G, R
    ("xception", "cadene", _std((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))),
    ("xception", "keras_squash", [p / 127.5 - 1 for p in PIXEL]),
    ("i3d_map", "default", [p / 127.5 - 1 for p in PIXEL]),
]


@pytest.mark.parametrize("backbone,preset,expected", PRESET_CASES)
def test_preset_values_on_constant_frame(backbone, preset, expected):
    clips = torch.empty(1, 2, 3, 4, 3, dtype=torch.uint8)
    for c in range(3):
        clips[..., c] = int(PIXEL[c])
    bb = get_backbone(backbone)
    out = bb.normalize(clips, {"preprocess": preset})
    assert out.shape == (1, 3, 2, 3, 4)
    want = torch.tensor(expected, dtype=torch.float32).view(1, 3, 1, 1, 1).expand_as(out)
    torch.testing.assert_close(out, want, atol=1e-5, rtol=0)
    if preset == bb.defaults["preprocess"]:  # the default applies when unset
        torch.testing.assert_close(bb.normalize(clips, {}), out, atol=0, rtol=0)


def test_expected_values_sanity():  # the hand computation itself, for one channel
    assert PRESET_CASES[0][2][0] == pytest.approx((100 / 255 - 0.43216) / 0.22803)
    assert PRESET_CASES[0][2][0] == pytest.approx(-0.1755, abs=1e-4)


# ---------------------------------------------------------------- seeded init
@pytest.mark.parametrize("name", NEW)
def test_seeded_init_reproducible(models, name):
    bb = get_backbone(name)
    rng = torch.get_rng_state()
    same = bb.build(_rand_cfg(0))
    assert torch.equal(torch.get_rng_state(), rng)  # global RNG untouched
    assert not same.training
    x = _x(TINY[name], 3)
    with torch.inference_mode():
        assert torch.equal(same(x), models[name](x))
    if name == "xception":  # seed dependence (seeded_init_ is shared; one backbone is enough)
        other = bb.build(_rand_cfg(1))
        assert not torch.equal(other.block4.rep[1].conv1.weight, same.block4.rep[1].conv1.weight)
        assert not torch.equal(other.conv4.pointwise.weight, same.conv4.pointwise.weight)
    assert get_backbone(name).weights_id(_rand_cfg()) == "random-init"


# ---------------------------------------------------------------- round trips through the loader
def _perturb_bn(model: torch.nn.Module, seed: int) -> None:
    """Non-trivial BN statistics, so that a loader skipping them would change the output."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                m.num_batches_tracked.fill_(1000)


def _source(name: str, seed: int = 7) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    model = get_backbone(name).build(_rand_cfg(seed, head=True))
    _perturb_bn(model, seed)
    return model, {k: v.clone() for k, v in model.state_dict().items()}


def _public(name: str, sd: dict[str, torch.Tensor]) -> object:
    """Our state_dict written the way the public file is."""
    if name == "r2plus1d_50":  # kenshohara: DataParallel names inside a training checkpoint
        return {"epoch": 200, "arch": "resnet2p1d-50",
                "state_dict": {f"module.{k}": v for k, v in sd.items()},
                "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "momentum": 0.9, "params": [0, 1]}]},
                "scheduler": {"milestones": [50, 100], "last_epoch": 200}}
    if name == "xception":  # Cadene file: classifier `fc`, and (some copies) 2-D pointwise weights
        out = {}
        for k, v in sd.items():
            if k.endswith("pointwise.weight"):
                v = v.reshape(v.shape[0], v.shape[1])
            out[("fc." + k[len("last_linear."):]) if k.startswith("last_linear.") else k] = v
        assert "fc.weight" in out and out["block1.rep.0.pointwise.weight"].ndim == 2
        return out
    if name == "resnet50_2d":  # an old-style file without num_batches_tracked
        return {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    return sd  # torchvision video: plain state_dict


ROUND_TRIP = [  # name, family, tensors in the file (without num_batches_tracked), classifier keys
    ("r3d_18", "r3d_18_tv", 102, {"fc.weight", "fc.bias"}),
    ("r2plus1d_18", "r2plus1d_18_tv", 187, {"fc.weight", "fc.bias"}),
    ("r2plus1d_50", "r2p1d_kenshohara_bottleneck", 352, {"fc.weight", "fc.bias"}),
    ("resnet50_2d", "resnet50_tv", 267, {"fc.weight", "fc.bias"}),
    ("xception", "xception_cadene", 236, set()),  # loaded with its head: `fc` -> last_linear
]


@pytest.mark.parametrize("name,family,n_tensors,head", ROUND_TRIP)
def test_public_file_round_trip(tmp_path, name, family, n_tensors, head):
    source, sd = _source(name)
    path = tmp_path / f"{name}.pth"
    torch.save(_public(name, sd), path)
    bb = get_backbone(name)
    # trunk only (the classifier is optional); Xception with its head, to check the rename
    model = bb.build({"weights": str(path), "seed": 1, "head": name == "xception"})
    info = model.checkpoint
    assert (info.family, info.n_tensors, set(info.unused)) == (family, n_tensors, head)
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() == bb.weights_id({"weights": str(path)})
    got = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert set(got) == {k for k in sd if not k.endswith("num_batches_tracked") and k not in head}
    for k, v in got.items():
        assert torch.equal(v, sd[k]), k
    x = _x(TINY[name], 4)
    with torch.inference_mode():
        assert torch.equal(model(x), source(x))
    if name == "xception":
        assert torch.equal(model.last_linear.weight, sd["last_linear.weight"])


def test_i3d_map_loads_i3d_files_and_matches_i3d(tmp_path):
    source, sd = _source("i3d")
    path = tmp_path / "model_rgb.pth"
    torch.save(sd, path)  # hassony2 layout (our I3D names)
    i3d = get_backbone("i3d").build({"weights": str(path), "seed": 2})
    fmap = get_backbone("i3d_map").build({"weights": str(path), "seed": 3})
    assert fmap.checkpoint.family == "i3d_hassony2" and fmap.checkpoint.sha256 == i3d.checkpoint.sha256
    x = _x((1, 3, 2, 224, 224), 5)  # T' = 1 is enough here; T = 16 is checked above
    with torch.inference_mode():
        m, v = fmap(x), i3d(x)
    assert m.shape == (1, 1024, 7, 7)
    torch.testing.assert_close(m.mean(dim=(2, 3)), v)  # ADNet's 1024-d = spatial mean of the map


# ---------------------------------------------------------------- failures
def _problems(name: str, sd: dict[str, torch.Tensor]) -> str:
    model = _meta(name)  # the checks only need shapes and fail before loading
    with pytest.raises(ck.CheckpointError) as err:
        ck.apply_state_dict(model, sd, backbone=name, families=get_backbone(name).families, source="bad.pth")
    return str(err.value)


def test_every_mismatch_is_reported_at_once_kenshohara():
    sd = ck.clean_state_dict(_public("r2plus1d_50", _meta("r2plus1d_50", head=True).state_dict()))
    sd["conv1_t.weight"] = torch.empty(64, 110, 3, 1, 1)  # a non-default stem (conv1_t_size 3)
    sd["layer4.0.conv2_s.weight"] = torch.empty(1152, 512, 3, 3, 3)
    sd["layer2.1.bn2_t.running_var"] = torch.empty(127)
    del sd["layer3.0.downsample.1.bias"]
    sd["layer3.0.extra.weight"] = torch.empty(3)
    msg = _problems("r2plus1d_50", sd)
    assert "bad.pth" in msg and "r2p1d_kenshohara_bottleneck" in msg and "5 problem(s)" in msg
    for line in [
        "shape       conv1_t.weight: expected [64, 110, 7, 1, 1], found [64, 110, 3, 1, 1]",
        "shape       layer4.0.conv2_s.weight: expected [1152, 512, 1, 3, 3], found [1152, 512, 3, 3, 3]",
        "shape       layer2.1.bn2_t.running_var: expected [128], found [127]",
        "missing     layer3.0.downsample.1.bias: expected [1024]",
        "unexpected  layer3.0.extra.weight: found [3]",
    ]:
        assert line in msg, msg


def test_every_mismatch_is_reported_at_once_xception():
    sd = _public("xception", _meta("xception", head=True).state_dict())
    sd = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    sd["block5.rep.4.pointwise.weight"] = torch.empty(728, 727)  # 2-D and wrong
    sd["bn4.weight"] = torch.empty(1536)
    sd["fc.weight"] = torch.empty(1000, 1536)  # a classifier present in the file must still fit the model
    model = _meta("xception", head=True)
    with pytest.raises(ck.CheckpointError) as err:
        ck.apply_state_dict(model, sd, backbone="xception", families=("xception_cadene",), source="x.pth")
    msg = str(err.value)
    assert "3 problem(s)" in msg and "xception_cadene" in msg
    for line in [
        "block5.rep.4.pointwise.weight: expected [728, 728, 1, 1], found [728, 727, 1, 1]",
        "bn4.weight: expected [2048], found [1536]",
        "last_linear.weight (file: fc.weight): expected [1000, 2048], found [1000, 1536]",
    ]:
        assert line in msg, msg


@pytest.mark.parametrize("backbone,keys,family", [
    # kenshohara's R(2+1)D-18 is not torchvision's layout (docs/backbones.md §4)
    ("r2plus1d_18", {"conv1_s.weight": (110, 3, 1, 7, 7), "layer1.0.conv1_s.weight": (144, 64, 1, 3, 3)},
     "r2p1d_kenshohara_basic"),
    ("r3d_18", {"stem.0.weight": (45, 3, 1, 7, 7)}, "r2plus1d_18_tv"),
    ("resnet50_2d", {"block1.rep.0.pointwise.weight": (128, 64)}, "xception_cadene"),
    ("r2plus1d_50", {"stem.0.weight": (64, 3, 3, 7, 7)}, "r3d_18_tv"),
])
def test_wrong_family_is_named(backbone, keys, family):
    sd = {k: torch.empty(s) for k, s in keys.items()}
    with pytest.raises(ck.CheckpointError, match=f"looks like a {family} checkpoint; backbone {backbone} loads"):
        ck.apply_state_dict(torch.nn.Module(), sd, backbone=backbone, families=get_backbone(backbone).families)


@pytest.mark.parametrize("backbone,names", [
    ("r3d_18", ["r3d_18-b3b3357e.pth"]), ("r2plus1d_18", ["r2plus1d_18-91a641e6.pth"]),
    ("r2plus1d_50", ["r2p1d50_K_200ep.pth", "kenshohara/3D-ResNets-PyTorch"]),
    ("resnet50_2d", ["resnet50", "torchvision layout"]), ("xception", ["xception-43020ad28.pth", "Cadene"]),
    ("i3d_map", ["model_rgb.pth", "rgb_imagenet.pt"]),
])
def test_missing_file_names_the_public_checkpoint(tmp_path, backbone, names):
    cfg = {"weights": str(tmp_path / "nope.pth"), "name": "feat"}
    with pytest.raises(ck.CheckpointError) as err:
        get_backbone(backbone).weights_id(cfg)
    msg = str(err.value)
    assert "nope.pth" in msg and "features.feat.weights" in msg and all(n in msg for n in names), msg


# ---------------------------------------------------------------- vadflow weights convert --trust
class OldObject:
    """A custom global, as in old pickles: weights_only loading refuses it."""

    def __init__(self) -> None:
        self.note = "pickled object"


def test_weights_convert_needs_trust_and_writes_a_plain_state_dict(tmp_path):
    import numpy as np

    lin = torch.nn.Linear(3, 2)
    path = tmp_path / "old.pth"
    torch.save({"model": lin, "extra": OldObject(), "np": np.ones(2)}, path)
    with pytest.raises(ck.CheckpointError, match="convert --trust"):
        ck.read_state_dict(path)
    out = tmp_path / "old.state_dict.pt"
    assert cli_main(["weights", "convert", str(path)]) == 1 and not out.exists()  # no --trust: refused
    assert cli_main(["weights", "convert", "--trust", str(path)]) == 0
    sd = ck.read_state_dict(out)  # now readable with weights_only=True
    assert set(sd) == {"weight", "bias"} and torch.equal(sd["weight"], lin.weight)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left nothing behind
    plain = tmp_path / "arrays.pth"
    torch.save({"a.weight": np.arange(3.0), "module.b.bias": torch.ones(1)}, plain)
    dest, sd = ck.convert_trusted(plain, tmp_path / "conv" / "x.pt")
    assert dest.is_file() and set(sd) == {"a.weight", "b.bias"} and sd["a.weight"].dtype == torch.float64
    with pytest.raises(ck.CheckpointError, match="overwrite"):
        ck.convert_trusted(plain, plain)
