# Detection stage (docs/methods/ador.md §3): objects on every clip's centre frame of one extractor's
# clip grid (`detectors.<name>.features`), one file per (dataset, detector). Its params are only
# that detector's section (+ dataset overrides) and the clip grid, so editing a detector reruns
# it and the methods reading it, nothing else. Methods read the file through vadflow.stores.detections.

import re as _re


rule detect:
    input:
        manifest=vp.MANIFEST,
        # a precomputed detector's imported file or folder, else nothing (the videos)
        source=lambda wc: vc.detector_inputs(config, wc.dataset, wc.detector),
    output:
        vp.DETECTIONS,
    log:
        "logs/{dataset}/detections/{detector}.log",
    wildcard_constraints:
        detector="|".join(_re.escape(d) for d in config.get("detectors") or {}) or "(?!)",
    conda:
        "../../envs/features.yaml"
    threads: config["job_threads"]
    resources:
        **vc.gpu_resources(config, "detectors"),
        runtime=120,
        mem_mb=8000,
        cpus_per_task=vc.job_threads,
    params:
        cfg=lambda wc: vc.as_json(vc.detector_params(config, wc.dataset, wc.detector)),
        root=lambda wc: vc.dataset_root(config, wc.dataset),
    shell:
        "vadflow detect --cfg {params.cfg:q} --root {params.root:q} --manifest {input.manifest:q}"
        " --threads {threads} --out {output:q} 2>&1 | tee {log:q}"
