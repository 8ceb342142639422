"""Shared matplotlib helpers: one fixed paper style, byte-for-byte reproducible files.

Figures are made at their printed size, one journal column (``ONE_COLUMN``, 3.3 in) or two
(``TWO_COLUMN``, 7.2 in) wide, with 7-8 pt text, so nothing is scaled when placed. Files: PNG at
300 dpi, SVG with real text (``svg.fonttype: none``: editable, searchable; the font is named, not
drawn as paths) and PDF with embedded TrueType fonts (``pdf.fonttype: 42``). Colours and markers come
from ``genomamba.style``. Everything drawn through here gives identical bytes from identical inputs:
the Agg backend, a fixed rcParams set (font, ``svg.hashsalt``), and metadata with no dates and a
fixed creator.
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

ONE_COLUMN = 3.3   # inches: one journal column
TWO_COLUMN = 7.2   # inches: the full page width

STYLE = {
    "font.family": "DejaVu Sans",  # ships with matplotlib, so the same glyphs everywhere
    "font.size": 7,
    "axes.titlesize": 8,
    "axes.labelsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.4,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "lines.linewidth": 1.1,
    "lines.markersize": 3.5,
    "errorbar.capsize": 1.5,
    "figure.dpi": 100,
    "savefig.dpi": 300,
    "savefig.bbox": "standard",  # "tight" is stable too, but fixed sizes keep figures aligned
    "svg.hashsalt": "genomamba",
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
    "path.simplify": True,
}

_METADATA = {
    "png": {"Software": CREATOR},
    "svg": {"Date": None, "Creator": CREATOR},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": CREATOR, "Producer": CREATOR},
}


@contextlib.contextmanager
def figure(width: float = ONE_COLUMN, height: float = 2.4, ncols: int = 1):
    """A new figure in the house style, closed on exit; yields (fig, axes)."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, ncols, figsize=(width, height), squeeze=False, layout="constrained")
        try:
            yield fig, list(axes[0])
        finally:
            plt.close(fig)


def panel_letters(axes) -> None:
    """Bold a, b, c... at the top left of each panel, outside the plotting area (only for figures
    of two panels or more)."""
    if len(axes) < 2:
        return
    for letter, ax in zip("abcdefghij", axes):
        ax.text(-0.16, 1.04, letter, transform=ax.transAxes, fontsize=9, fontweight="bold",
                va="bottom", ha="left")


def figure_bytes(fig, fmt: str) -> bytes:
    """The figure encoded as ``fmt`` (png, svg or pdf) with fixed metadata."""
    with plt.rc_context(STYLE):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, metadata=_METADATA[fmt])
    return buf.getvalue()


def svg_inline(fig) -> str:
    """The figure as an ``<svg>`` element for embedding in HTML: no XML prolog, doctype or RDF
    metadata (whose namespace URLs would look like external references)."""
    return svg_element(figure_bytes(fig, "svg").decode("utf-8"))


def svg_element(text: str) -> str:
    """An SVG document's ``<svg>`` element alone, without its RDF metadata."""
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
