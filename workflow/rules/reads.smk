# Issue 5, long reads (config `reads`, off by default): seeded simulated reads from the held-out
# assemblies of training species (reads.splits of split.tsv), called one by one by every enabled
# model and scored by read length. Target: `snakemake reads` -> results/metrics/reads/{model}.json.

from genomamba.workflow import command_options, held_out_samples, sample_seed
from genomamba.split import Split


def reads_metrics():
    """The per-read metrics the report shows: every enabled model's, or none when reads are off."""
    return expand("results/metrics/reads/{model}.json", model=MODELS) if config["reads"]["enabled"] else []


# Nothing here unless reads.enabled: the rules and the `reads` target exist only then.
if config["reads"]["enabled"]:

    def read_samples():
        """Waits for the split checkpoint: which assemblies are held out is known only after it."""
        return held_out_samples(Split.read(checkpoints.split.get().output[0]), config["reads"]["splits"])


    rule simulate_reads:
        input:
            lambda wc: SAMPLES[wc.sample].path,
        output:
            "results/reads/{sample}.bam",
        params:
            seed=lambda wc: sample_seed(config["seed"], wc.sample),
            species=lambda wc: SAMPLES[wc.sample].species,
            strain=lambda wc: SAMPLES[wc.sample].strain,
            options=command_options(config["reads"]),
        log:
            "logs/reads/simulate/{sample}.log",
        benchmark:
            "results/benchmarks/reads/simulate/{sample}.tsv"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        shell:
            "{GENOMAMBA} simulate-reads {input:q} -o {output:q} --seed {params.seed} {params.options}"
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


    use rule evaluate as evaluate_reads with:
        input:
            split="results/split.tsv",
            model="results/models/{model}",
            calls=lambda wc: expand("results/reads/calls/{model}/{sample}.tsv", model=wc.model, sample=read_samples()),
        output:
            "results/metrics/reads/{model}.json",
        params:
            splits=" ".join(config["reads"]["splits"]) + " --read-length-bins",  # evaluate's shell, one more option
        log:
            "logs/reads/evaluate/{model}.log",
        benchmark:
            "results/benchmarks/reads/evaluate/{model}.tsv"


    rule reads:
        input:
            reads_metrics(),
