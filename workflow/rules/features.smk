# Feature stage: shards of videos extracted in parallel (GPU jobs on a cluster), then merged.

rule extract_features:
    input: manifest="results/{dataset}/manifest.csv"
    output: temp("results/{dataset}/features/{extractor}/shard-{shard}.h5")
    params:
        cfg=lambda wc: vc.as_json(vc.extractor_params(config, wc.dataset, wc.extractor)),
        root=lambda wc: vc.dataset_root(config, wc.dataset),
    threads: 2
    resources: gpu=1
    log: "logs/{dataset}/features/{extractor}/shard-{shard}.log"
    shell:
        "vadflow extract --cfg {params.cfg:q} --root {params.root:q} --manifest {input.manifest:q}"
        " --shard {wildcards.shard} --threads {threads} --out {output:q} 2>&1 | tee {log:q}"

rule merge_features:
    input: lambda wc: expand("results/{{dataset}}/features/{{extractor}}/shard-{shard}.h5", shard=vc.shard_names(config, wc.dataset, wc.extractor))
    output: "results/{dataset}/features/{extractor}.h5"
    log: "logs/{dataset}/features/{extractor}/merge.log"
    shell: "vadflow merge --out {output:q} {input:q} 2>&1 | tee {log:q}"
