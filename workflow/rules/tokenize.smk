rule tokenize:
    input:
        lambda wc: SAMPLES[wc.sample].path,
    output:
        directory("results/stores/{sample}.zarr"),
    log:
        "logs/tokenize/{sample}.log",
    benchmark:
        "results/benchmarks/tokenize/{sample}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        species=lambda wc: SAMPLES[wc.sample].species,
        strain=lambda wc: SAMPLES[wc.sample].strain,
    shell:
        "genomamba tokenize {input:q} -o {output:q} --species {params.species:q} --strain {params.strain:q}"
        " > {log:q} 2>&1"
