"""Everything the workflow's rules compute, in one place: sample sheet, config checks, target lists,
job resources and software environments, classification inputs, simulated reads. The Snakefile and
workflow/rules/*.smk hold no logic of their own; they name these functions (``gw.<name>``, imported
in workflow/rules/common.smk), so pytest tests them.

Sample sheet (`samples.tsv`): tab-separated, header `sample species strain path` (in any order, no
other columns), one row per input file; blank lines and lines starting with `#` are skipped. Sample
names become file names, so they are restricted to letters, digits, `.`, `_` and `-`. A relative
`path` is taken relative to the working directory; if it is not there, relative to the workflow's
own directory (so the embedded defaults are found from any `snakemake --directory`).

``check_config`` runs when the Snakefile is parsed, so that a config or sheet that would fail a job
stops the run before the first one: the sheet's rows and files, the same genome under two samples,
at least two training species, every enabled model's params (its classifier's own
``resolve_params``), a combined model's members (other enabled models); training species that will
never be evaluated are a warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_open
from .errors import ConfigError, InputError
from .split import SPLITS, Split, check_fractions, strain_counts

SAMPLE_COLUMNS = ("sample", "species", "strain", "path")
NEURAL_KINDS = ("mamba", "transformer")
SAMPLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Sample:
    sample: str
    species: str
    strain: str
    path: str
    line: int  # line of the sample sheet, for messages


def read_samples(path, *, base_dirs=(), check_paths: bool = False) -> list[Sample]:
    """Read and check a sample sheet; with ``check_paths`` every input file must exist.

    ``base_dirs``: further directories a relative ``path`` is looked up in (after the working
    directory); the returned path is the first that exists, else the path as written.
    """
    path = Path(path)
    lines = sheet_lines(path)
    header_line, header = lines[0]
    missing = [c for c in SAMPLE_COLUMNS if c not in header]
    unknown = [c for c in header if c not in SAMPLE_COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        problem = "; ".join(filter(None, [missing and f"missing column(s) {', '.join(missing)}",
                                          unknown and f"unknown column(s) {', '.join(unknown)}"]))
        raise InputError(f"{problem or 'repeated column'}: the header must be "
                         f"{' '.join(SAMPLE_COLUMNS)}, separated by tabs", path, line=header_line)
    samples, seen = [], {}
    for n, fields in lines[1:]:
        if len(fields) != len(header):
            raise InputError(f"{len(fields)} fields, the header has {len(header)}", path, line=n)
        row = dict(zip(header, (f.strip() for f in fields)))
        name = row["sample"]
        for column in SAMPLE_COLUMNS:
            if not row[column]:
                raise InputError(f"empty {column!r}", path, record=name or None, line=n)
        if not SAMPLE_NAME.match(name):
            raise InputError("sample names may contain only letters, digits, '.', '_' and '-' "
                             "(and start with a letter or digit)", path, record=name, line=n)
        if name in seen:
            raise InputError(f"sample name repeated (first on line {seen[name]})", path, record=name, line=n)
        seen[name] = n
        file = resolve_path(row["path"], base_dirs)
        if check_paths and not Path(file).is_file():
            raise InputError(f"input file {row['path']!r} does not exist", path, record=name, line=n)
        samples.append(Sample(name, row["species"], row["strain"], file, n))
    return samples


def sheet_lines(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, tab-separated fields) of the header and every row."""
    if not path.is_file():
        raise InputError("sample sheet not found", path)
    with open(path, newline="") as fh:
        lines = [(n, line.rstrip("\r\n").split("\t")) for n, line in enumerate(fh, 1)
                 if line.strip() and not line.startswith("#")]
    if not lines:
        raise InputError("sample sheet is empty", path)
    return lines


def resolve_path(path: str, base_dirs=()) -> str:
    if Path(path).is_absolute() or Path(path).exists():
        return path
    for base in base_dirs:
        candidate = Path(base) / path
        if candidate.exists():
            return str(candidate)
    return path


