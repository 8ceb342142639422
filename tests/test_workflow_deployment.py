"""How the workflow's jobs get their software and resources: the conda environments, the container, the
SLURM profile, the command every rule runs, and Snakemake's own lint. Neither conda nor a container
engine is needed: the files are checked against the package and each other, and the lint and the
GPU mapping run for real."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from snakemake.utils import format as snakemake_format

from genomamba import workflow as gw

REPO = Path(__file__).resolve().parents[1]
ENVS = REPO / "workflow" / "envs"
# pyproject's distribution name -> the conda-forge / bioconda package that provides it
CONDA_NAMES = {"torch": None, "isal": "python-isal", "matplotlib": "matplotlib-base",
               "sourmash": "sourmash-minimal", "snakemake": "snakemake-minimal"}
TORCH = {gw.CPU_ENV: ["pytorch-cpu"], gw.CUDA_ENV: ["pytorch-gpu", "cuda-version"]}


def requirement_names() -> list[str]:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    return [re.match(r"[A-Za-z0-9_.-]+", d).group(0).lower() for d in dependencies]


def conda_specs(name: str) -> tuple[dict[str, str], list[str]]:
    """(package -> version spec, pip lines) of a conda environment file."""
    env = yaml.safe_load((ENVS / name).read_text())
    specs, pip = {}, []
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            pip += entry["pip"]
        else:
            package, _, spec = entry.partition(" ")
            specs[package] = spec
    return specs, pip


def major_pin(spec: str) -> bool:
    """``=N`` (N.*), or ``>=0.x,<1`` for a package still at 0.x."""
    return bool(re.fullmatch(r"=\d+", spec) or re.fullmatch(r">=0\.\d+,<1", spec))


@pytest.mark.parametrize("env_file", [gw.CPU_ENV, gw.CUDA_ENV])
def test_conda_env_has_every_dependency_pinned_by_major_version(env_file):
    specs, pip = conda_specs(env_file)
    for name in requirement_names():
        conda_name = CONDA_NAMES.get(name, name)
        if conda_name is None:
            continue  # torch: the build of this file, below
        assert conda_name in specs, f"{env_file}: {name} (pyproject.toml) missing as {conda_name}"
    for package in TORCH[env_file]:
        assert package in specs, f"{env_file}: {package}"
    assert specs["python"] == "=3.11" and specs["pip"] == ""
    unpinned = [p for p, s in specs.items() if p not in ("python", "pip") and not major_pin(s)]
    assert not unpinned, f"{env_file}: not pinned by major version: {unpinned}"
    # the package itself, from this checkout, relative to the environment file (conda runs pip there)
    assert pip == ["-e ../.."] and (ENVS / "../.." / "pyproject.toml").resolve() == REPO / "pyproject.toml"


def test_cuda_env_differs_from_the_cpu_env_in_torch_only():
    cpu, cuda = conda_specs(gw.CPU_ENV), conda_specs(gw.CUDA_ENV)
    drop = {p for builds in TORCH.values() for p in builds}
    assert {p: s for p, s in cpu[0].items() if p not in drop} == {p: s for p, s in cuda[0].items() if p not in drop}
    assert cpu[1] == cuda[1]
    channels = [yaml.safe_load((ENVS / f).read_text())["channels"] for f in (gw.CPU_ENV, gw.CUDA_ENV)]
    assert channels[0] == channels[1] == ["conda-forge", "bioconda", "nodefaults"]


def test_a_gpu_model_trains_and_classifies_in_the_cuda_env():
    config = {"primary_model": "mamba",
              "models": {"mamba": {"kind": "mamba", "resources": {"gpu": 2, "threads": 4}},
                         "kmer": {"kind": "kmer"}}}
    assert gw.model_env(config, "mamba") == gw.CUDA_ENV and gw.model_env(config, "kmer") == gw.CPU_ENV
    # the resources of a job follow its {model} wildcard, or the primary model for results/calls/
    gpu, threads = gw.model_resource(config, "gpu"), gw.model_resource(config, "threads")
    assert gpu({"model": "mamba"}) == 2 and threads({"model": "mamba"}) == 4
    assert gpu({"model": "kmer"}) == 0 and threads({"model": "kmer"}) == gw.DEFAULT_RESOURCES["threads"]
    assert gpu({}) == 2  # the classify rule (results/calls/{sample}.tsv) has no {model}: the primary


def test_gpu_resource_becomes_sbatch_gpus():
    """The profile's executor turns a job's `gpu` resource into `--gpus=N` and asks for none at 0."""
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    class Resources(dict):
        __getattr__ = dict.__getitem__

    def job(**resources):
        return SimpleNamespace(resources=Resources(resources))

    assert set_gres_string(job(gpu=2)).strip() == "--gpus=2"
    assert set_gres_string(job(gpu=0)) == ""


def test_slurm_profile():
    text = (REPO / "profiles" / "slurm" / "config.yaml").read_text()
    profile = yaml.safe_load(text)
    assert profile["executor"] == "slurm" and profile["default-resources"]["gpu"] == 0
    # placeholders a user fills in, documented but not set (a wrong account fails every submission)
    for setting in ("slurm_account:", "slurm_partition:", "slurm-status-command: squeue",
                    "software-deployment-method: conda", "software-deployment-method: apptainer"):
        assert re.search(rf"^\s*# {re.escape(setting)}", text, re.M), setting
    assert ".[slurm]" not in text
    # the plugin is a dependency of the package (and of the conda environment)
    assert "snakemake-executor-plugin-slurm" in requirement_names()


def test_dockerfile_installs_the_package_with_the_pinned_torch():
    dockerfile = (REPO / "Dockerfile").read_text()
    instructions = [line.split(None, 1) for line in dockerfile.splitlines() if line and not line.startswith((" ", "#"))]
    assert instructions[0][0] == "FROM" and instructions[0][1].startswith("python:3.11-")  # as the conda env
    makefile_torch = re.search(r'"torch==([0-9.]+)"', (REPO / "Makefile").read_text()).group(1)
    assert f"ARG TORCH_VERSION={makefile_torch}" in dockerfile
    assert re.search(r"^RUN pip install \. ", dockerfile, re.M) and "genomamba --help" in dockerfile
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {"results", ".snakemake", ".git"} <= set(ignored)


def test_jobs_run_the_entry_point_with_this_checkout_first(tmp_path):
    """The shell prefix every job runs (after Snakemake formats it): strict bash, and this checkout
    first on PYTHONPATH, before what the job's environment has, even in a folder with a space."""
    checkout = tmp_path / "a clone"
    (checkout / "genomamba").mkdir(parents=True)
    (checkout / "genomamba" / "__init__.py").write_text("WHERE = 'the clone'\n")
    prefix = snakemake_format(gw.job_shell_prefix(checkout))
    command = prefix + f'{sys.executable} -c "import genomamba; print(genomamba.WHERE)"; echo "$PYTHONPATH"'
    env = {**os.environ, "PYTHONPATH": "/elsewhere"}
    # from another folder: `python -c` puts the working directory first, an entry point does not
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["the clone", f"{checkout}:/elsewhere"]
    assert prefix.startswith("set -euo pipefail;")
    unset = subprocess.run(["bash", "-c", prefix + 'echo "$PYTHONPATH"'], capture_output=True, text=True,
                           env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, timeout=60)
    assert unset.stdout.strip() == str(checkout)


