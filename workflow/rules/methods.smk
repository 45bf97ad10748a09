# Method stage, written once over {method}: a method's `kind` picks its implementation and its
# config section is its only params, so editing methods.<name> reruns only that method. What a
# method reads (features, a frame cache, detections, a trained head) is asked of its kind
# (vc.method_inputs). Resources and environments: data.smk's header.


rule train:
    input:
        # features: the main extractor's file first (a pixel method: its frame cache); detections, head: [] when none
        unpack(lambda wc: vc.method_inputs(config, wc.dataset, wc.method)),
        manifest=vp.MANIFEST,
        labels=vp.LABELS,
    output:
        vp.MODEL,
    log:
        "logs/{dataset}/{method}/train.log",
    wildcard_constraints:
        method=vc.evaluated_pattern(config),
    conda:
        "../../envs/methods.yaml"
    threads: config["job_threads"]
    resources:
        **vc.gpu_resources(config, "methods"),
        runtime=240,
        mem_mb=16000,
        cpus_per_task=vc.job_threads,
    params:
        cfg=lambda wc: vc.as_json(vc.method_params(config, wc.dataset, wc.method)),
    shell:
        "vadflow train --cfg {params.cfg:q} --manifest {input.manifest:q} --labels {input.labels:q}"
        " --features {input.features:q} --head {input.head:q} --detections {input.detections:q}"
        " --threads {threads} --out {output:q} 2>&1 | tee {log:q}"


rule score:
    input:
        unpack(lambda wc: vc.method_inputs(config, wc.dataset, wc.method)),
        model=vp.MODEL,
        manifest=vp.MANIFEST,
        labels=vp.LABELS,
    output:
        vp.SCORES,
    log:
        "logs/{dataset}/{method}/score.log",
    wildcard_constraints:
        method=vc.evaluated_pattern(config),
    conda:
        "../../envs/methods.yaml"
    threads: config["job_threads"]
    resources:
        **vc.gpu_resources(config, "methods"),
        runtime=60,
        mem_mb=8000,
        cpus_per_task=vc.job_threads,
    params:
        cfg=lambda wc: vc.as_json(vc.method_params(config, wc.dataset, wc.method)),
    shell:
        "vadflow score --cfg {params.cfg:q} --model {input.model:q} --manifest {input.manifest:q} --labels {input.labels:q}"
        " --features {input.features:q} --detections {input.detections:q} --threads {threads}"
        " --out {output:q} 2>&1 | tee {log:q}"
