import json


rule effective_config:
    output:
        "results/config.json",
    log:
        "logs/effective_config.log",
    localrule: True
    params:
        config=json.dumps(config, sort_keys=True),  # a changed config reruns this rule
    run:
        gw.write_effective_config(config, output[0])


rule report:
    input:
        config="results/config.json",
        split="results/split.tsv",
        metrics=expand("results/metrics/{model}.json", model=MODELS),
        fragments=gw.fragment_metrics(config),  # accuracy by fragment length, if configured
        reads=gw.reads_metrics(config),  # per-read accuracy by read length, if reads.enabled
        calls=gw.all_calls(config, SAMPLES),
        stores=expand("results/stores/{sample}.zarr", sample=SAMPLES),  # provenance: their sources
        figures="results/figures",  # shown with their provenance
        tracks=gw.track_flags(config, SAMPLES),  # flagged records, if track.enabled
    output:
        report(
            "results/report.html",
            caption="../report/report.rst",
            category="Report",
        ),
    log:
        "logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        primary=config["primary_model"],
        tracks="--tracks " if gw.track_flags(config, SAMPLES) else "",
    shell:
        "genomamba report --config {input.config:q} --split {input.split:q} --metrics {input.metrics:q}"
        " {input.fragments:q} --calls {input.calls:q} --primary {params.primary:q} --read-metrics {input.reads:q}"
        " --provenance {input.split:q} --figures {input.figures:q} {params.tracks}{input.tracks:q}"
        " -o {output:q} > {log:q} 2>&1"


rule figures:
    input:
        metrics=expand("results/metrics/{model}.json", model=MODELS),
        fragments=gw.fragment_metrics(config),
        bench=gw.bench_tables(config, [workflow.basedir]),  # speed and memory, measured on a GPU
        config="results/config.json",  # disabled models, seed, primary model
        split="results/split.tsv",  # with the calls: intervals bootstrapped over genomes
    output:
        report(
            directory("results/figures"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
        ),
    log:
        "logs/figures.log",
    benchmark:
        "results/benchmarks/figures.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        training_logs=gw.training_logs(config),  # inside the model directories
        models=expand("results/models/{model}", model=MODELS),
    shell:
        "genomamba figures --metrics {input.metrics:q} {input.fragments:q}"
        " --training-log {params.training_logs:q} --bench-tsv {input.bench:q}"
        " --config {input.config:q} --split {input.split:q} -o {output:q} > {log:q} 2>&1"
