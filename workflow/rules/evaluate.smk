# Evaluation: every method is judged by the same code on its scores.h5 against labels.h5.
# Resources and environments: data.smk's header.


rule evaluate:
    input:
        manifest=vp.MANIFEST,
        labels=vp.LABELS,
        scores=vp.SCORES,
    output:
        auc=report(vp.AUC, category="Metrics", caption="../report/auc.rst"),
        f1=report(vp.F1, category="Metrics", caption="../report/f1.rst"),
        per_video=vp.PER_VIDEO,
        per_class=vp.PER_CLASS,
        # ROC/PR curves, the videos left out and the method's provenance, for report.html
        details=vp.EVALUATION,
        timelines=report(vp.TIMELINES, category="Timelines", caption="../report/timelines.rst"),
    log:
        "logs/{dataset}/{method}/evaluate.log",
    wildcard_constraints:
        method=vc.evaluated_pattern(config),
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        runtime=30,
        mem_mb=8000,
        cpus_per_task=vc.job_threads,
    params:
        cfg=lambda wc: vc.as_json(config["evaluation"]),
    shell:
        "vadflow evaluate --cfg {params.cfg:q} --method {wildcards.method:q} --manifest {input.manifest:q}"
        " --labels {input.labels:q} --scores {input.scores:q} --auc {output.auc:q} --f1 {output.f1:q}"
        " --per-video {output.per_video:q} --per-class {output.per_class:q} --details {output.details:q}"
        " --timelines {output.timelines:q} 2>&1 | tee {log:q}"


rule summary:
    input:
        auc=lambda wc: vc.per_method(config, vp.AUC, wc.dataset),
        f1=lambda wc: vc.per_method(config, vp.F1, wc.dataset),
        per_class=lambda wc: vc.per_method(config, vp.PER_CLASS, wc.dataset),
        details=lambda wc: vc.per_method(config, vp.EVALUATION, wc.dataset),
        images=lambda wc: vc.per_method(config, vp.TIMELINES, wc.dataset),
        # the methods' further outputs the report shows (outputs.smk), [] where no kind writes one
        thesis=lambda wc: vc.output_files(config, wc.dataset, "thesis"),
        video_level=lambda wc: vc.output_files(config, wc.dataset, "video_level"),
        resources=lambda wc: vc.output_files(config, wc.dataset, "resources"),
        published=vc.published_file(),
    output:
        csv=vp.SUMMARY,
        html=vp.REPORT,
        reproduction=vp.REPRODUCTION,
    log:
        "logs/{dataset}/summary.log",
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        runtime=15,
        mem_mb=4000,
        cpus_per_task=vc.job_threads,
    params:
        info=lambda wc: vc.as_json(vc.dataset_info(config, wc.dataset)),
        protocols=lambda wc: vc.as_json(vc.method_protocols(config, wc.dataset)),
    shell:
        "vadflow summary --dataset {wildcards.dataset} --auc {input.auc:q} --f1 {input.f1:q} --per-class {input.per_class:q}"
        " --details {input.details:q} --images {input.images:q} --thesis {input.thesis:q} --video-level {input.video_level:q}"
        " --resources {input.resources:q} --published {input.published:q} --info {params.info:q} --protocols {params.protocols:q}"
        " --out-reproduction {output.reproduction:q}"
        " --out-csv {output.csv:q} --out-html {output.html:q} 2>&1 | tee {log:q}"


# One published group's headline figures (a seed document's, a paper's) beside ours: builds exactly
# the metric files of the methods its figures name (docs/reproduction.md), e.g.
# `snakemake results/ucf_crime/reproduce_seed002.html`.
rule reproduce:
    input:
        unpack(lambda wc: vc.reproduction_inputs(config, wc.dataset, wc.group)),
    output:
        csv=vp.REPRODUCE_CSV,
        html=vp.REPRODUCE_HTML,
    log:
        "logs/{dataset}/reproduce_{group}.log",
    wildcard_constraints:
        group="[a-z0-9_]+",
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        runtime=10,
        mem_mb=2000,
        cpus_per_task=vc.job_threads,
    params:
        info=lambda wc: vc.as_json(vc.dataset_info(config, wc.dataset)),
        protocols=lambda wc: vc.as_json(vc.method_protocols(config, wc.dataset)),
    shell:
        "vadflow reproduce --dataset {wildcards.dataset:q} --group {wildcards.group:q} --auc {input.auc:q} --f1 {input.f1:q}"
        " --details {input.details:q} --thesis {input.thesis:q} --video-level {input.video_level:q} --info {params.info:q}"
        " --protocols {params.protocols:q} --published {input.published:q} --out-csv {output.csv:q} --out-html {output.html:q}"
        " 2>&1 | tee {log:q}"
