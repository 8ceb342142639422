"""Score calls tables against the truth in split.tsv (by strain, or by region blocks: ``rows_in_split``).

Each calls file belongs to the sample named by its file stem (``results/calls/{sample}.tsv``).
A sample whose species is not a training species (``Split.species``) is out-of-distribution (OOD):
its right call is ``unclassified``.

Levels scored separately: ``assembly`` (the per-file ``*`` rows), ``record`` (whole records or
contigs) and ``fragment`` (``name:start-end`` rows of ``classify --fragment-length``), the fragments
grouped by their nominal length (``fragment_lengths``: a record's last, shorter fragment counts with
the ones before it).
Per level (see ``level_metrics``):

  accuracy             calls equal to the truth (species, or ``unclassified`` for OOD rows)
  macro_f1             mean F1 over the labels seen in truth or calls (scikit-learn's convention)
  abstention_rate      in-distribution rows called ``unclassified``
  selective_accuracy   accuracy over in-distribution rows that were not abstained on
  ood_rejection_rate   OOD rows called ``unclassified`` (None without OOD rows)
  confusion            rows: true species; columns: model species + ``unclassified``
  calibration          in-distribution rows: the confidence of the top class against whether the
                       top class is right, in equal-width bins; ECE = sum_b n_b/N |acc_b - conf_b|
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import numpy as np

from .atomic import atomic_open
from .calls import ASSEMBLY_RECORD, UNCLASSIFIED, CallsTable, read_calls
from .errors import InputError, read_input_text
from .split import SPLITS, parse_block_name

FRAGMENT_NAME = re.compile(r"^(?P<parent>.+):(?P<start>\d+)-(?P<end>\d+)$")
N_BINS = 10


def fragment_lengths(records) -> list[int | None]:
    """The nominal fragment length of each row's record name, None for rows that are not fragments.

    ``genomamba classify --fragment-length`` names fragments ``name:start-end`` starting at 0, so a
    name is a fragment only if its record also has one starting at 0 (names like
    ``NC_017063.1:459800-499800`` are whole records of a sliced genome). The nominal length is the
    span ``end - start``, except for the last fragment of a tiling (no fragment of the record starts
    where it ends, one ends where it starts), which takes the span of the one before it.
    """
    spans = {}
    for i, name in enumerate(records):
        m = FRAGMENT_NAME.match(name) if name != ASSEMBLY_RECORD else None
        if m:
            spans[i] = (m["parent"], int(m["start"]), int(m["end"]))
    tiled = {parent for parent, start, _ in spans.values() if start == 0}
    spans = {i: span for i, span in spans.items() if span[0] in tiled}
    starts = {(parent, start) for parent, start, _ in spans.values()}
    before = {}
    for parent, start, end in spans.values():
        before.setdefault((parent, end), []).append(end - start)
    out = [None] * len(records)
    for i, (parent, start, end) in spans.items():
        span = end - start
        previous = [s for s in before.get((parent, start), []) if s >= span]
        out[i] = min(previous) if (parent, end) not in starts and previous else span
    return out


def row_levels(records) -> list[str]:
    """``assembly`` for ``*``, ``fragment`` for fragments (see ``fragment_lengths``), else ``record``."""
    return ["assembly" if name == ASSEMBLY_RECORD else "record" if nominal is None else "fragment"
            for name, nominal in zip(records, fragment_lengths(records))]


def expected_call(species: str, known) -> str:
    """The right call for a sequence of ``species`` by a model that knows the species ``known``: the
    species itself, or ``unclassified`` if the model was not trained on it (out of distribution)."""
    return species if species in known else UNCLASSIFIED


# ---- metrics on plain label lists -----------------------------------------------------------

def accuracy(truth, pred) -> float | None:
    if not truth:
        return None
    return sum(t == p for t, p in zip(truth, pred)) / len(truth)


def macro_f1(truth, pred) -> float | None:
    """Unweighted mean of per-label F1 over every label in ``truth`` or ``pred``."""
    if not truth:
        return None
    scores = []
    for label in sorted(set(truth) | set(pred)):
        tp = sum(t == label and p == label for t, p in zip(truth, pred))
        fp = sum(t != label and p == label for t, p in zip(truth, pred))
        fn = sum(t == label and p != label for t, p in zip(truth, pred))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return sum(scores) / len(scores)


def confusion_matrix(true_species, calls, model_species) -> dict:
    """Counts with rows = true species (model species first, then others) and columns = model
    species + ``unclassified``."""
    rows = [s for s in model_species if s in set(true_species)]
    rows += sorted(set(true_species) - set(model_species))
    cols = list(model_species) + [UNCLASSIFIED]
    matrix = [[0] * len(cols) for _ in rows]
    for t, c in zip(true_species, calls):
        matrix[rows.index(t)][cols.index(c)] += 1
    return {"true": rows, "called": cols, "counts": matrix}


def calibration(confidence, correct, n_bins: int = N_BINS) -> dict:
    """Reliability bins (equal width on [0, 1]; 1.0 falls in the last) and the expected calibration
    error ECE = sum over bins of n_b/N * |accuracy_b - mean confidence_b|."""
    conf = np.asarray(confidence, dtype=float)
    ok = np.asarray(correct, dtype=float)
    which = np.minimum((conf * n_bins).astype(int), n_bins - 1) if conf.size else conf.astype(int)
    bins, ece = [], 0.0
    for b in range(n_bins):
        sel = which == b
        n = int(sel.sum())
        # the mean of a bin's values lies in the bin, but the rounding of the sum can put it a
        # step outside (the mean of three 0.7s is 0.6999999999999998)
        mean_conf = float(np.clip(conf[sel].mean(), b / n_bins, (b + 1) / n_bins)) if n else None
        acc = float(ok[sel].mean()) if n else None
        if n:
            ece += n / conf.size * abs(acc - mean_conf)
        bins.append({"lower": b / n_bins, "upper": (b + 1) / n_bins, "count": n,
                     "mean_confidence": mean_conf, "accuracy": acc})
    return {"bins": bins, "ece": float(ece) if conf.size else None, "n": int(conf.size)}


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def level_metrics(rows: list[dict], model_species: list[str]) -> dict:
    """All metrics for one level. Each row has ``species`` (the truth), ``call``, ``confidence``,
    ``top`` (the highest-probability species) and ``length``."""
    known = set(model_species)
    expected = [expected_call(r["species"], known) for r in rows]
    calls = [r["call"] for r in rows]
    in_dist = [r for r in rows if r["species"] in known]
    ood = [r for r in rows if r["species"] not in known]
    called = [r for r in in_dist if r["call"] != UNCLASSIFIED]
    total_bases = sum(r["length"] for r in rows)
    right_bases = sum(r["length"] for r, e in zip(rows, expected) if r["call"] == e)
    return {
        "n": len(rows),
        "n_in_distribution": len(in_dist),
        "n_ood": len(ood),
        "accuracy": accuracy(expected, calls),
        "macro_f1": macro_f1(expected, calls),
        "base_accuracy": _ratio(right_bases, total_bases),
        "abstention_rate": _ratio(sum(r["call"] == UNCLASSIFIED for r in in_dist), len(in_dist)),
        "selective_accuracy": _ratio(sum(r["call"] == r["species"] for r in called), len(called)),
        "ood_rejection_rate": _ratio(sum(r["call"] == UNCLASSIFIED for r in ood), len(ood)),
        "confusion": confusion_matrix([r["species"] for r in rows], calls, model_species),
        "calibration": calibration([r["confidence"] for r in in_dist],
                                   [r["top"] == r["species"] for r in in_dist]),
    }


# Per-read accuracy by read length: bins [edge_i, edge_i+1), and every read of at least the goal length.
READ_LENGTH_EDGES = (0, 1000, 2000, 5000, 10000)
READ_GOAL_LENGTH = 2000


def _kb(bases: int) -> str:
    return f"{bases / 1000:g}"


def read_length_bins(rows: list[dict], model_species, edges=READ_LENGTH_EDGES,
                     at_least: int = READ_GOAL_LENGTH) -> list[dict]:
    """``level_metrics`` of per-read rows grouped by read length (``length``): one entry per bin
    [edges[i], edges[i+1]) (the last open-ended), then one for every read of at least ``at_least``
    bases. Each entry has ``label``, ``min_length`` and ``max_length`` (None: no upper bound);
    empty bins are kept with n = 0."""
    bounds = [(lo, hi) for lo, hi in zip(edges, [*edges[1:], None])] + [(at_least, None)]
    out = []
    for k, (lo, hi) in enumerate(bounds):
        label = (f">= {_kb(lo)} kb" if k == len(bounds) - 1 else f"< {_kb(hi)} kb" if lo == 0 and hi
                 else f">= {_kb(lo)} kb" if hi is None else f"{_kb(lo)}-{_kb(hi)} kb")
        selected = [r for r in rows if r["length"] >= lo and (hi is None or r["length"] < hi)]
        out.append({"label": label, "min_length": lo, "max_length": hi,
                    **level_metrics(selected, model_species)})
    return out


# ---- from files to the metrics document ------------------------------------------------------

def split_truth(split) -> dict[str, dict]:
    """sample -> {species, strain, split, splits, store} for every sample of every split. In a
    region-block split a sample is in several splits: ``split`` joins them with '+'."""
    truth = {}
    for name in SPLITS:
        for row in split.samples(name):
            t = truth.setdefault(row.sample, {"species": row.species, "strain": row.strain, "splits": [],
                                              "store": row.store})
            if name not in t["splits"]:
                t["splits"].append(name)
    for t in truth.values():
        t["split"] = "+".join(t["splits"])
    return truth


def rows_in_split(rows: list[dict], split, sample: str, split_name: str) -> list[dict]:
    """Region-block splits: the calls rows whose block (``record@start-end``, or a fragment of it) is
    one of the sample's blocks in ``split_name``; the ``*`` row only if every other row's block is.
    Strain splits: all rows."""
    if split.mode != "region_blocks":
        return rows
    blocks = {(r.record, r.start, r.end): r.split for r in split.rows if r.sample == sample}
    of = [blocks.get(parse_block_name(r["record"])) if r["level"] != "assembly" else None for r in rows]
    whole = all(s == split_name for s, r in zip(of, rows) if r["level"] != "assembly")
    return [r for s, r in zip(of, rows) if s == split_name or (r["level"] == "assembly" and whole)]


def calls_by_sample(paths, truth) -> dict[str, Path]:
    """Map each calls file to its sample by file stem; unknown or repeated stems are errors."""
    mapping = {}
    for path in map(Path, paths):
        sample = path.name[:-len(".tsv")] if path.name.endswith(".tsv") else path.stem
        if sample not in truth:
            raise InputError(f"calls file names sample {sample!r}, which is not in the split", path)
        if sample in mapping:
            raise InputError(f"second calls file for sample {sample!r} (first: {mapping[sample]})", path)
        mapping[sample] = path
    return mapping


def table_rows(table: CallsTable, species: str) -> list[dict]:
    """The calls table as metric rows, tagged with level and truth."""
    rows = []
    nominal, levels = fragment_lengths(table.record), row_levels(table.record)
    for i in range(len(table)):
        probs = table.probs[i]
        rows.append({"level": levels[i], "record": table.record[i],
                     "length": table.length[i], "fragment_length": nominal[i], "call": table.call[i],
                     "confidence": table.confidence[i], "species": species,
                     "top": table.species[int(np.argmax(probs))]})
    return rows


def evaluate(split, calls_paths, *, model: str, splits=("test",), by_read_length: bool = False) -> dict:
    """The metrics document for one model (see the module docstring). ``by_read_length``: the
    record rows are reads; each split also gets ``read_length_bins`` (see ``read_length_bins``)."""
    truth = split_truth(split)
    mapping = calls_by_sample(calls_paths, truth)
    training_species = list(split.species)
    model_species = None
    per_split = {}
    for split_name in splits:
        wanted = [s for s, t in truth.items() if split_name in t["splits"]]
        missing = sorted(s for s in wanted if s not in mapping)
        if missing:
            print(f"genomamba evaluate: warning: no calls for {split_name} sample(s) "
                  f"{', '.join(missing)}", file=sys.stderr)
        rows = []
        for sample in sorted(s for s in wanted if s in mapping):
            table = read_calls(mapping[sample], training_species)
            if model_species is None:
                model_species = table.species
            elif table.species != model_species:
                raise InputError(f"p_ columns {table.species} differ from other files' {model_species}",
                                 mapping[sample], line=1)
            rows += [dict(r, sample=sample) for r in rows_in_split(
                table_rows(table, truth[sample]["species"]), split, sample, split_name)]
        species_order = model_species or training_species
        levels = []
        for level in ("assembly", "record"):
            level_rows = [r for r in rows if r["level"] == level]
            if level_rows:
                levels.append({"level": level, "fragment_length": None,
                               **level_metrics(level_rows, species_order)})
        fragments = [r for r in rows if r["level"] == "fragment"]
        for length in sorted({r["fragment_length"] for r in fragments}):
            levels.append({"level": "fragment", "fragment_length": length, **level_metrics(
                [r for r in fragments if r["fragment_length"] == length], species_order)})
        per_split[split_name] = {
            "samples": sorted(s for s in wanted if s in mapping),
            "missing_samples": missing,
            "ood_samples": sorted(s for s in wanted if s in mapping
                                  and truth[s]["species"] not in set(species_order)),
            "levels": levels,
        }
        if by_read_length:
            per_split[split_name]["read_length_bins"] = read_length_bins(
                [r for r in rows if r["level"] == "record"], species_order)
    return {
        "model": model,
        "species": model_species or training_species,
        "training_species": training_species,
        "calls": {s: str(p) for s, p in sorted(mapping.items())},
        "splits": per_split,
    }


def _finite(obj):
    """JSON has no NaN: replace non-finite floats with None."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def write_metrics(metrics: dict, path) -> None:
    with atomic_open(path) as fh:
        json.dump(_finite(metrics), fh, indent=1, sort_keys=False)
        fh.write("\n")


def _read_json(path, what: str):
    path = Path(path)
    text = read_input_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{what} is not valid JSON: {exc.msg}", path, line=exc.lineno) from None


def read_metrics(path) -> dict:
    """Read a metrics JSON written by ``write_metrics``."""
    doc = _read_json(path, "metrics")
    if not isinstance(doc, dict) or "model" not in doc or "splits" not in doc:
        raise InputError("not a genomamba metrics file (needs 'model' and 'splits')", path)
    return doc


def read_model_config(model_dir) -> dict:
    """A model folder's ``config.json`` (kind, species, threshold, ...), for the metrics document."""
    path = Path(model_dir) / "config.json"
    config = _read_json(path, "model config")
    if not isinstance(config, dict):
        raise InputError("model config is not a JSON object", path)
    return config
