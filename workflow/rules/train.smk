# A combined model (genomamba/classifiers/combined.py) is built from other models of the config: their
# directories are its inputs, and its params name them by directory.


rule train:
    input:
        split="results/split.tsv",
        stores=expand("results/stores/{sample}.zarr", sample=SAMPLES),
        members=lambda wc: gw.member_dirs(config, wc.model),
    output:
        directory("results/models/{model}"),
    log:
        "logs/train/{model}.log",
    benchmark:
        "results/benchmarks/train/{model}.tsv"
    conda:
        model_env
    threads: gw.model_resource(config, "threads")
    resources:
        mem_mb=gw.model_resource(config, "mem_mb"),
        runtime=gw.model_resource(config, "runtime"),
        gpu=gw.model_resource(config, "gpu"),
    params:
        kind=lambda wc: config["models"][wc.model]["kind"],
        params=lambda wc: gw.train_params(config, wc.model),
        seed=config["seed"],
        launch=lambda wc: gw.train_launcher(config, wc.model),
    shell:
        "{params.launch}genomamba train --kind {params.kind} --split {input.split:q} --params {params.params:q}"
        " --seed {params.seed} -o {output:q} > {log:q} 2>&1"
