# Evaluation: every method is judged by the same code on its scores.h5 against labels.h5.
# Resources and environments: data.smk's header.


rule evaluate:
    input:
        manifest="results/{dataset}/manifest.csv",
        labels="results/{dataset}/labels.h5",
        scores="results/{dataset}/{method}/scores.h5",
    output:
        auc=report("results/{dataset}/{method}_auc.csv", category="Metrics", caption="../report/auc.rst"),
        f1=report("results/{dataset}/{method}_f1.csv", category="Metrics", caption="../report/f1.rst"),
        per_video="results/{dataset}/{method}/per_video.csv",
        per_class="results/{dataset}/{method}/per_class.csv",
        # ROC/PR curves, the videos left out and the method's provenance, for report.html
        details="results/{dataset}/{method}/evaluation.json",
        timelines=report("results/{dataset}/{method}/timelines.png", category="Timelines", caption="../report/timelines.rst"),
    log:
        "logs/{dataset}/{method}/evaluate.log",
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
        auc=lambda wc: vc.per_method(config, "results/{dataset}/{method}_auc.csv", wc.dataset),
        f1=lambda wc: vc.per_method(config, "results/{dataset}/{method}_f1.csv", wc.dataset),
        per_class=lambda wc: vc.per_method(config, "results/{dataset}/{method}/per_class.csv", wc.dataset),
        details=lambda wc: vc.per_method(config, "results/{dataset}/{method}/evaluation.json", wc.dataset),
        images=lambda wc: vc.per_method(config, "results/{dataset}/{method}/timelines.png", wc.dataset),
        thesis=lambda wc: vc.thesis_targets(config, wc.dataset),
        # realtime methods: SAS video-level metrics and resources.json
        realtime=lambda wc: vc.realtime_report_files(config, wc.dataset),
    output:
        csv="results/{dataset}/summary.csv",
        html="results/{dataset}/report.html",
    log:
        "logs/{dataset}/summary.log",
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        runtime=15,
        mem_mb=4000,
        cpus_per_task=vc.job_threads,
    shell:
        "vadflow summary --dataset {wildcards.dataset} --auc {input.auc:q} --f1 {input.f1:q} --per-class {input.per_class:q}"
        " --details {input.details:q} --images {input.images:q} --thesis {input.thesis:q} --realtime {input.realtime:q}"
        " --out-csv {output.csv:q} --out-html {output.html:q} 2>&1 | tee {log:q}"
