# The two commands a fresh clone needs:  `make run` (the default workflow) and `make test`.
PYTHON ?= python3
CORES ?= 2

.PHONY: install run test figures bench clean

# Installs torch first, pinned, so pip takes the local CPU wheel (or the CUDA one on a GPU box)
# instead of resolving the newest multi-GB build; then the package and its test tools.
install:
	@$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install -q "torch==2.13.0"
	@$(PYTHON) -m pip install -q -e ".[dev]"

run: install
	snakemake --cores $(CORES)

test: install
	$(PYTHON) -m pytest -q tests

figures: install
	snakemake --cores $(CORES) figures

clean:
	rm -rf results logs .snakemake
