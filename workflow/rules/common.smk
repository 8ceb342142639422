# What every rules file shares: the checked config and sample sheet, the enabled models, the software
# environment of each job. The logic is genomamba/workflow.py's (imported as `gw`, tested by pytest);
# the rules name its functions.

from snakemake.utils import validate

from genomamba import workflow as gw

validate(config, "../schemas/config.schema.yaml")
SAMPLE_SHEET = gw.resolve_path(config["samples"], [workflow.basedir])
validate(gw.sample_frame(SAMPLE_SHEET), "../schemas/samples.schema.yaml")
# warnings once, from the main process (jobs of `run:` rules parse this file again in a subprocess)
SAMPLES = gw.check_config(
    config,
    SAMPLE_SHEET,
    base_dirs=[workflow.basedir],
    warn=gw.warn if workflow.is_main_process else lambda message: None,
)
MODELS = gw.enabled_models(config)

# Conda environments, relative to this folder.
ENV = f"../envs/{gw.CPU_ENV}"

# Without --sdm conda or apptainer, jobs run the `genomamba` of the environment Snakemake runs in.
if workflow.is_main_process and not workflow.dryrun:
    problem = gw.missing_entry_point(
        getattr(workflow.deployment_settings, "deployment_method", ())
    )
    if problem:
        raise gw.ConfigError(problem)


def model_env(wildcards):
    """The conda environment of a model's train and classify jobs (CUDA where it asks for a GPU)."""
    return f"../envs/{gw.model_env(config, gw.model_of(wildcards, config))}"
