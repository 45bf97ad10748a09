"""What a method's scores were made from, recorded in its ``scores.h5`` and shown in report.html:
the feature file's origin (extractor, backbone weights, config hash), the method's config
hash and the versions of the packages that computed them."""
from __future__ import annotations

import json
import platform
from importlib import metadata
from typing import Any, Mapping

from vadflow.io import config_hash

#: the packages whose versions can change the numbers (BLAS kernels, defaults, RNG streams).
PACKAGES = ("vadflow", "torch", "numpy", "scipy", "scikit-learn", "h5py", "pandas")

#: the weights attr of features computed by a seeded, untrained backbone.
RANDOM_INIT = "random-init"


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def score_attrs(cfg: Mapping[str, Any], feature_attrs: Mapping[str, Any],
                detection_attrs: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The provenance attrs of a scores file, from the method's config and its feature file's attrs.

    ``feature_weights`` is the backbone's: for a feature derived from another one (an lstm
    extractor over frame features) the weights of the frames' backbone, which decide whether
    the numbers mean anything against published ones. ``detections``: the detector behind a
    method's objects, with its caveat (a person-only or class-less detector is not the paper's).
    """
    from vadflow.detection import describe

    weights = str(feature_attrs.get("frames_weights", feature_attrs.get("weights", "unknown")))
    return {
        "features": str(feature_attrs.get("extractor", "unknown")),
        "backbone": str(feature_attrs.get("backbone", "unknown")),
        "feature_weights": weights,
        "feature_source": str(feature_attrs.get("source", "extract")),
        "feature_config_hash": str(feature_attrs.get("config_hash", "unknown")),
        "config_hash": config_hash(dict(cfg)),
        "versions": json.dumps(package_versions(), sort_keys=True),
        **({"detections": f"{detection_attrs.get('detector', '?')}: {describe(str(detection_attrs.get('backend', '?')))}"}
           if detection_attrs is not None else {}),
        # several feature sets joined per snippet (features/concat.py): which, and how their lengths were aligned
        **({"feature_alignment": str(feature_attrs["alignment"])} if "alignment" in feature_attrs else {}),
    }
