# Further result files that some kinds write (Method.outputs), one rule per output name, each
# written once over {method} and constrained to the methods whose kind declares that output.
# Paths: vadflow.paths.METHOD_OUTPUTS. Resources and environments: data.smk's header.


# ``thesis``: the kind's own evaluation protocol (LOF: its own fits on the annotated test videos,
# snippet-level AUC over seeds). Needs no model.pt: it never uses the standard-protocol fit.
rule thesis_protocol:
    input:
        manifest=vp.MANIFEST,
        labels=vp.LABELS,
        features=lambda wc: vc.method_features(config, wc.dataset, wc.method),
        head=lambda wc: vc.method_head(config, wc.dataset, wc.method),
    output:
        report(vp.METHOD_OUTPUTS["thesis"]["table"], category="Metrics"),
    log:
        "logs/{dataset}/{method}/thesis.log",
    wildcard_constraints:
        method=vc.methods_pattern(config, "thesis"),
    conda:
        "../../envs/methods.yaml"
    threads: config["job_threads"]
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


# ``video_level``: video-level decisions from the sigmoidal anomaly score of the frame scores
# (docs/methods/realtime.md §7-§8).
rule video_level:
    input:
        manifest=vp.MANIFEST,
        scores=vp.SCORES,
    output:
        summary=report(vp.METHOD_OUTPUTS["video_level"]["summary"], category="Metrics"),
        videos=vp.METHOD_OUTPUTS["video_level"]["videos"],
    log:
        "logs/{dataset}/{method}/video_level.log",
    wildcard_constraints:
        method=vc.methods_pattern(config, "video_level"),
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        runtime=5,
        mem_mb=1000,
        cpus_per_task=vc.job_threads,
    params:
        cfg=lambda wc: vc.as_json(vc.method_params(config, wc.dataset, wc.method)),
    shell:
        "vadflow video-level --cfg {params.cfg:q} --manifest {input.manifest:q} --scores {input.scores:q}"
        " --out {output.summary:q} --per-video {output.videos:q} 2>&1 | tee {log:q}"


# ``resources``: parameters, FLOPs and frames/s per stage at batch 1 on the first test video's
# frames: the online pipeline of `vadflow watch`, timed stage by stage. Machine-dependent by nature.
rule resources:
    input:
        model=vp.MODEL,
        manifest=vp.MANIFEST,
    output:
        vp.METHOD_OUTPUTS["resources"]["json"],
    log:
        "logs/{dataset}/{method}/resources.log",
    wildcard_constraints:
        method=vc.methods_pattern(config, "resources"),
    conda:
        "../../envs/features.yaml"
    threads: config["job_threads"]
    resources:
        **vc.gpu_resources(config, "methods"),
        runtime=30,
        mem_mb=8000,
        cpus_per_task=vc.job_threads,
    params:
        root=lambda wc: vc.dataset_root(config, wc.dataset),
    shell:
        "vadflow resources --model {input.model:q} --manifest {input.manifest:q} --root {params.root:q}"
        " --threads {threads} --out {output:q} 2>&1 | tee {log:q}"
