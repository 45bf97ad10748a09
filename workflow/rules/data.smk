# Data stage: the synthetic generator, then manifest.csv + labels.h5 for any dataset.

rule synthesize:
    output: directory("data/{dataset}")
    wildcard_constraints: dataset="|".join(vc.datasets_of_kind(config, "synthetic")) or "^$"
    params: cfg=lambda wc: vc.as_json(vc.generator_params(config, wc.dataset))
    log: "logs/{dataset}/synthesize.log"
    shell: "vadflow synth --cfg {params.cfg:q} --out {output:q} 2>&1 | tee {log:q}"

rule manifest:
    input: lambda wc: vc.dataset_inputs(config, wc.dataset)
    output:
        manifest="results/{dataset}/manifest.csv",
        labels="results/{dataset}/labels.h5",
    params: cfg=lambda wc: vc.as_json(vc.data_params(config, wc.dataset))
    log: "logs/{dataset}/manifest.log"
    shell: "vadflow manifest --cfg {params.cfg:q} --manifest {output.manifest:q} --labels {output.labels:q} 2>&1 | tee {log:q}"
