# a checkpoint: which samples are classified in fragments depends on it (evaluate.smk)
checkpoint split:
    input:
        sheet=SAMPLE_SHEET,
        stores=expand("results/stores/{sample}.zarr", sample=SAMPLES),
    output:
        "results/split.tsv",
    log:
        "logs/split.log",
    benchmark:
        "results/benchmarks/split.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        seed=config["seed"],
        fractions=gw.fractions_args(config),
        species=gw.species_args(config),
        mode=config["split"]["mode"],
        block_length=config["split"]["block_length"],
        margin=config["split"]["margin"],
    shell:
        "genomamba split --samples {input.sheet:q} --stores-dir results/stores --seed {params.seed}"
        " --fractions {params.fractions} {params.species} --mode {params.mode}"
        " --block-length {params.block_length} --margin {params.margin} -o {output:q} > {log:q} 2>&1"
