# LOF (specs/lof.md): trained projection heads, shared by every LOF method that names them,
# and the thesis evaluation protocol. The LOF methods themselves train, score and evaluate
# through the generic rules of methods.smk and evaluate.smk (standard protocol).
# Resources and environments: data.smk's header.

import re as _re


# One trained head per (dataset, heads entry); its params are only its own config section.
rule train_head:
    input:
        manifest="results/{dataset}/manifest.csv",
        labels="results/{dataset}/labels.h5",
        features=lambda wc: vc.head_features(config, wc.dataset, wc.head),
        labelled=lambda wc: vc.head_inputs(config, wc.dataset, wc.head),
    output:
        "results/{dataset}/heads/{head}.pt",
    log:
        "logs/{dataset}/heads/{head}.log",
    wildcard_constraints:
        head="|".join(_re.escape(h) for h in config.get("heads") or {}) or "(?!)",
    conda:
        "../../envs/methods.yaml"
    threads: 2
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


# Thesis protocol (§5.1): its own LOF fits on the annotated test videos, snippet-level AUC
# over seeds. Needs no model.pt: it never uses the standard-protocol fit. Any LOF method can
# be asked for it; `protocol: thesis` adds it to `rule all`.
rule thesis_protocol:
    input:
        manifest="results/{dataset}/manifest.csv",
        labels="results/{dataset}/labels.h5",
        features=lambda wc: vc.method_features(config, wc.dataset, wc.method),
        head=lambda wc: vc.method_head(config, wc.dataset, wc.method),
    output:
        report("results/{dataset}/{method}_thesis_auc.csv", category="Metrics"),
    log:
        "logs/{dataset}/{method}/thesis.log",
    conda:
        "../../envs/methods.yaml"
    threads: 2
    resources:
        **vc.gpu_resources(config, "methods"),
        runtime=120,
        mem_mb=16000,
        cpus_per_task=vc.job_threads,
    params:
        cfg=lambda wc: vc.as_json(vc.method_params(config, wc.dataset, wc.method)),
    shell:
        "vadflow thesis --cfg {params.cfg:q} --manifest {input.manifest:q} --labels {input.labels:q}"
        " --features {input.features:q} --head {input.head:q} --threads {threads} --out {output:q} 2>&1 | tee {log:q}"
