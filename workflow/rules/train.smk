# A combined model (genomamba/classifiers/combined.py) is built from other models of the config: their
# directories are its inputs, and its params name them by directory.

rule train:
    input:
        split="results/split.tsv",
        stores=expand("results/stores/{sample}.zarr", sample=SAMPLES),
        members=lambda wc: gw.member_dirs(config, wc.model),
    output:
        directory("results/models/{model}"),
    params:
        kind=lambda wc: config["models"][wc.model]["kind"],
        params=lambda wc: gw.train_params(config, wc.model),
        seed=config["seed"],
    log:
        "logs/train/{model}.log",
    benchmark:
        "results/benchmarks/train/{model}.tsv"
    threads: lambda wc: gw.model_resources(config, wc.model)["threads"]
    resources:
        mem_mb=lambda wc: gw.model_resources(config, wc.model)["mem_mb"],
        runtime=lambda wc: gw.model_resources(config, wc.model)["runtime"],
        gpu=lambda wc: gw.model_resources(config, wc.model)["gpu"],
    shell:
        "{GENOMAMBA} train --kind {params.kind} --split {input.split:q} --params {params.params:q}"
        " --seed {params.seed} -o {output:q} > {log:q} 2>&1"
