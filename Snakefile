# vadflow: video anomaly detection workflow. Thin by design: config, validation, rules.
# Logic lives in the vadflow package (workflow/vadflow); rules call the `vadflow` CLI.
from snakemake.utils import validate

import vadflow.config as vc

configfile: "config/config.yaml"
validate(config, "workflow/schemas/config.schema.yaml")
vc.check(config)

wildcard_constraints:
    dataset="|".join(config["datasets"]),
    extractor="|".join(config["features"]),
    method="|".join(config["methods"]),
    shard=r"\d+-of-\d+",

include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/detections.smk"
include: "workflow/rules/lstm.smk"
include: "workflow/rules/methods.smk"
include: "workflow/rules/lof.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/realtime.smk"

rule all:
    input: vc.default_targets(config)
