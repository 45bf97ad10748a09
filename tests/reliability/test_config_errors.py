"""Gap 2: every bad config value fails before any job runs, with one line naming the key path,
the bad value and what is allowed (issue 16)."""
from __future__ import annotations

import copy

import pytest
import yaml

import vadflow.config as vc
from conftest import ROOT

from .helpers import snakemake, write_config


@pytest.fixture()
def cfg():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def error_of(cfg) -> str:
    with pytest.raises(vc.ConfigError) as err:
        vc.validate(cfg)
    msg = str(err.value)
    assert "\n" not in msg, f"not one line: {msg!r}"
    return msg


def test_default_configs_pass(cfg):
    vc.validate(copy.deepcopy(cfg))
    real = yaml.safe_load((ROOT / "config" / "ucf_crime.yaml").read_text())
    vc.validate(vc.deep_merge(cfg, real))  # as `--configfile config/ucf_crime.yaml` merges it


def test_bad_value_in_a_kind_branch_names_that_key_not_its_siblings(cfg):
    """The issue's example: jsonschema's first error listed six unevaluated keys."""
    cfg["methods"]["adnet"]["window"] = -3
    assert error_of(cfg) == ("methods.adnet.window = -3 is not allowed: expected an integer >= 0 "
                             "(clips per window (stride window/2); 0 = whole video)")


@pytest.mark.parametrize("path, value, expected", [
    # wrong type
    (("features", "i3d", "batch_size"), "eight", "features.i3d.batch_size = 'eight' is not allowed: expected an integer >= 1"),
    (("methods", "edtcn", "enc_channels"), 64, "methods.edtcn.enc_channels = 64 is not allowed: expected a list of at least 1"),
    # out of range
    (("methods", "mlp", "dropout"), 1.5, "methods.mlp.dropout = 1.5 is not allowed: expected a number >= 0 and <= 1"),
    (("evaluation", "f1_k"), [10, 200], "evaluation.f1_k[1] = 200 is not allowed: expected a number > 0 and <= 100"),
    (("features", "i3d", "crop"), 0, "features.i3d.crop = 0 is not allowed: expected an integer >= 1 or a list of 2"),
    # unknown key (a near miss is suggested; the kind's keys are listed)
    (("methods", "adnet", "windw"), 8, "methods.adnet: unknown key 'windw' (did you mean 'window'?) for kind adnet; allowed keys: "),
    (("methods", "mil", "stages"), 3, "methods.mil: unknown key 'stages' for kind mil; allowed keys: batch_anomalous"),
    (("datasets", "ucf_crime", "verson"), "v2", "datasets.ucf_crime: unknown key 'verson' (did you mean 'version'?) for kind ucf_crime"),
    (("evaluation", "thresholdd"), 0.3, "evaluation: unknown key 'thresholdd' (did you mean 'threshold'?); allowed keys: alarm_threshold"),
    # unknown kind
    (("methods", "adnet", "kind"), "adnot", "methods.adnet.kind = 'adnot' is not allowed: expected one of 'adnet', 'mlp', 'edtcn'"),
    (("datasets", "ucf_crime", "kind"), "ucf", "datasets.ucf_crime.kind = 'ucf' is not allowed: expected one of 'synthetic', 'ucf_crime'"),
    # names end up in paths, wildcards and job arguments
    (("methods", "a;touch X"), {"kind": "mlp", "features": "i3d"}, "methods: the name 'a;touch X' is not allowed: expected a string matching"),
])
def test_schema_errors_name_key_value_and_allowed(cfg, path, value, expected):
    node = cfg
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert error_of(cfg).startswith(expected)


def test_unknown_key_lists_exactly_the_kinds_keys(cfg):
    cfg["methods"]["mlp"]["layers"] = 3  # an adnet key, not an mlp one
    msg = error_of(cfg)
    allowed = msg.split("allowed keys: ")[1].split(", ")
    assert "layers" not in allowed and "stages" not in allowed
    assert {"hidden", "dropout", "window", "kind", "seed", "train_split"} <= set(allowed)


def test_required_key_names_the_branch(cfg):
    cfg["features"]["i3d"]["source"] = "import"
    assert error_of(cfg) == "features.i3d.format is missing: it is required for source import"


def test_overrides_are_validated_and_named(cfg):
    """datasets.<ds>.overrides.<section>.<name> are free-form objects in the schema: each is
    validated merged over its section, and a bad value is reported under the override."""
    over = cfg["datasets"]["synthetic"]["overrides"]["methods"]
    bad = copy.deepcopy(cfg)
    bad["datasets"]["synthetic"]["overrides"]["methods"]["adnet"]["window"] = -3
    assert error_of(bad).startswith("datasets.synthetic.overrides.methods.adnet.window = -3 is not allowed: expected an integer >= 0")
    bad = copy.deepcopy(cfg)
    bad["datasets"]["synthetic"]["overrides"]["methods"]["mlp"]["hiden"] = [8, 8]
    assert error_of(bad).startswith("datasets.synthetic.overrides.methods.mlp: unknown key 'hiden' (did you mean 'hidden'?)")
    bad = copy.deepcopy(cfg)
    bad["datasets"]["synthetic"]["overrides"]["features"]["i3d"]["dtype"] = "float64"
    assert error_of(bad).startswith("datasets.synthetic.overrides.features.i3d.dtype = 'float64' is not allowed: expected one of")
    bad = copy.deepcopy(cfg)
    bad["datasets"]["synthetic"]["overrides"]["methods"]["adnett"] = {}
    assert error_of(bad).startswith("datasets.synthetic.overrides.methods.adnett: overrides methods.adnett, which `methods:` does not define")
    assert "adnet" in over  # the default config overrides adnet: the checks above ran on real overrides


