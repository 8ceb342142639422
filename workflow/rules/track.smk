# Species tracks (config track.enabled, default off): windows of track.window bases along every record
# of every sample with the primary model, its species segments and the records flagged chimeric or
# contaminant, the assembly mixed (genomamba track; genomamba/track.py, genomamba/segment.py).
# `snakemake tracks` makes them all; `genomamba report --tracks results/tracks/*.flags.tsv` shows them.

TRACK = config.get("track") or {}


rule track:
    input:
        model=f"results/models/{config['primary_model']}",
        sequences=lambda wc: gw.classify_input(
            config, wc.sample, SAMPLES[wc.sample].path
        ),
    output:
        track="results/tracks/{sample}.track.tsv",
        segments="results/tracks/{sample}.segments.tsv",
        flags="results/tracks/{sample}.flags.tsv",
        bedgraph=directory("results/tracks/{sample}.bedgraph"),
    log:
        "logs/track/{sample}.log",
    benchmark:
        "results/benchmarks/track/{sample}.tsv"
    conda:
        model_env
    threads: gw.model_resource(config, "threads")
    resources:
        mem_mb=gw.model_resource(config, "mem_mb"),
        runtime=gw.model_resource(config, "runtime"),
        gpu=gw.model_resource(config, "gpu"),
    params:
        window=TRACK.get("window", 10000),
        penalty=TRACK.get("switch_penalty", 10),
        cpu_precision=gw.cpu_precision(config),
    shell:
        "genomamba track --model {input.model:q} {input.sequences:q} -o {output.track:q}"
        " --segments {output.segments:q} --flags {output.flags:q} --bedgraph-dir {output.bedgraph:q}"
        " --window {params.window} --switch-penalty {params.penalty} --threads {threads}"
        " --cpu-precision {params.cpu_precision}"
        " > {log:q} 2>&1"


rule tracks:
    input:
        gw.track_flags(config, SAMPLES),
