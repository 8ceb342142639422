"""GenoMamba workflow: tokenize -> split -> train -> classify -> evaluate -> report (+ figures).

Every rule calls one `genomamba` subcommand; the logic (sample sheet, checks, target lists) lives in
genomamba/workflow.py. Run `snakemake --cores 2` (default target `all`: everything, figures included) or
`snakemake figures` for the figures alone; `snakemake --report` then bundles the outputs. The config,
the sample sheet and every enabled model's params are checked when this file is parsed, before any
job runs (genomamba/workflow.py check_config).
"""

import sys

sys.path.insert(0, workflow.basedir)  # this checkout's genomamba, even when it is not installed

from snakemake.utils import min_version, validate

from genomamba import workflow as gw

min_version("8.0")

configfile: gw.resolve_path("config/config.yaml", [workflow.basedir])

validate(config, "workflow/schemas/config.schema.yaml")
SAMPLE_SHEET = gw.resolve_path(config["samples"], [workflow.basedir])
validate(gw.sample_frame(SAMPLE_SHEET), "workflow/schemas/samples.schema.yaml")
# warnings once, from the main process (jobs of `run:` rules parse this file again in a subprocess)
SAMPLES = gw.check_config(config, SAMPLE_SHEET, base_dirs=[workflow.basedir],
                          warn=gw.warn if workflow.is_main_process else lambda message: None)
MODELS = gw.enabled_models(config)
GENOMAMBA = gw.genomamba_command(workflow.basedir)

wildcard_constraints:
    sample=gw.alternatives(SAMPLES.keys()),
    model=gw.alternatives(MODELS),
    length=r"[1-9][0-9]*",


include: "workflow/rules/tokenize.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/classify.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/reads.smk"


rule all:
    default_target: True
    input:
        "results/report.html",
        "results/figures",
        expand("results/models/{model}", model=MODELS),
        gw.all_calls(config, SAMPLES),