@pytest.mark.parametrize("settings, where, expected", [
    # The case; Formula 10 gives 2 layers for W=4, the thesis's Table 4.3 runs up to 2 more.
    ({"window": 4, "layers": 10}, "methods.adnet.layers = 10",
     "too deep for window 4 (kernel 3): layers 2..9 have dilation 4..512, so their convs reach past the window and see only "
     "padding (Formula 10: L = ceil(log2(W/floor(K/2))) = 2); allowed: layers <= 4"),
    ({"window": 64, "layers": 9}, "methods.adnet.layers = 9", "allowed: layers <= 8"),
    ({"window": 6, "kernel": 4}, "methods.adnet.kernel = 4", "allowed: an odd integer >= 3"),
    ({"window": 7}, "methods.adnet.window = 7", "allowed: 0 (whole video) or a positive even number"),
])
def test_adnet_window_rules(cfg, settings, where, expected):
    cfg["methods"]["adnet"].update(settings)
    cfg["datasets"]["synthetic"]["overrides"]["methods"]["adnet"] = {}
    msg = error_of(cfg)
    assert msg.startswith(where + ": ") and expected in msg


def test_adnet_window_rules_accept_the_thesis_grid(cfg):
    """Tables 4.2/4.3 (W32-L5, W64-L4..L8, W128-L5..L9) and window 0 (whole video) stay valid."""
    cfg["datasets"]["synthetic"]["overrides"]["methods"]["adnet"] = {}
    for w, layers in [(32, 5), (64, 4), (64, 8), (128, 9), (0, 12), (4, 4)]:
        cfg["methods"]["adnet"].update(window=w, layers=layers)
        vc.validate(copy.deepcopy(cfg))


def test_window_rule_names_the_override_it_comes_from(cfg):
    cfg["datasets"]["synthetic"]["overrides"]["methods"]["adnet"].update(window=4, layers=10)
    assert error_of(cfg).startswith("datasets.synthetic.overrides.methods.adnet.layers = 10: too deep for window 4")
    cfg["datasets"]["synthetic"]["overrides"]["methods"]["adnet"] = {"window": 2}  # base layers 6
    assert error_of(cfg).startswith("methods.adnet.layers = 6: too deep for window 2")


def test_edtcn_window_must_halve_per_level(cfg):
    cfg["datasets"]["synthetic"]["overrides"]["methods"]["edtcn"] = {"window": 10}  # 2 levels: multiple of 4
    assert error_of(cfg) == ("datasets.synthetic.overrides.methods.edtcn.window = 10: windows overlap by half and the pooling "
                             "levels halve the width, so it must divide by 4; allowed: 0 (whole video) or a positive multiple of 4")


# --- before any job runs: the Snakefile (schema and rules) and the DAG (paths) ---------------------------

TINY = {
    "dataset": "synthetic",
    "datasets": {"synthetic": {"kind": "synthetic", "generator": {"n_train_normal": 2, "n_train_anomalous": 2,
                                                                  "n_test_normal": 1, "n_test_anomalous": 1}}},
    "features": {"i3d": {"backbone": "i3d", "weights": "random"}},
    "methods": {"adnet": {"kind": "adnet", "features": "i3d", "window": 8, "layers": 3}},
}


def dry_run_error(tmp_path, cfg, *targets: str) -> str:
    write_config(tmp_path, cfg)
    res = snakemake(tmp_path, "-n", *targets, check=False)
    out = res.stdout + res.stderr
    assert res.returncode != 0, out[-2000:]
    assert not (tmp_path / "results").exists() and not (tmp_path / "data").exists()
    return out


@pytest.mark.e2e
@pytest.mark.parametrize("edit, line", [
    (lambda c: c["methods"]["adnet"].update(window=-3),
     "methods.adnet.window = -3 is not allowed: expected an integer >= 0 (clips per window (stride window/2); 0 = whole video)"),
    (lambda c: c["methods"]["adnet"].update(window=4, layers=10),
     "methods.adnet.layers = 10: too deep for window 4 (kernel 3): layers 2..9 have dilation 4..512"),
    # the weights file is checked when the DAG is built, not inside the extraction job
    (lambda c: c["features"]["i3d"].update(weights="nowhere/model_rgb.pth"),
     "features.i3d.weights = 'nowhere/model_rgb.pth': no such file (relative paths start in the working directory"),
])
def test_dry_run_fails_with_the_line(tmp_path, edit, line):
    cfg = copy.deepcopy(TINY)
    edit(cfg)
    lines = [ln for ln in dry_run_error(tmp_path, cfg).splitlines() if line in ln]
    assert len(lines) == 1 and ("expected" in lines[0] or "allowed:" in lines[0]), lines


@pytest.mark.e2e
def test_missing_dataset_root_fails_when_the_dag_is_built(tmp_path):
    cfg = copy.deepcopy(TINY)
    cfg["datasets"]["ucf_crime"] = {"kind": "ucf_crime", "root": "data/nowhere"}
    out = dry_run_error(tmp_path, cfg, "results/ucf_crime/manifest.csv")
    assert "datasets.ucf_crime.root = 'data/nowhere': no such folder (relative paths start in the working directory" in out
