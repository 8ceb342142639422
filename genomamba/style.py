"""One colour and one marker per model kind, shared by the HTML report and every paper figure.

The colours are the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies),
and each kind also has its own marker, so lines stay apart in greyscale print too. A model is styled
by its kind (``mamba``, ``transformer``, ...); a model name that is no kind (``mamba_long``, a
benchmark series ``mamba (stream)``) takes the kind it starts with, and names of no known kind take
the remaining colours in sorted order. Legends list the primary model first, then the kinds in the
order of ``KINDS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    colour: str
    marker: str


# kind -> style; the order here is the order of legends and tables after the primary model
KINDS = {
    "mamba": Style("#0072B2", "o"),        # blue
    "transformer": Style("#D55E00", "s"),  # vermillion
    "kmer": Style("#009E73", "^"),         # bluish green
    "sourmash": Style("#CC79A7", "D"),     # reddish purple
    "combined": Style("#E69F00", "v"),     # orange
}
SPARE = (Style("#56B4E9", "P"), Style("#000000", "X"), Style("#F0E442", "*"))  # sky blue, black, yellow
CHANCE_COLOUR = "#777777"


def kind_of(name: str, kinds: dict[str, str] | None = None) -> str | None:
    """The kind of a model or series name: ``kinds[name]`` when given (a config's or metrics'
    ``kind``), else the known kind its name starts with (``mamba (stream)`` -> ``mamba``)."""
    if kinds and name in kinds:
        return kinds[name]
    head = re.split(r"[\s_(@.-]", name, maxsplit=1)[0].lower()
    return head if head in KINDS else None


def model_styles(names, kinds: dict[str, str] | None = None) -> dict[str, Style]:
    """A style per name: its kind's, or a spare style in sorted order for names of no known kind."""
    names = sorted(set(names))
    unknown = [n for n in names if kind_of(n, kinds) not in KINDS]
    out = {}
    for name in names:
        kind = kind_of(name, kinds)
        out[name] = KINDS[kind] if kind in KINDS else SPARE[unknown.index(name) % len(SPARE)]
    return out


def legend_order(names, primary: str | None = None, kinds: dict[str, str] | None = None) -> list[str]:
    """Names in legend order: the primary model (and its series) first, then by kind as in
    ``KINDS``, then by name."""
    order = list(KINDS)

    def key(name):
        kind = kind_of(name, kinds)
        is_primary = primary is not None and (name == primary or name.startswith(f"{primary} "))
        return (not is_primary, order.index(kind) if kind in order else len(order), name)

    return sorted(set(names), key=key)
