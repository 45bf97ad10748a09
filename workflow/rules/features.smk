# Feature stage: shards of videos extracted in parallel (GPU jobs on a cluster), then merged.
# Each video's features persist in features/{extractor}/videos/ (the per-video cache), so a
# rerun (new videos, a killed job) computes only the videos that are not there yet; a shard's
# output is the receipt listing what it holds. Resources and environments: data.smk's header.


rule extract_features:
    input:
        manifest=vp.MANIFEST,
    output:
        temp(vp.FEATURE_SHARD),
    log:
        "logs/{dataset}/features/{extractor}/shard-{shard}.log",
    conda:
        "../../envs/features.yaml"
    threads: config["job_threads"]
    resources:
        **vc.gpu_resources(config, "features"),
        runtime=240,
        mem_mb=16000,
        cpus_per_task=vc.job_threads,
    params:
        cfg=lambda wc: vc.as_json(vc.extractor_params(config, wc.dataset, wc.extractor)),
        root=lambda wc: vc.dataset_root(config, wc.dataset),
        cache=vp.FEATURE_CACHE,
    shell:
        "vadflow extract --cfg {params.cfg:q} --root {params.root:q} --manifest {input.manifest:q}"
        " --shard {wildcards.shard} --threads {threads} --cache {params.cache:q} --out {output:q} 2>&1 | tee {log:q}"


# The one rule writing features/{extractor}.h5: it merges the shard receipts, or, for an
# extractor with `source: import` (per dataset, overrides included), imports public feature
# files from the manifest and the source folder (no shard job runs then), or derives an lstm
# extractor's clip features (torch, hence the features environment).
rule merge_features:
    input:
        lambda wc: vc.feature_inputs(config, wc.dataset, wc.extractor),
    output:
        vp.FEATURES,
    log:
        "logs/{dataset}/features/{extractor}/merge.log",
    conda:
        "../../envs/features.yaml"
    threads: 1
    resources:
        **vc.gpu_resources(config, "merge"),
        runtime=60,
        mem_mb=8000,
        cpus_per_task=vc.job_threads,
    params:
        cmd=lambda wc, input, output: vc.feature_command(config, wc.dataset, wc.extractor, input, output),
    shell:
        "{params.cmd} 2>&1 | tee {log:q}"
