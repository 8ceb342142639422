rule evaluate:
    input:
        split="results/split.tsv",
        model="results/models/{model}",
        calls=lambda wc: gw.model_calls(config, wc.model, SAMPLES),
    output:
        "results/metrics/{model}.json",
    params:
        splits=" ".join(config["evaluate"]["splits"]),
    log:
        "logs/evaluate/{model}.log",
    benchmark:
        "results/benchmarks/evaluate/{model}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "{GENOMAMBA} evaluate --split {input.split:q} --model-dir {input.model:q} --calls {input.calls:q}"
        " --splits {params.splits} -o {output:q} > {log:q} 2>&1"
