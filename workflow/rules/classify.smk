# Every sample with every model: the primary model's calls are results/calls/{sample}.tsv (the
# workflow's contract), the other models' results/compare/{model}/{sample}.tsv.
# With split mode region_blocks only the sample's blocks of the evaluated splits are called, read from
# its store (genomamba/regions.py).

from genomamba import regions as gr


rule classify_compare:
    input:
        model=lambda wc: f"results/models/{gw.model_of(wc, config)}",
        sequences=lambda wc: gr.classify_input(config, wc.sample, SAMPLES[wc.sample].path),
        regions=lambda wc: ["results/split.tsv"] if gr.classify_region_args(config, wc.sample) else [],
    output:
        report("results/compare/{model}/{sample}.tsv", caption="../report/calls.rst", category="Calls",
               subcategory="{model}"),
    log:
        "logs/classify/{model}/{sample}.log",
    benchmark:
        "results/benchmarks/classify/{model}/{sample}.tsv"
    threads: lambda wc: gw.model_resources(config, gw.model_of(wc, config))["threads"]
    resources:
        mem_mb=lambda wc: gw.model_resources(config, gw.model_of(wc, config))["mem_mb"],
        runtime=lambda wc: gw.model_resources(config, gw.model_of(wc, config))["runtime"],
        gpu=lambda wc: gw.model_resources(config, gw.model_of(wc, config))["gpu"],
    params:
        fragments="",
        regions=lambda wc: gr.classify_region_args(config, wc.sample),
    shell:
        "{GENOMAMBA} classify --model {input.model:q} {input.sequences:q} {params.fragments} {params.regions}"
        " -o {output:q}"
        " > {log:q} 2>&1"


use rule classify_compare as classify with:
    output:
        report("results/calls/{sample}.tsv", caption="../report/calls.rst", category="Calls",
               subcategory="primary model"),
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