def test_missing_entry_point_is_explained(monkeypatch):
    monkeypatch.setenv("PATH", "")
    problem = gw.missing_entry_point(())
    assert "`genomamba` command is not on PATH" in problem and "--sdm conda" in problem
    assert gw.missing_entry_point({"conda"}) is None  # the rule's environment brings it


def snakemake(*args, cwd):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(cwd), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_lint_is_clean_with_every_rule(tmp_path):
    """`snakemake --lint` on the default config with the optional rules switched on (reads): every rule
    has a log and a conda environment or container, shell commands use no outside variable."""
    (tmp_path / "reads.yaml").write_text(yaml.safe_dump({"reads": {"enabled": True}}))
    done = snakemake("--lint", "--configfile", str(tmp_path / "reads.yaml"), cwd=tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode == 0 and "Congratulations, your workflow is in a good condition" in out, out[-3000:]
    assert "Lints for rule" not in out


def test_test_config_is_small_and_complete(tmp_path):
    """.test/config.yaml (what CI runs locally and through SLURM): a dry run plans every step, with
    the split checkpoint's fragment jobs to come, in few jobs."""
    done = snakemake("-n", "--configfile", str(REPO / ".test" / "config.yaml"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", done.stdout, re.M))
    assert {"tokenize", "split", "train", "classify", "classify_compare", "evaluate", "evaluate_fragments",
            "report", "figures"} <= set(counts)
    assert counts["tokenize"] == "7" and int(counts["total"]) <= 40
