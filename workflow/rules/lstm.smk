# Xception-LSTM clip extractor (docs/methods/mil.md §8): an extractor with `source: lstm` reads the
# per-frame cache of its `sequences` extractor (frames: true, [n_clips, 16, 2048]). This rule
# pretrains its LSTM (+ a discarded classification head) on the frame sequences of the
# pretraining dataset (`pretrain.dataset`: an action_folder such as UCF-101, or by default the
# dataset itself with event labels). features/{extractor}.h5 is then written by merge_features
# (features.smk), from the frame cache and this .pt, without decoding any video.

import re as _re


rule pretrain_lstm:
    input:
        unpack(lambda wc: vc.lstm_pretrain_inputs(config, wc.dataset, wc.extractor)),
    output:
        vp.LSTM_MODEL,
    log:
        "logs/{dataset}/extractors/{extractor}.log",
    wildcard_constraints:
        extractor="|".join(_re.escape(e) for e in vc.lstm_extractors(config)) or "(?!)",
    conda:
        "../../envs/features.yaml"
    threads: config["job_threads"]
    resources:
        **vc.gpu_resources(config, "features"),
        runtime=240,
        mem_mb=16000,
        cpus_per_task=vc.job_threads,
    params:
        cfg=lambda wc: vc.as_json(vc.lstm_pretrain_params(config, wc.dataset, wc.extractor)),
    shell:
        "vadflow pretrain-lstm --cfg {params.cfg:q} --manifest {input.manifest:q} --labels {input.labels:q}"
        " --frames {input.frames:q} --threads {threads} --out {output:q} 2>&1 | tee {log:q}"
