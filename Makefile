# The two commands a fresh clone needs:  `make run` (the default workflow) and `make test`.
PYTHON ?= python3
CORES ?= 2

.PHONY: install run test lint test-config figures bench clean

# Installs torch first, pinned, so pip takes the local CPU wheel (or the CUDA one on a GPU box)
# instead of resolving the newest multi-GB build; then the package and its test tools.
install:
	@$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install -q "torch==2.13.0"
	@$(PYTHON) -m pip install -q -e ".[dev]"

run: install
	snakemake --cores $(CORES)

test: install
	$(PYTHON) -m pytest -q tests

# The workflow as Snakemake checks it: formatted as snakefmt writes it, and lint-clean.
lint: install
	snakefmt --check Snakefile workflow
	snakemake --lint

# The small config of .test/ end to end, into build/test-config/ (CI: .ci/slurm, also through SLURM).
test-config: install
	snakemake --cores $(CORES) --configfile .test/config.yaml --directory build/test-config

figures: install
	snakemake --cores $(CORES) figures

clean:
	rm -rf results logs .snakemake build/test-config
