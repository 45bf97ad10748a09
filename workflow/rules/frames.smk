# Frame cache (decode stage): uint8 frames per video for pixel methods (svdd_cae), one file per
# (dataset, frames entry). Finished videos persist in frames/{frames}/videos/, so a rerun (new
# videos, a killed job, an edited test_stride) decodes only what is missing or changed.
# Resources and environments: data.smk's header.

import re as _re


rule frames:
    input:
        manifest=vp.MANIFEST,
    output:
        vp.FRAMES,
    log:
        "logs/{dataset}/frames/{frames}.log",
    wildcard_constraints:
        frames="|".join(_re.escape(f) for f in config.get("frames") or {}) or "(?!)",
    conda:
        "../../envs/data.yaml"
    threads: config["job_threads"]
    resources:
        runtime=240,
        mem_mb=4000,
        cpus_per_task=vc.job_threads,
    params:
        cfg=lambda wc: vc.as_json(vc.frames_params(config, wc.dataset, wc.frames)),
        root=lambda wc: vc.dataset_root(config, wc.dataset),
        cache=vp.FRAMES_CACHE,
    shell:
        "vadflow frames --cfg {params.cfg:q} --root {params.root:q} --manifest {input.manifest:q} --cache {params.cache:q}"
        " --threads {threads} --out {output:q} 2>&1 | tee {log:q}"
