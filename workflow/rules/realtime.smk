# Real-time two-stream method (specs/realtime.md): it trains, scores and is evaluated through the
# generic rules (methods.smk, evaluate.smk) like every method. These two rules add what only it
# has: video-level decisions from its sigmoidal anomaly score (§7-§8), and its cost (§10).

import re as _re

rule realtime_video_level:
    input:
        manifest="results/{dataset}/manifest.csv",
        scores="results/{dataset}/{method}/scores.h5",
    output:
        summary=report("results/{dataset}/{method}_vl.csv", category="Metrics"),
        videos="results/{dataset}/{method}/video_level.csv",
    wildcard_constraints:
        method="|".join(_re.escape(m) for m in vc.realtime_methods(config)) or "(?!)",
    params: cfg=lambda wc: vc.as_json(vc.method_params(config, wc.dataset, wc.method))
    threads: 1
    resources: runtime=5, mem_mb=1000
    log: "logs/{dataset}/{method}/video_level.log"
    shell:
        "vadflow video-level --cfg {params.cfg:q} --manifest {input.manifest:q} --scores {input.scores:q}"
        " --out {output.summary:q} --per-video {output.videos:q} 2>&1 | tee {log:q}"

# Parameters, FLOPs and frames/s per stage at batch 1 on the first test video's frames: the
# online pipeline of `vadflow watch`, timed stage by stage. Machine-dependent by nature.
rule realtime_resources:
    input:
        model="results/{dataset}/{method}/model.pt",
        manifest="results/{dataset}/manifest.csv",
    output: "results/{dataset}/{method}/resources.json"
    wildcard_constraints:
        method="|".join(_re.escape(m) for m in vc.realtime_methods(config)) or "(?!)",
    params: root=lambda wc: vc.dataset_root(config, wc.dataset)
    threads: 2
    resources: runtime=10, mem_mb=4000
    log: "logs/{dataset}/{method}/resources.log"
    shell:
        "vadflow resources --model {input.model:q} --manifest {input.manifest:q} --root {params.root:q}"
        " --threads {threads} --out {output:q} 2>&1 | tee {log:q}"
