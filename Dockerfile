# The image workflow jobs run in with `snakemake --sdm apptainer` (config `container`): Python 3.11,
# torch, and this package with its dependencies; `genomamba` on PATH. PyPI's torch wheel for Linux
# runs on the CPU and on CUDA GPUs, so one image serves every rule.
#   docker build -t genomamba:0.1.0 .
#   apptainer build genomamba.sif docker-daemon://genomamba:0.1.0     (docs/cluster.md)
FROM python:3.11-slim-bookworm

# the torch of `make install` (Makefile)
ARG TORCH_VERSION=2.13.0

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# procps: Snakemake's jobs call ps
RUN apt-get update \
    && apt-get install -y --no-install-recommends procps \
    && rm -rf /var/lib/apt/lists/*

# torch first, pinned, so that the package's range does not pull another build
RUN pip install "torch==${TORCH_VERSION}"

WORKDIR /opt/genomamba
COPY . .
RUN pip install . \
    && genomamba --help > /dev/null

WORKDIR /data
CMD ["genomamba", "--help"]
