# Data stage: the synthetic generator, then manifest.csv + labels.h5 for any dataset.
#
# How every rule runs (the same in every rules file; copy it into a new rule):
# - `shell: "vadflow <subcommand> ..."`: `vadflow` is a shell function (Snakefile's
#   shell.prefix, vadflow.config.shell_prefix) that runs the CLI with the interpreter running
#   Snakemake, or with the rule's conda environment's python under `--sdm conda`; a venv
#   need not be activated.
# - `conda:` one of four environments by what the job imports: envs/data.yaml (videos,
#   manifest, frame cache, detections without torch), envs/features.yaml (torch models that
#   make features or detections), envs/methods.yaml (train/score), envs/report.yaml
#   (evaluate/summary).
# - `threads:` and `resources: runtime=<minutes>, mem_mb=<MB>, cpus_per_task=vc.job_threads`
#   sized for real UCF-Crime; a cluster profile overrides them per rule (profiles/slurm).
#   A job that can run torch on a GPU adds `**vc.gpu_resources(config, "<features|methods|heads>")`:
#   a `gpu` resource exists only when that config section asks for `device: cuda`.


rule synthesize:
    output:
        directory("data/{dataset}"),
    log:
        "logs/{dataset}/synthesize.log",
    wildcard_constraints:
        dataset="|".join(vc.datasets_of_kind(config, "synthetic")) or "^$",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        runtime=30,
        mem_mb=2000,
        cpus_per_task=vc.job_threads,
    params:
        cfg=lambda wc: vc.as_json(vc.generator_params(config, wc.dataset)),
    shell:
        "vadflow synth --cfg {params.cfg:q} --out {output:q} 2>&1 | tee {log:q}"


rule manifest:
    input:
        lambda wc: vc.dataset_inputs(config, wc.dataset),
    output:
        manifest=vp.MANIFEST,
        labels=vp.LABELS,
    log:
        "logs/{dataset}/manifest.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        runtime=120,
        mem_mb=4000,
        cpus_per_task=vc.job_threads,
    params:
        cfg=lambda wc: vc.as_json(vc.data_params(config, wc.dataset)),
    shell:
        "vadflow manifest --cfg {params.cfg:q} --manifest {output.manifest:q} --labels {output.labels:q} 2>&1 | tee {log:q}"
