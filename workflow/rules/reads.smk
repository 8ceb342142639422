# Long reads (config `reads`, off by default): seeded simulated reads from the held-out assemblies of
# training species (reads.splits of split.tsv), called one by one by every enabled model and scored by
# read length. Target: `snakemake reads` -> results/metrics/reads/{model}.json.
# Nothing here unless reads.enabled: the rules and the `reads` target exist only then.

if config["reads"]["enabled"]:

    rule simulate_reads:
        input:
            lambda wc: SAMPLES[wc.sample].path,
        output:
            "results/reads/{sample}.bam",
        log:
            "logs/reads/simulate/{sample}.log",
        benchmark:
            "results/benchmarks/reads/simulate/{sample}.tsv"
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            seed=lambda wc: gw.sample_seed(config["seed"], wc.sample),
            species=lambda wc: SAMPLES[wc.sample].species,
            strain=lambda wc: SAMPLES[wc.sample].strain,
            options=gw.command_options(config["reads"]),
        shell:
            "genomamba simulate-reads {input:q} -o {output:q} --seed {params.seed} {params.options}"
            " --sample {wildcards.sample} --species {params.species:q} --strain {params.strain:q} > {log:q} 2>&1"

    use rule classify_compare as classify_reads with:
        input:
            model="results/models/{model}",
            sequences="results/reads/{sample}.bam",
        output:
            "results/reads/calls/{model}/{sample}.tsv",
        log:
            "logs/reads/classify/{model}/{sample}.log",
        benchmark:
            "results/benchmarks/reads/classify/{model}/{sample}.tsv"

    # which assemblies are held out is known once the split checkpoint has run
    use rule evaluate as evaluate_reads with:
        input:
            split="results/split.tsv",
            model="results/models/{model}",
            calls=lambda wc: gw.read_calls(
                config, wc.model, checkpoints.split.get().output[0]
            ),
        output:
            "results/metrics/reads/{model}.json",
        log:
            "logs/reads/evaluate/{model}.log",
        benchmark:
            "results/benchmarks/reads/evaluate/{model}.tsv"
        params:
            splits=" ".join(config["reads"]["splits"]),
            options="--read-length-bins",

    rule reads:
        input:
            gw.reads_metrics(config),
