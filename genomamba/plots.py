"""Shared matplotlib helpers: one fixed style, stable colours, byte-for-byte reproducible files.

Everything drawn through here gives identical bytes from identical inputs: the Agg backend, a fixed
rcParams set (font, ``svg.hashsalt``), and metadata with no dates and a fixed creator.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display, deterministic rasteriser
import matplotlib.pyplot as plt  # noqa: E402

from .atomic import atomic_path  # noqa: E402

CREATOR = "genomamba"
FORMATS = ("png", "svg", "pdf")

STYLE = {
    "font.family": "DejaVu Sans",  # ships with matplotlib, so the same glyphs everywhere
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.6,
    "lines.markersize": 4,
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "standard",  # "tight" is stable too, but fixed sizes keep figures aligned
    "svg.hashsalt": "genomamba",
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
    "path.simplify": True,
}

_METADATA = {
    "png": {"Software": CREATOR},
    "svg": {"Date": None, "Creator": CREATOR},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": CREATOR, "Producer": CREATOR},
}

# Colour-blind safe (Okabe-Ito) palette; models get colours by sorted name, so the same model has
# the same colour in every figure of a run.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def model_colours(names) -> dict[str, str]:
    """A colour per model name, assigned in sorted order."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted(set(names)))}


@contextlib.contextmanager
def figure(width: float = 5.0, height: float = 3.4, ncols: int = 1):
    """A new figure in the house style, closed on exit; yields (fig, axes)."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, ncols, figsize=(width, height), squeeze=False)
        try:
            yield fig, list(axes[0])
        finally:
            plt.close(fig)


def figure_bytes(fig, fmt: str) -> bytes:
    """The figure encoded as ``fmt`` (png, svg or pdf) with fixed metadata."""
    with plt.rc_context(STYLE):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, metadata=_METADATA[fmt])
    return buf.getvalue()


def svg_inline(fig) -> str:
    """The figure as an ``<svg>`` element for embedding in HTML: no XML prolog, doctype or RDF
    metadata (whose namespace URLs would look like external references)."""
    text = figure_bytes(fig, "svg").decode("utf-8")
    text = text[text.index("<svg"):]
    start, end = text.find("<metadata>"), text.find("</metadata>")
    if start >= 0 and end > start:
        text = text[:start] + text[end + len("</metadata>"):].lstrip("\n")
    return text


def save_figure(fig, stem, formats=FORMATS) -> list[Path]:
    """Write ``stem.png``, ``stem.svg``, ``stem.pdf`` atomically; return the paths written."""
    stem = Path(stem)
    written = []
    for fmt in formats:
        final = stem.with_name(f"{stem.name}.{fmt}")
        data = figure_bytes(fig, fmt)
        with atomic_path(final) as tmp:
            tmp.write_bytes(data)
        written.append(final)
    return written
