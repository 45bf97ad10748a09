# Real-time two-stream method (specs/realtime.md): it trains, scores and is evaluated through the
# generic rules (methods.smk, evaluate.smk) like every method. These two rules add what only it
# has: video-level decisions from its sigmoidal anomaly score (§7-§8), and its cost (§10).
# Resources and environments: data.smk's header.

import re as _re


rule realtime_video_level:
    input:
        manifest="results/{dataset}/manifest.csv",
        scores="results/{dataset}/{method}/scores.h5",
    output:
        summary=report("results/{dataset}/{method}_vl.csv", category="Metrics"),
        videos="results/{dataset}/{method}/video_level.csv",
    log:
        "logs/{dataset}/{method}/video_level.log",
    wildcard_constraints:
        method="|".join(_re.escape(m) for m in vc.realtime_methods(config)) or "(?!)",
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


# Parameters, FLOPs and frames/s per stage at batch 1 on the first test video's frames: the
# online pipeline of `vadflow watch`, timed stage by stage. Machine-dependent by nature.
rule realtime_resources:
    input:
        model="results/{dataset}/{method}/model.pt",
        manifest="results/{dataset}/manifest.csv",
    output:
        "results/{dataset}/{method}/resources.json",
    log:
        "logs/{dataset}/{method}/resources.log",
    wildcard_constraints:
        method="|".join(_re.escape(m) for m in vc.realtime_methods(config)) or "(?!)",
    conda:
        "../../envs/features.yaml"
    threads: 2
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
