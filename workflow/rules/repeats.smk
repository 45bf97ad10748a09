# A repeated method (`repeats: N`) runs N times through train, score and evaluate as
# `<method>@r<i>` (seeds seed .. seed+N-1); this rule joins the runs' metric files into the
# method's own, with their mean (the headline) and std. Resources and environments: data.smk's header.


rule repeats:
    input:
        auc=lambda wc: vc.repeat_files(config, vp.AUC, wc.dataset, wc.method),
        f1=lambda wc: vc.repeat_files(config, vp.F1, wc.dataset, wc.method),
        per_video=lambda wc: vc.repeat_files(config, vp.PER_VIDEO, wc.dataset, wc.method),
        per_class=lambda wc: vc.repeat_files(config, vp.PER_CLASS, wc.dataset, wc.method),
        details=lambda wc: vc.repeat_files(config, vp.EVALUATION, wc.dataset, wc.method),
        timelines=lambda wc: vc.repeat_files(config, vp.TIMELINES, wc.dataset, wc.method),
    output:
        auc=vp.AUC,
        f1=vp.F1,
        per_video=vp.PER_VIDEO,
        per_class=vp.PER_CLASS,
        details=vp.EVALUATION,
        timelines=vp.TIMELINES,
    log:
        "logs/{dataset}/{method}/repeats.log",
    wildcard_constraints:
        method=vc.repeated_pattern(config),
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        runtime=10,
        mem_mb=2000,
        cpus_per_task=vc.job_threads,
    params:
        seeds=lambda wc: " ".join(str(s) for s in vc.repeat_seeds(config, wc.dataset, wc.method)),
    shell:
        "vadflow repeats --method {wildcards.method:q} --seeds {params.seeds} --auc {input.auc:q} --f1 {input.f1:q}"
        " --per-video {input.per_video:q} --per-class {input.per_class:q} --details {input.details:q}"
        " --timelines {input.timelines:q} --out-auc {output.auc:q} --out-f1 {output.f1:q} --out-per-video {output.per_video:q}"
        " --out-per-class {output.per_class:q} --out-details {output.details:q} --out-timelines {output.timelines:q}"
        " 2>&1 | tee {log:q}"
