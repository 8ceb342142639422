# Every sample with every model: the primary model's calls are results/calls/{sample}.tsv (the
# workflow's contract), the other models' results/compare/{model}/{sample}.tsv.
# With split mode region_blocks only the sample's blocks of the evaluated splits are called, read from
# its store (genomamba/regions.py).


rule classify_compare:
    input:
        model=lambda wc: f"results/models/{gw.model_of(wc, config)}",
        sequences=lambda wc: gw.classify_input(
            config, wc.sample, SAMPLES[wc.sample].path
        ),
        regions=lambda wc: gw.split_inputs(config, wc.sample),
    output:
        report(
            "results/compare/{model}/{sample}.tsv",
            caption="../report/calls.rst",
            category="Calls",
            subcategory="{model}",
        ),
    log:
        "logs/classify/{model}/{sample}.log",
    benchmark:
        "results/benchmarks/classify/{model}/{sample}.tsv"
    conda:
        model_env
    threads: gw.model_resource(config, "threads")
    resources:
        mem_mb=gw.model_resource(config, "mem_mb"),
        runtime=gw.model_resource(config, "runtime"),
        gpu=gw.model_resource(config, "gpu"),
    params:
        fragments="",
        regions=lambda wc: gw.classify_region_args(config, wc.sample),
        cpu_precision=gw.cpu_precision(config),
    shell:
        "genomamba classify --model {input.model:q} {input.sequences:q} {params.fragments} {params.regions}"
        " -o {output:q} --threads {threads} --cpu-precision {params.cpu_precision}"
        " > {log:q} 2>&1"


use rule classify_compare as classify with:
    output:
        report(
            "results/calls/{sample}.tsv",
            caption="../report/calls.rst",
            category="Calls",
            subcategory="primary model",
        ),
    log:
        "logs/classify/{sample}.log",
    benchmark:
        "results/benchmarks/classify/{sample}.tsv"


# Fragments of fixed lengths (config evaluate: fragment_lengths), for accuracy against length.
use rule classify_compare as classify_fragments with:
    output:
        "results/fragments/{model}/{length}/{sample}.tsv",
    log:
        "logs/classify/{model}/{length}/{sample}.log",
    benchmark:
        "results/benchmarks/classify/{model}/{length}/{sample}.tsv"
    params:
        fragments="--fragment-length {length}",
