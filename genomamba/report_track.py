"""The report's Contamination section: per assembly, its flag and what its records were flagged, and a
track plot for every flagged record (the species probabilities along it, its segments' boundaries).

Inputs are the outputs of ``genomamba track`` for a sample, found by their names: ``<sample>.flags.tsv``
with ``<sample>.segments.tsv`` and ``<sample>.track.tsv`` beside it.
"""

from __future__ import annotations

import csv
from pathlib import Path

from .errors import InputError, open_input

FLAGS_SUFFIX, SEGMENTS_SUFFIX, TRACK_SUFFIX = ".flags.tsv", ".segments.tsv", ".track.tsv"
MAX_PLOTS = 24  # track plots drawn per report; the rest are listed as left out


def _rows(path, what: str) -> list[dict]:
    with open_input(path, what, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if rows and None in rows[0]:
        raise InputError(f"{what}: more fields than the header", path, line=2)
    return rows


def sample_of(flags_path) -> str:
    name = Path(flags_path).name
    if not name.endswith(FLAGS_SUFFIX):
        raise InputError(f"a flags table's name must end in {FLAGS_SUFFIX} (genomamba track --flags)", flags_path)
    return name[:-len(FLAGS_SUFFIX)]


def track_plot(tracks, record: str, segments) -> str:
    """An inline SVG: each species' probability along ``record`` and its segments' boundaries."""
    import numpy as np

    from .plots import ONE_COLUMN, figure, svg_inline

    track = next(t for t in tracks[0] if t.record == record)
    species = tracks[1]
    x = np.r_[track.starts, track.ends[-1:]] / 1e6
    with figure(ONE_COLUMN * 2, 1.6) as (fig, axes):
        ax = axes[0]
        for j, name in enumerate(species):
            if track.probs[:, j].max() >= 0.2:  # species that never reach 0.2 would only add clutter
                ax.stairs(track.probs[:, j], x, label=name, linewidth=0.9)
        for s in segments[1:]:
            ax.axvline(int(s["start"]) / 1e6, color="black", linewidth=0.6, linestyle="--")
        ax.set_xlim(0, x[-1])
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(f"{record}: position (Mb)")
        ax.set_ylabel("probability")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=6, frameon=False)
        return svg_inline(fig)


def contamination_section(flags_paths) -> tuple[str, list]:
    """The section's HTML and the items left out (plots beyond MAX_PLOTS, missing track tables)."""
    from .report import _e, _table
    from .track import read_track_table

    if not flags_paths:
        return "", []
    skipped, summary, plots = [], [], []
    for path in flags_paths:
        path = Path(path)
        sample = sample_of(path)
        flags = _rows(path, "flags table")
        assembly = next((f for f in flags if f.get("record") == "*"), None)
        if assembly is None:
            raise InputError("no assembly row (record *)", path)
        flagged = [f for f in flags if f["record"] != "*" and f["flag"] != "clean"]
        chimeric = sum("chimeric" in f["flag"] for f in flagged)
        contaminant = [f for f in flagged if "contaminant" in f["flag"]]
        foreign = sum(int(f["length"]) for f in contaminant)
        summary.append([_e(sample), _e(assembly["call"]), _e(assembly["flag"]), _e(assembly["species"]),
                        str(len(flags) - 1), str(chimeric), str(len(contaminant)),
                        f"{foreign:,}", f"{foreign / max(int(assembly['length']), 1):.2%}"])
        if not flagged:
            continue
        segments_path = path.with_name(sample + SEGMENTS_SUFFIX)
        track_path = path.with_name(sample + TRACK_SUFFIX)
        if not segments_path.is_file() or not track_path.is_file():
            skipped.append((f"track plots of {sample}", f"no {track_path.name} and {segments_path.name} beside "
                                                        f"{path.name}"))
            continue
        segments = _rows(segments_path, "segments table")
        tracks = read_track_table(track_path)
        for f in flagged:
            if len(plots) >= MAX_PLOTS:
                skipped.append((f"track plot of {sample} {f['record']}", f"only {MAX_PLOTS} plots are drawn"))
                continue
            own = [s for s in segments if s["record"] == f["record"]]
            plots.append(f'<figure>{track_plot(tracks, f["record"], own)}<figcaption><b>{_e(sample)}</b> '
                         f'{_e(f["record"])}: {_e(f["flag"])} ({_e(f["species"])}); dashed: segment '
                         f'boundaries.</figcaption></figure>')
    header = [("sample", "the assembly (genomamba track's input)"),
              ("main species", "the species with the most bases in confident segments"),
              ("flag", "mixed: confident segments of two or more species in the assembly"),
              ("species", "species of its confident segments"), ("records", "records tracked"),
              ("chimeric", "records whose confident segments are of two or more species"),
              ("contaminant", "records with confident segments, none of the main species"),
              ("contaminant bases", "bases in records flagged contaminant"),
              ("share", "contaminant bases / all bases")]
    html = ['<section id="contamination"><h2>Contamination</h2><p class="muted">Species tracks along every '
            'record (<code>genomamba track</code>): windows scored with the state carried, segmented with a '
            'penalty per change of species (genomamba/segment.py).</p>',
            _table(header, summary, "contamination"), *plots, "</section>"]
    return "".join(html), skipped
