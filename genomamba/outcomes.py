"""Row by row outcomes behind a metrics document, for intervals and calibration.

A metrics document (``genomamba evaluate``) holds totals; intervals that respect how rows depend on
each other need the rows. ``document_outcomes`` reads the calls files a document lists and tags every
row with its level, group and outcome, the same way ``genomamba.evaluate`` scores it; ``rates`` turns
the rows of one level into rates with 95% intervals:

  assembly level       one row per genome, independent: Wilson interval over the rows
  record, fragments    rows of one genome share its answer: bootstrap over the genomes (region-block
                       splits: over the blocks); with a single genome, Wilson over the rows, marked as
                       treating them as independent (too narrow)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .calls import UNCLASSIFIED, read_calls
from .errors import InputError
from .evaluate import FRAGMENT_NAME, calibration, expected_call, rows_in_split, split_truth, table_rows
from .split import parse_block_name
from .stats import bootstrap_rate, wilson


@dataclass(frozen=True)
class Rate:
    """k of n with a 95% interval; ``method`` says how the interval was made, ``groups`` how many
    genomes (or blocks) the rows came from."""
    k: int
    n: int
    low: float | None
    high: float | None
    method: str
    groups: int
    estimate: float | None = None  # a rate known without its counts (old metrics files)

    @property
    def value(self) -> float | None:
        if self.estimate is not None:
            return self.estimate
        return self.k / self.n if self.n else None


def level_key(level: dict) -> tuple[str, int | None]:
    return level["level"], level.get("fragment_length")


def _group(row: dict, split) -> str:
    """The unit of resampling: the genome (sample), or in a region-block split the block."""
    if split.mode != "region_blocks" or row["level"] == "assembly":
        return row["sample"]
    m = FRAGMENT_NAME.match(row["record"]) if row["level"] == "fragment" else None
    name = m["parent"] if m else row["record"]
    return f"{row['sample']}/{parse_block_name(name) or name}"


def document_outcomes(doc: dict, split) -> dict[str, list[dict]]:
    """split name -> rows of every calls file the document lists, each with ``level``,
    ``fragment_length``, ``sample``, ``group``, ``species`` (truth), ``expected``, ``call``,
    ``confidence``, ``top``, ``top_p``, ``in_distribution``. Raises InputError when a listed calls
    file cannot be read (the caller falls back to the document's totals)."""
    truth = split_truth(split)
    known = set(doc.get("species") or split.species)
    out = {}
    for split_name in doc.get("splits", {}):
        rows = []
        for sample, path in sorted(doc.get("calls", {}).items()):
            if sample not in truth or split_name not in truth[sample]["splits"]:
                continue
            table = read_calls(Path(path), list(split.species))
            tops = np.max(np.asarray(table.probs, dtype=float), axis=1) if len(table) else []
            tagged = [dict(r, sample=sample, top_p=float(p))
                      for r, p in zip(table_rows(table, truth[sample]["species"]), tops)]
            for r in rows_in_split(tagged, split, sample, split_name):
                r["in_distribution"] = r["species"] in known
                r["expected"] = expected_call(r["species"], known)
                r["group"] = _group(r, split)
                rows.append(r)
        out[split_name] = rows
    return out


def rows_of_level(rows: list[dict], key: tuple[str, int | None]) -> list[dict]:
    level, length = key
    return [r for r in rows if r["level"] == level and (level != "fragment" or r["fragment_length"] == length)]


def rate(rows: list[dict], success, seed: int) -> Rate | None:
    """The rate of ``success(row)`` over ``rows`` with its interval (see the module docstring)."""
    if not rows:
        return None
    k = sum(bool(success(r)) for r in rows)
    groups = {}
    for r in rows:
        g = groups.setdefault(r["group"], [0, 0])
        g[0] += bool(success(r))
        g[1] += 1
    if rows[0]["level"] == "assembly" or len(groups) == len(rows):
        low_high, method = wilson(k, len(rows)), "Wilson"
    else:
        low_high = bootstrap_rate(groups.values(), seed)
        method = f"bootstrap over {len(groups)} genomes"
        if low_high is None:
            low_high, method = wilson(k, len(rows)), "Wilson, rows of 1 genome treated as independent"
    low, high = low_high or (None, None)
    return Rate(k, len(rows), low, high, method, len(groups))


def rates(rows: list[dict], seed: int) -> dict[str, Rate | None]:
    """accuracy, abstention_rate, selective_accuracy, ood_rejection_rate of one level's rows, as
    ``genomamba.evaluate.level_metrics`` defines them, each with its interval."""
    in_dist = [r for r in rows if r["in_distribution"]]
    ood = [r for r in rows if not r["in_distribution"]]
    return {
        "accuracy": rate(rows, lambda r: r["call"] == r["expected"], seed),
        "abstention_rate": rate(in_dist, lambda r: r["call"] == UNCLASSIFIED, seed),
        "selective_accuracy": rate([r for r in in_dist if r["call"] != UNCLASSIFIED],
                                   lambda r: r["call"] == r["species"], seed),
        "ood_rejection_rate": rate(ood, lambda r: r["call"] == UNCLASSIFIED, seed),
    }


def calibrations(rows: list[dict]) -> dict[str, dict]:
    """Two reliability analyses of the in-distribution rows:

    ``call``: the calls table's confidence against whether the *call* is right -- an
    ``unclassified`` call of a known species is wrong, whatever its top species;
    ``top``: the highest species probability against whether that species is right (the model's
    probabilities as such, before the threshold turns some calls into ``unclassified``)."""
    in_dist = [r for r in rows if r["in_distribution"]]
    return {"call": calibration([r["confidence"] for r in in_dist],
                                [r["call"] == r["species"] for r in in_dist]),
            "top": calibration([r["top_p"] for r in in_dist], [r["top"] == r["species"] for r in in_dist])}


def model_outcomes(docs: list[dict], split) -> tuple[dict, list[str]]:
    """model -> split -> level key -> rows, from every document of each model (the first document
    that has a level wins, as in the report's merge); and notes on documents whose calls could not
    be read."""
    out, notes = {}, []
    for doc in docs:
        try:
            per_split = document_outcomes(doc, split)
        except (InputError, OSError) as exc:
            notes.append(f"{doc['model']}: calls listed in its metrics could not be read ({exc}); "
                         "its intervals are missing")
            continue
        model = out.setdefault(doc["model"], {})
        for split_name, rows in per_split.items():
            levels = model.setdefault(split_name, {})
            for lv in doc["splits"][split_name].get("levels", []):
                levels.setdefault(level_key(lv), rows_of_level(rows, level_key(lv)))
    return out, notes
