# Method stage, written once over {method}: a method's `kind` picks its implementation and its
# config section is its only params, so editing methods.<name> reruns only that method.
# Resources and environments: data.smk's header.


rule train:
    input:
        manifest="results/{dataset}/manifest.csv",
        labels="results/{dataset}/labels.h5",
        features=lambda wc: vc.method_features(config, wc.dataset, wc.method),
        # a trained projection head (LOF with `head: <a heads entry>`), else nothing
        head=lambda wc: vc.method_head(config, wc.dataset, wc.method),
        # object detections on the clips' centre frames (ADOR: `detections: <a detectors entry>`), else nothing
        detections=lambda wc: vc.method_detections(config, wc.dataset, wc.method),
        # further feature files of the method's rows (the realtime flow stream), else nothing
        extra=lambda wc: vc.method_extra_features(config, wc.dataset, wc.method),
    output:
        "results/{dataset}/{method}/model.pt",
    log:
        "logs/{dataset}/{method}/train.log",
    conda:
        "../../envs/methods.yaml"
    threads: 2
    resources:
        **vc.gpu_resources(config, "methods"),
        runtime=240,
        mem_mb=16000,
        cpus_per_task=vc.job_threads,
    params:
        cfg=lambda wc: vc.as_json(vc.method_params(config, wc.dataset, wc.method)),
    shell:
        "vadflow train --cfg {params.cfg:q} --manifest {input.manifest:q} --labels {input.labels:q}"
        " --features {input.features:q} --head {input.head:q} --detections {input.detections:q} --extra-features {input.extra:q}"
        " --threads {threads} --out {output:q} 2>&1 | tee {log:q}"


rule score:
    input:
        model="results/{dataset}/{method}/model.pt",
        manifest="results/{dataset}/manifest.csv",
        labels="results/{dataset}/labels.h5",
        features=lambda wc: vc.method_features(config, wc.dataset, wc.method),
        detections=lambda wc: vc.method_detections(config, wc.dataset, wc.method),
        extra=lambda wc: vc.method_extra_features(config, wc.dataset, wc.method),
    output:
        "results/{dataset}/{method}/scores.h5",
    log:
        "logs/{dataset}/{method}/score.log",
    conda:
        "../../envs/methods.yaml"
    threads: 2
    resources:
        **vc.gpu_resources(config, "methods"),
        runtime=60,
        mem_mb=8000,
        cpus_per_task=vc.job_threads,
    params:
        cfg=lambda wc: vc.as_json(vc.method_params(config, wc.dataset, wc.method)),
    shell:
        "vadflow score --cfg {params.cfg:q} --model {input.model:q} --manifest {input.manifest:q} --labels {input.labels:q}"
        " --features {input.features:q} --detections {input.detections:q} --extra-features {input.extra:q} --threads {threads}"
        " --out {output:q} 2>&1 | tee {log:q}"
