"""``source: concat``: XD-Violence's RGB, flow and audio joined per snippet, lengths aligned by the
stated rule, crops paired crop by crop; and the config checks naming the key."""
from __future__ import annotations

import json

import numpy as np
import pytest

import vadflow.config as vc
from test_importers import write_table
from vadflow.features import importers as im
from vadflow.features.concat import align_rows, concat_features
from vadflow.stores.features import FeatureStore, FeatureStoreError

VID = "Bad.Boys.1995__#01-11-55_01-12-40_label_G-B2-B6"
T = 4


@pytest.fixture()
def xd_sets(tmp_path):
    """RGB (5 crops, T rows), flow (5 crops, T-1 rows, XDVioDet's layout) and VGGish (T rows),
    each imported: RGB and flow with crops: all, audio as it is."""
    rng = np.random.default_rng(1)
    rgb = rng.normal(size=(5, T, 6)).astype(np.float32)
    flow = rng.normal(size=(5, T - 1, 6)).astype(np.float32)
    audio = rng.normal(size=(T, 3)).astype(np.float32)
    for folder, x in (("RGBTest", rgb), ("FlowTest", flow)):
        (tmp_path / "i3d" / folder).mkdir(parents=True)
        for k in range(5):
            np.save(tmp_path / "i3d" / folder / f"{VID}__{k}.npy", x[k])
    (tmp_path / "vggish").mkdir()
    np.save(tmp_path / "vggish" / f"{VID}__vggish.npy", audio)
    man = write_table(tmp_path / "m.csv", {VID: (16 * T, "test")})
    out = {}
    for name, fmt, path, extra in (("rgb", "xd_i3d", "i3d", {"crops": "all"}), ("flow", "xd_flow", "i3d", {"crops": "all"}),
                                   ("audio", "xd_vggish", "vggish", {})):
        out[name] = str(tmp_path / f"{name}.h5")
        im.import_features(man, {"name": name, "source": "import", "format": fmt, "path": str(tmp_path / path), **extra},
                           out[name], progress=False)
    return tmp_path, out, rgb, flow, audio


def test_truncate_joins_each_crop_with_its_flow_crop_and_the_audio(xd_sets):
    tmp_path, files, rgb, flow, audio = xd_sets
    cfg = {"name": "av", "source": "concat", "inputs": ["rgb", "flow", "audio"], "align": "truncate"}
    stats = concat_features(cfg, [files["rgb"], files["flow"], files["audio"]], tmp_path / "av.h5", progress=False)
    assert stats == {"videos": 1, "failed": 0, "lengths_differ": 1}
    with FeatureStore(tmp_path / "av.h5") as st:
        every, attrs = st.get_crops(VID)
        # crop k, snippet t: [rgb_k[t], flow_k[t], audio[t]] for the T-1 snippets all three have
        assert every.shape == (5, T - 1, 6 + 6 + 3) and attrs["n_crops"] == 5 and attrs["n_clips"] == T - 1
        for k in range(5):
            np.testing.assert_array_equal(every[k], np.hstack([rgb[k, :T - 1], flow[k], audio[:T - 1]]))
        assert json.loads(attrs["rows_in"]) == {"rgb": T, "flow": T - 1, "audio": T} and attrs["n_frames"] == 16 * T
        assert st.attrs["crop_reduce"] == "all" and st.attrs["dim"] == 15
        assert st.attrs["alignment"] == ("rgb (xd_i3d) + flow (xd_flow) + audio (xd_vggish), joined per snippet; lengths "
                                         "aligned by truncate: each video keeps the shortest input's snippets "
                                         "(1 of 1 videos differed)")
        # the mean over crops pairs the audio with the crops' mean of RGB and flow
        np.testing.assert_allclose(st.get(VID)[0][:, 12:], audio[:T - 1], rtol=1e-6)


def test_repeat_last_extends_the_shorter_input(xd_sets):
    tmp_path, files, _, flow, _ = xd_sets
    cfg = {"name": "av", "source": "concat", "inputs": ["rgb", "flow"], "align": "repeat_last"}
    concat_features(cfg, [files["rgb"], files["flow"]], tmp_path / "rl.h5", progress=False)
    with FeatureStore(tmp_path / "rl.h5") as st:
        every, _ = st.get_crops(VID)
    assert every.shape == (5, T, 12)
    np.testing.assert_array_equal(every[2, T - 1, 6:], flow[2, T - 2])  # flow's last row, repeated once
    np.testing.assert_array_equal(align_rows(np.arange(6.0).reshape(1, 3, 2), 5, "repeat_last")[0],
                                  [[0, 1], [2, 3], [4, 5], [4, 5], [4, 5]])


