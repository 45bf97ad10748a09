# vadflow: video anomaly detection workflow. Thin by design: config, validation, rules.
# Logic lives in the vadflow package (workflow/vadflow); rules call the `vadflow` CLI.
import vadflow.config as vc
import vadflow.paths as vp


configfile: "config/config.yaml"


# Schema (defaults filled in), per-dataset overrides and cross-key checks: one line naming the key on error.
vc.validate(config, f"{workflow.basedir}/workflow/schemas/config.schema.yaml")

# Rules call `vadflow ...`: a shell function running this package's CLI (vadflow.config.shell_prefix).
shell.prefix(vc.shell_prefix(workflow.deployment_settings.deployment_method))


wildcard_constraints:
    dataset="|".join(config["datasets"]),
    extractor="|".join(config["features"]),
    method=vc.method_wildcard(config),
    shard=r"\d+-of-\d+",


include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/frames.smk"
include: "workflow/rules/detections.smk"
include: "workflow/rules/lstm.smk"
include: "workflow/rules/methods.smk"
include: "workflow/rules/heads.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/repeats.smk"
include: "workflow/rules/outputs.smk"


rule all:
    default_target: True
    input:
        vc.default_targets(config),
