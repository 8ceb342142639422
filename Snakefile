"""GenoMamba workflow: tokenize -> split -> train -> classify -> evaluate -> report (+ figures).

Every rule calls one `genomamba` subcommand in its software environment (workflow/envs/, or the
container built from the Dockerfile); workflow/rules/common.smk checks the config and the sample sheet
when this file is parsed, before any job runs, and the logic the rules need lives in
genomamba/workflow.py. Run `snakemake --cores 2` (default target `all`: everything, figures included)
or `snakemake figures` for the figures alone; `snakemake --report` then bundles the outputs; a cluster:
docs/cluster.md.
"""

import sys

# This checkout's genomamba, even when another copy is installed: imported here, and put first on the
# PYTHONPATH of every job by the shell prefix below (the `genomamba` entry point of the job's
# environment then imports this code).
sys.path.insert(0, workflow.basedir)
from snakemake.utils import min_version

from genomamba import workflow as gw

shell.prefix(gw.job_shell_prefix(workflow.basedir))

min_version("8.0")


configfile: gw.resolve_path("config/config.yaml", [workflow.basedir])


include: "workflow/rules/common.smk"


container: config["container"]


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
include: "workflow/rules/track.smk"


rule all:
    default_target: True
    input:
        "results/report.html",
        "results/figures",
        expand("results/models/{model}", model=MODELS),
        gw.all_calls(config, SAMPLES),