def test_crop_counts_must_agree(xd_sets, tmp_path):
    _, files, *_ = xd_sets
    # the same RGB again but keeping crop 0 only: one crop beside five is fine (it is broadcast) ...
    tmp = tmp_path
    im.import_features(str(tmp / "m.csv"), {"name": "rgb3", "source": "import", "format": "xd_i3d", "path": str(tmp / "i3d")},
                       tmp / "rgb_mean.h5", progress=False)
    concat_features({"name": "x", "inputs": ["rgb", "rgb3"]}, [files["rgb"], str(tmp / "rgb_mean.h5")], tmp / "x.h5", progress=False)
    # ... two different counts are not
    for k in (3, 4):
        for f in (tmp / "i3d" / "RGBTest").glob(f"*__{k}.npy"):
            f.unlink()
    im.import_features(str(tmp / "m.csv"), {"name": "rgb3", "source": "import", "format": "xd_i3d", "path": str(tmp / "i3d"),
                                             "crops": "all"}, tmp / "rgb3.h5", progress=False)
    with pytest.raises(FeatureStoreError, match=rf"video {VID.replace('.', '[.]')}: inputs hold different crop counts: rgb3 \(3\) beside 5"):
        concat_features({"name": "x", "inputs": ["rgb", "rgb3"]}, [files["rgb"], str(tmp / "rgb3.h5")], tmp / "y.h5", progress=False)
    assert not (tmp / "y.h5").exists()


CFG = {"dataset": "xd", "datasets": {"xd": {"kind": "xd_violence", "root": ".", "videos": False}},
       "features": {"rgb": {"source": "import", "format": "xd_i3d", "path": "f", "crops": "all"},
                    "flow": {"source": "import", "format": "xd_flow", "path": "f", "crops": "all"},
                    "audio": {"source": "import", "format": "xd_vggish", "path": "a"},
                    "seg": {"source": "import", "format": "sultani_txt", "path": "s"},
                    "av": {"source": "concat", "inputs": ["rgb", "flow", "audio"]}},
       "methods": {"mil": {"kind": "mil", "features": "av"}}}


def test_config_resolves_and_checks_concat():
    import copy

    cfg = copy.deepcopy(CFG)
    vc.validate(cfg)
    assert vc.extractor_params(cfg, "xd", "av") == {"name": "av", "source": "concat", "inputs": ["rgb", "flow", "audio"],
                                                    "align": "truncate", "dtype": "float32"}
    assert vc.feature_inputs(cfg, "xd", "av") == [f"results/xd/features/{e}.h5" for e in ("rgb", "flow", "audio")]
    assert vc.feature_command(cfg, "xd", "av", vc.feature_inputs(cfg, "xd", "av"), ["o.h5"]).startswith("vadflow concat --cfg ")
    assert vc.feature_layout(cfg, "xd", "av") == "clips" and vc.clip_grid(cfg, "xd", "av")["clip_len"] == 16
    for inputs, pattern in ((["rgb"], r'features.av.inputs = \["rgb"\] is not allowed: expected a list of at least 2'),
                            (["rgb", "rgb"], r"features.av.inputs = \['rgb', 'rgb'\]: expected two or more different"),
                            (["rgb", "nope"], "features.av.inputs: 'nope' names no other extractor"),
                            (["rgb", "seg"], "features.av.inputs: features.seg has layout segments32")):
        bad = copy.deepcopy(CFG)
        bad["features"]["av"]["inputs"] = inputs
        with pytest.raises(vc.ConfigError, match=pattern):
            vc.validate(bad)
    bad = copy.deepcopy(CFG)
    bad["features"]["av"]["align"] = "pad"
    with pytest.raises(vc.ConfigError, match="features.av.align"):
        vc.validate(bad)


def test_the_config_examples_of_the_xd_violence_page_validate():
    """Every yaml example of docs/datasets_xd_violence.md, merged over config/config.yaml as
    --configfile merges it (with a dataset where the example has none), passes the schema and the
    cross-key checks, and config/xd_violence.yaml does too."""
    import re

    import yaml

    from conftest import ROOT

    text = (ROOT / "docs" / "datasets_xd_violence.md").read_text()
    blocks = re.findall(r"^```yaml\n(.*?)^```", text, re.M | re.S)
    assert len(blocks) >= 5
    base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    xd = {"datasets": {"xd": {"kind": "xd_violence", "root": "data/xd_violence", "videos": False}}}
    for block in [*blocks, (ROOT / "config" / "xd_violence.yaml").read_text()]:
        example = yaml.safe_load(block)
        cfg = vc.deep_merge(vc.deep_merge(base, xd), example)
        cfg["dataset"] = example.get("dataset") or next(iter(example.get("datasets") or {"xd": None}))
        vc.validate(cfg)
        for name in example.get("features", {}):  # each example's extractors resolve
            assert vc.feature_layout(cfg, cfg["dataset"], name) == "clips", name
