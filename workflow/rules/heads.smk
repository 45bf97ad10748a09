# Trained heads (e.g. LOF's projection heads), shared by every method that names them with
# its head key; the methods themselves train, score and evaluate through the generic rules.
# Resources and environments: data.smk's header.

import re as _re


# One trained head per (dataset, heads entry); its params are only its own config section.
rule train_head:
    input:
        manifest=vp.MANIFEST,
        labels=vp.LABELS,
        features=lambda wc: vc.head_features(config, wc.dataset, wc.head),
        labelled=lambda wc: vc.head_inputs(config, wc.dataset, wc.head),
    output:
        vp.HEAD,
    log:
        "logs/{dataset}/heads/{head}.log",
    wildcard_constraints:
        head="|".join(_re.escape(h) for h in config.get("heads") or {}) or "(?!)",
    conda:
        "../../envs/methods.yaml"
    threads: config["job_threads"]
    resources:
        **vc.gpu_resources(config, "heads"),
        runtime=120,
        mem_mb=16000,
        cpus_per_task=vc.job_threads,
    params:
        cfg=lambda wc: vc.as_json(vc.head_params(config, wc.dataset, wc.head)),
    shell:
        "vadflow train-head --cfg {params.cfg:q} --manifest {input.manifest:q} --labels {input.labels:q}"
        " --features {input.features:q} --labelled {input.labelled:q} --threads {threads} --out {output:q} 2>&1 | tee {log:q}"