def training_species(config: dict, samples: list[Sample]) -> list[str]:
    """The config's training species (default: every species in the sheet), checked against the sheet;
    a classifier needs at least two."""
    present = {s.species for s in samples}
    wanted = config.get("species") or sorted(present)
    absent = [s for s in wanted if s not in present]
    if absent:
        raise ConfigError(f"config 'species' lists {', '.join(map(repr, absent))}, which no sample has")
    if len(wanted) < 2:
        source = "config 'species' lists" if config.get("species") else \
            f"config 'species' is empty and the sample sheet {config.get('samples', '')} has"
        raise ConfigError(f"a classifier needs at least two training species; {source} only "
                          f"{', '.join(map(repr, wanted))}")
    return sorted(wanted)


def enabled_models(config: dict) -> list[str]:
    """Names of the models to train, in config order; the primary model must be one of them."""
    models = [name for name, spec in config["models"].items() if spec.get("enabled", True)]
    primary = config["primary_model"]
    if primary not in models:
        raise ConfigError(f"primary_model {primary!r} is not an enabled entry of 'models' "
                          f"(enabled: {', '.join(models) or 'none'})")
    return models


def members_of(config: dict, model: str) -> list[str]:
    """The models a ``combined`` model is built from (its params.members: names of the config's
    models), in cascade order; none for the other kinds."""
    spec = config["models"][model]
    return list((spec.get("params") or {}).get("members", [])) if spec["kind"] == "combined" else []


def member_dirs(config: dict, model: str) -> list[str]:
    """The directories of a combined model's members (inputs of its train job)."""
    return [f"results/models/{m}" for m in members_of(config, model)]


def train_params(config: dict, model: str) -> str:
    """A model's params as `genomamba train --params` takes them (JSON): a combined model's member
    names become their directories."""
    params = dict(config["models"][model].get("params") or {})
    if config["models"][model]["kind"] == "combined":
        params["members"] = member_dirs(config, model)
    return json.dumps(params, sort_keys=True)


def check_members(config: dict) -> None:
    """A combined model's members are other enabled models of the config, none of them combined."""
    enabled = enabled_models(config)
    for name in enabled:
        for member in members_of(config, name):
            if member not in enabled:
                raise ConfigError(f"models.{name}.params.members: {member!r} is not an enabled entry of "
                                  f"'models' (enabled: {', '.join(enabled)}); enable it, or set "
                                  f"models.{name}.enabled: false")
            if config["models"][member]["kind"] == "combined":
                raise ConfigError(f"models.{name}.params.members: {member!r} is a combined model itself; "
                                  "name the models it combines")


def calls_path(config: dict, model: str, sample: str) -> str:
    """The primary model's calls go to results/calls/, the others' to results/compare/<model>/."""
    if model == config["primary_model"]:
        return f"results/calls/{sample}.tsv"
    return f"results/compare/{model}/{sample}.tsv"


def model_of(wildcards, config: dict) -> str:
    """A job's model: its {model} wildcard, or the primary model (rules writing results/calls/)."""
    return wildcards.get("model", config["primary_model"])


def model_calls(config: dict, model: str, samples) -> list[str]:
    """Calls files of one model for the given sample names."""
    return [calls_path(config, model, s) for s in samples]


def all_calls(config: dict, samples) -> list[str]:
    return [p for m in enabled_models(config) for p in model_calls(config, m, samples)]


def fragment_calls(model: str, length, samples) -> list[str]:
    return [f"results/fragments/{model}/{length}/{s}.tsv" for s in samples]


def evaluated_samples(config: dict, split_tsv) -> list[str]:
    """Samples of the splits that evaluate scores (config evaluate.splits), in split.tsv order: only
    these are classified in fragments (the training samples' fragment calls would never be read)."""
    return Split.read(split_tsv).sample_names(config["evaluate"]["splits"])


