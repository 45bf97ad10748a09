"""Config schema: errors name the key, defaults fill in; cross-key checks; params scoping."""
from __future__ import annotations

import copy

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

import vadflow.config as vc
from conftest import ROOT

SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")


@pytest.fixture()
def cfg():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_default_config_validates_and_fills_defaults(cfg):
    del cfg["evaluation"]
    validate(cfg, SCHEMA)
    vc.check(cfg)
    assert cfg["evaluation"] == {"threshold": 0.5, "alarm_threshold": 0.5, "f1_k": [10, 25, 50], "plot_videos": 6}
    assert cfg["features"]["i3d"]["device"] == "auto" and cfg["features"]["i3d"]["dtype"] == "auto"
    assert vc.extractor_params(cfg, "synthetic", "i3d")["dtype"] == "float16"  # auto: float16 when extracted
    assert cfg["datasets"]["ucf_crime"]["version"] == "v1"
    assert cfg["datasets"]["synthetic"]["generator"]["fps"] == 30
    assert "version" not in cfg["datasets"]["synthetic"]  # per-kind defaults only apply to their kind


@pytest.mark.parametrize(
    "path, value, pattern",
    [(("features", "i3d", "batch_size"), "eight", "batch_size"),
     (("methods", "adnet", "kind"), "adnett", "kind"),
     (("datasets", "synthetic", "generator", "n_train_normal"), 0, "n_train_normal"),
     (("features", "i3d", "device"), "gpu0", "device"),
     (("evaluation", "thresholdd"), 0.3, "thresholdd")],
)
def test_bad_value_names_the_key(cfg, path, value, pattern):
    node = cfg
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(WorkflowError, match=pattern):
        validate(cfg, SCHEMA)


def test_cross_key_checks(cfg):
    validate(cfg, SCHEMA)
    bad = copy.deepcopy(cfg)
    bad["methods"]["adnet"]["features"] = "x3d"
    with pytest.raises(vc.ConfigError, match=r"methods.adnet.features = 'x3d'"):
        vc.check(bad)
    bad = copy.deepcopy(cfg)
    bad["dataset"] = "ucf"
    with pytest.raises(vc.ConfigError, match="datasets.ucf"):
        vc.check(bad)


def test_overrides_scope_params(cfg):
    validate(cfg, SCHEMA)
    syn = vc.extractor_params(cfg, "synthetic", "i3d")
    ucf = vc.extractor_params(cfg, "ucf_crime", "i3d")
    assert (syn["crop"], ucf["crop"]) == (64, 224)  # real data keeps the published size
    assert vc.extractor_hash(syn) != vc.extractor_hash(ucf)
    # Runtime-only keys do not change the feature hash.
    assert vc.extractor_hash({**syn, "batch_size": 1, "device": "cpu"}) == vc.extractor_hash(syn)
    # The manifest params never see the generator or the overrides.
    assert set(vc.data_params(cfg, "synthetic")) == {"kind", "root", "strict", "min_frames"}
    assert vc.data_params(cfg, "synthetic")["root"] == "data/synthetic"


@pytest.mark.parametrize("kind", ["adnet", "mlp", "edtcn", "mil", "svdd_cae", "ador", "rtfm", "urdmu", "mgfn"])
def test_schema_defaults_match_method_defaults(cfg, kind):
    """Defaults live in the schema; the classes keep a copy so the package runs without
    Snakemake. This keeps the two from drifting apart."""
    from vadflow.methods import get_method

    cfg["methods"] = {"m": {"kind": kind}}
    validate(cfg, SCHEMA)
    filled = cfg["methods"]["m"]
    defaults = get_method(kind).defaults
    assert {k: filled[k] for k in defaults} == defaults
    assert set(filled) - set(defaults) <= {"kind", "mapping", "train_split", "folds", "repeats"}


def test_unknown_method_key_fails(cfg):
    cfg["methods"]["adnet"]["windwo"] = 32
    with pytest.raises(WorkflowError, match="windwo"):
        validate(cfg, SCHEMA)


def test_frame_caches_scope_params_and_checks(cfg):
    validate(cfg, SCHEMA)
    vc.check(cfg)
    syn, ucf = vc.frames_params(cfg, "synthetic", "cae"), vc.frames_params(cfg, "ucf_crime", "cae")
    assert (syn["size"], syn["color"], syn["train_stride"]) == (64, "gray", 6) and (ucf["size"], ucf["train_stride"]) == (128, 30)
    assert ucf["test"] == "cache" and ucf["train_cap"] == 500
    assert vc.method_features(cfg, "synthetic", "svdd_cae") == "results/synthetic/frames/cae.h5"
    bad = copy.deepcopy(cfg)
    bad["methods"]["svdd_cae"]["frames"] = "cae256"
    with pytest.raises(vc.ConfigError, match=r"methods.svdd_cae.frames = 'cae256'.*known: cae"):
        vc.check(bad)
    bad = copy.deepcopy(cfg)
    bad["datasets"]["synthetic"]["overrides"]["frames"]["cea"] = {"size": 32}
    with pytest.raises(vc.ConfigError, match=r"overrides.frames.cea"):
        vc.check(bad)
    bad = copy.deepcopy(cfg)
    bad["methods"]["svdd_cae"]["features"] = "i3d"
    with pytest.raises(WorkflowError, match="features"):
        validate(bad, SCHEMA)  # a pixel method has no features key
