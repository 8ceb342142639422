rule tokenize:
    input:
        lambda wc: SAMPLES[wc.sample].path,
    output:
        directory("results/stores/{sample}.zarr"),
    params:
        species=lambda wc: SAMPLES[wc.sample].species,
        strain=lambda wc: SAMPLES[wc.sample].strain,
    log:
        "logs/tokenize/{sample}.log",
    benchmark:
        "results/benchmarks/tokenize/{sample}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "{GENOMAMBA} tokenize {input:q} -o {output:q} --species {params.species:q} --strain {params.strain:q}"
        " > {log:q} 2>&1"