def fragment_metrics(config: dict) -> list[str]:
    """Metrics of every enabled model at every configured fragment length."""
    lengths = config.get("evaluate", {}).get("fragment_lengths", [])
    return [f"results/metrics/fragments/{m}/{n}.json" for m in enabled_models(config) for n in lengths]


def training_logs(config: dict) -> list[str]:
    """The training histories the neural models write into their directories (for the figures)."""
    return [f"results/models/{m}/training.json" for m in enabled_models(config)
            if config["models"][m]["kind"] in NEURAL_KINDS]


def bench_tables(config: dict, base_dirs=()) -> list[str]:
    """The benchmark tables the speed and memory figures are drawn from (config figures.bench_tsv)."""
    return [resolve_path(p, base_dirs) for p in config.get("figures", {}).get("bench_tsv", [])]


def species_args(config: dict) -> str:
    """`--species 'A b' ...` for genomamba split, or nothing (every species trains)."""
    species = config.get("species") or []
    return " ".join(["--species", *map(shlex.quote, species)]) if species else ""


def fractions_args(config: dict) -> str:
    return " ".join(str(config["split"][s]) for s in SPLITS)


def write_effective_config(config: dict, path) -> None:
    """The validated config, defaults filled in, as JSON (for the report's provenance)."""
    with atomic_open(path) as fh:
        json.dump(config, fh, indent=2, sort_keys=True)
        fh.write("\n")


# one thread: the default small models train as fast on 1 as on 2 (measured), and another job runs beside
DEFAULT_RESOURCES = {"threads": 1, "mem_mb": 4000, "runtime": 60, "gpu": 0}


def model_resources(config: dict, model: str) -> dict:
    """threads, mem_mb, runtime (minutes) and gpu for a model's train and classify jobs."""
    return {**DEFAULT_RESOURCES, **config["models"][model].get("resources", {})}


def cpu_precision(config: dict):
    """A rule's ``params:`` entry for `--cpu-precision`: a function of the job's wildcards giving its
    model's ``cpu_precision`` (float32 unless the config sets it)."""
    def of_job(wildcards):
        return config["models"][model_of(wildcards, config)].get("cpu_precision", "float32")
    return of_job


def track_flags(config: dict, samples) -> list[str]:
    """The flags tables of the species tracks of every sample where ``track.enabled``, else none."""
    if not (config.get("track") or {}).get("enabled"):
        return []
    return [f"results/tracks/{sample}.flags.tsv" for sample in samples]


def train_launcher(config: dict, model: str) -> str:
    """What starts a model's `genomamba train`: nothing extra for at most one GPU; for N > 1 GPUs,
    torchrun with one process per GPU (data-parallel training, genomamba/distributed.py)."""
    gpus = model_resources(config, model)["gpu"]
    return f"torchrun --standalone --nproc-per-node {gpus} --no-python " if gpus > 1 else ""


def sample_frame(path):
    """The sample sheet as a pandas DataFrame of strings, for snakemake.utils.validate."""
    import pandas as pd

    path = Path(path)
    (_, header), *rows = sheet_lines(path)
    for n, fields in rows:
        if len(fields) != len(header):
            raise InputError(f"{len(fields)} fields, the header has {len(header)}", path, line=n)
    return pd.DataFrame([fields for _, fields in rows], columns=header, dtype=str)


