# Feature stage: shards of videos extracted in parallel (GPU jobs on a cluster), then merged.
# Each video's features persist in features/{extractor}/videos/ (the per-video cache), so a
# rerun (new videos, a killed job) computes only the videos that are not there yet; a shard's
# output is the receipt listing what it holds.

rule extract_features:
    input: manifest="results/{dataset}/manifest.csv"
    output: temp("results/{dataset}/features/{extractor}/shard-{shard}.json")
    params:
        cfg=lambda wc: vc.as_json(vc.extractor_params(config, wc.dataset, wc.extractor)),
        root=lambda wc: vc.dataset_root(config, wc.dataset),
        cache="results/{dataset}/features/{extractor}/videos",
    threads: 2
    resources: gpu=1
    log: "logs/{dataset}/features/{extractor}/shard-{shard}.log"
    shell:
        "vadflow extract --cfg {params.cfg:q} --root {params.root:q} --manifest {input.manifest:q}"
        " --shard {wildcards.shard} --threads {threads} --cache {params.cache:q} --out {output:q} 2>&1 | tee {log:q}"

# The one rule writing features/{extractor}.h5: it merges the shard receipts, or, for an
# extractor with `source: import` (per dataset, overrides included), imports public feature
# files from the manifest and the source folder (no shard job runs then).
rule merge_features:
    input: lambda wc: vc.feature_inputs(config, wc.dataset, wc.extractor)
    output: "results/{dataset}/features/{extractor}.h5"
    params: cmd=lambda wc, input, output: vc.feature_command(config, wc.dataset, wc.extractor, input, output)
    log: "logs/{dataset}/features/{extractor}/merge.log"
    shell: "{params.cmd} 2>&1 | tee {log:q}"
