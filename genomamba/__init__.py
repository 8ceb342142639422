"""GenoMamba: long-sequence DNA analysis with a streaming Mamba model."""

__version__ = "0.1.0"