def check_model_params(config: dict) -> None:
    """Every enabled model's params, checked by its kind's ``resolve_params`` (what `genomamba train`
    will do), so that a mistyped key stops the run before the first job."""
    from .classifiers import resolve_params

    for name in enabled_models(config):
        spec = config["models"][name]
        try:
            resolve_params(spec["kind"], spec.get("params"))
        except ConfigError as exc:
            raise ConfigError(f"models.{name}.params ({spec['kind']}): {exc}") from None


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def check_distinct_genomes(samples: list[Sample], sheet) -> None:
    """No two samples of the same file content (sha256): one genome under two samples could be trained
    on and evaluated on, or carry two labels. Only files of equal size are hashed."""
    by_size = {}
    for sample in samples:
        by_size.setdefault(os.path.getsize(sample.path), []).append(sample)
    for same_size in by_size.values():
        if len(same_size) < 2:
            continue
        first_of = {}
        for sample in same_size:
            first = first_of.setdefault(file_sha256(sample.path), sample)
            if first is not sample:
                raise InputError(f"samples {first.sample!r} (line {first.line}) and {sample.sample!r} are the "
                                 f"same genome: {first.path} and {sample.path} have the same sha256",
                                 sheet, record=sample.sample, line=sample.line)


def unevaluated_species(config: dict, samples: list[Sample], training: list[str]) -> list[str]:
    """One warning per training species that no evaluated split (config evaluate.splits) gets a strain
    of, by the split rule of genomamba/split.py (a single strain is train only): it is trained on but
    never evaluated on a held-out strain. Region-block splits put every sample in every split."""
    if config["split"].get("mode", "strain") != "strain":
        return []
    fractions = check_fractions([config["split"][s] for s in SPLITS])
    evaluated = config.get("evaluate", {}).get("splits", ["test"])
    warnings = []
    for name in training:
        strains = sorted({s.strain for s in samples if s.species == name})
        counts = strain_counts(len(strains), fractions)
        if not any(counts[split] for split in evaluated):
            placed = " and ".join(split for split, n in counts.items() if n)
            warnings.append(f"{name}: {len(strains)} strain(s) ({', '.join(strains)}), which the split puts in "
                            f"{placed} only, so it is never evaluated on a held-out strain (evaluate.splits: "
                            f"{', '.join(evaluated)}); add strains to evaluate it")
    return warnings


def warn(message: str) -> None:
    print(f"genomamba workflow: warning: {message}", file=sys.stderr)


def check_config(config: dict, sheet, base_dirs=(), warn=warn) -> dict[str, Sample]:
    """What a JSON schema cannot check (the module docstring); ``warn`` gets each warning. Returns
    sample name -> Sample, in sheet order."""
    samples = read_samples(sheet, base_dirs=base_dirs, check_paths=True)
    check_fractions([config["split"][s] for s in SPLITS])
    training = training_species(config, samples)
    check_model_params(config)
    check_members(config)
    check_distinct_genomes(samples, sheet)
    for message in unevaluated_species(config, samples, training):
        warn(message)
    return {s.sample: s for s in samples}


