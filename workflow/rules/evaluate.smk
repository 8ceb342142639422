rule evaluate:
    input:
        split="results/split.tsv",
        model="results/models/{model}",
        calls=lambda wc: gw.model_calls(config, wc.model, SAMPLES),
    output:
        report(
            "results/metrics/{model}.json",
            caption="../report/metrics.rst",
            category="Metrics",
        ),
    log:
        "logs/evaluate/{model}.log",
    benchmark:
        "results/benchmarks/evaluate/{model}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        splits=" ".join(config["evaluate"]["splits"]),
        options="",  # more `genomamba evaluate` options (per-read metrics: reads.smk)
    shell:
        "genomamba evaluate --split {input.split:q} --model-dir {input.model:q} --calls {input.calls:q}"
        " --splits {params.splits} {params.options} --model-name {wildcards.model} -o {output:q} > {log:q} 2>&1"


# Only the evaluated splits' samples are classified in fragments: the list waits for the split checkpoint.
use rule evaluate as evaluate_fragments with:
    input:
        split="results/split.tsv",
        model="results/models/{model}",
        calls=lambda wc: gw.fragment_calls(
            wc.model,
            wc.length,
            gw.evaluated_samples(config, checkpoints.split.get().output[0]),
        ),
    output:
        "results/metrics/fragments/{model}/{length}.json",
    log:
        "logs/evaluate/{model}/{length}.log",
    benchmark:
        "results/benchmarks/evaluate/{model}/{length}.tsv"