def alternatives(names) -> str:
    """A regex matching exactly these names (for wildcard_constraints)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


def job_shell_prefix(basedir) -> str:
    """What every job's shell runs first (Snakemake's ``shell.prefix``): bash's strict mode, Snakemake's
    default, and this checkout at the front of PYTHONPATH, so that the `genomamba` entry point of the
    job's environment (the active one, the rule's conda environment or the container) runs the code
    the Snakefile imported, where ``basedir`` is visible. Braces doubled: Snakemake formats it."""
    return ("set -euo pipefail; "
            f"export PYTHONPATH={shlex.quote(str(basedir))}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; ")


def missing_entry_point(deployment_methods) -> str | None:
    """Why jobs could not run, or None. Every rule runs the `genomamba` entry point: from the rule's conda
    environment or container with Snakemake's ``--sdm conda`` / ``--sdm apptainer``, else from the PATH
    of the environment Snakemake was started in."""
    if deployment_methods or shutil.which("genomamba"):
        return None
    return ("the `genomamba` command is not on PATH: install the package into this environment "
            "(`make install`, or `pip install -e .`), or run with `--sdm conda` or `--sdm apptainer`")


# ---- software deployment (workflow/envs/) ----

CPU_ENV = "genomamba.yaml"
CUDA_ENV = "genomamba-cuda.yaml"


def model_env(config: dict, model: str) -> str:
    """The conda environment file (in workflow/envs/) of a model's train and classify jobs: the CUDA
    build of torch where the model asks for GPUs, else the CPU build."""
    return CUDA_ENV if model_resources(config, model)["gpu"] else CPU_ENV


def model_resource(config: dict, key: str):
    """A rule's ``threads:`` or ``resources:`` entry for the jobs of one model (train, classify): a
    function of the job's wildcards giving that model's ``key`` (model_resources)."""
    def of_job(wildcards):
        return model_resources(config, model_of(wildcards, config))[key]
    return of_job


# ---- classification inputs ----

def classify_input(config: dict, sample, path: str) -> str:
    """What the workflow classifies: the sample's store in region-block mode (blocks are read from it,
    genomamba/regions.py), else its input file."""
    if config["split"].get("mode", "strain") == "region_blocks":
        return str(Path("results/stores") / f"{sample}.zarr")
    return path


def classify_region_args(config: dict, sample: str, split_tsv: str = "results/split.tsv") -> str:
    """`classify` options for the workflow: in region-block mode, the sample's blocks of the evaluated
    splits; nothing in strain mode."""
    if config["split"].get("mode", "strain") != "region_blocks":
        return ""
    splits = config.get("evaluate", {}).get("splits", ["test"])
    return " ".join(["--regions", shlex.quote(split_tsv), "--sample", shlex.quote(sample),
                     "--region-splits", *splits])


def split_inputs(config: dict, sample: str) -> list[str]:
    """The split table, as an input of a sample's classify jobs where they read its blocks."""
    return ["results/split.tsv"] if classify_region_args(config, sample) else []


# ---- long reads (workflow/rules/reads.smk) ----

def reads_metrics(config: dict) -> list[str]:
    """The per-read metrics the report shows: every enabled model's, or none when reads are off."""
    if not config.get("reads", {}).get("enabled", False):
        return []
    return [f"results/metrics/reads/{m}.json" for m in enabled_models(config)]


def simulated_samples(config: dict, split_tsv) -> list[str]:
    """The samples reads are simulated from, once the split table exists (held_out_samples of the
    config's reads.splits)."""
    return held_out_samples(Split.read(split_tsv), config["reads"]["splits"])


def read_calls(config: dict, model: str, split_tsv) -> list[str]:
    """One model's per-read calls of every sample reads are simulated from."""
    return [f"results/reads/calls/{model}/{s}.tsv" for s in simulated_samples(config, split_tsv)]


def held_out_samples(split, splits=("test",)) -> list[str]:
    """The samples reads are simulated from in the workflow: the assemblies of training species in
    ``splits`` of a ``genomamba.split.Split`` (each once, in split order). Only for a split by strain:
    reads of whole assemblies would cross the training blocks of a region-block split."""
    if split.mode != "strain":
        raise ConfigError("reads are simulated from whole held-out assemblies: they need split mode 'strain', "
                          f"not {split.mode!r}")
    training = set(split.species)
    return list(dict.fromkeys(row.sample for name in splits for row in split.samples(name)
                              if row.species in training))


def command_options(reads_config: dict) -> str:
    """`genomamba simulate-reads` options from the workflow's ``reads`` config section (``coverage``,
    when set, replaces ``count``)."""
    skip = {"enabled", "splits", "count" if reads_config.get("coverage") is not None else "coverage"}
    return " ".join(f"--{key.replace('_', '-')} {value}" for key, value in reads_config.items()
                    if key not in skip and value is not None)


def sample_seed(seed: int, sample: str) -> int:
    """A seed of its own for each sample's reads (the same seed everywhere would give every sample the
    same sequence of read lengths), fixed by the run's seed and the sample name."""
    return (seed * 1_000_003 + zlib.crc32(sample.encode())) % 2**32
