"""The calls table: one row per record (or fragment) and one per input file, and how rows aggregate.

Columns: ``file record length call confidence p_<species>...`` (tab-separated). Species names go
into column names with every space, tab or newline replaced by ``_`` (``p_Escherichia_coli``);
``species_from_column`` maps them back; ``read_calls`` reads a table.

Rows:
  record       one per record, or per fragment ``name:start-end`` (0-based, half-open) with
               ``--fragment-length``; ``length`` is the number of bases scored.
  ``*``        one per input file, after its records: the assembly-level call. Its probabilities are
               the length-weighted mean of its rows' probabilities, its confidence the length-weighted
               mean of their confidences, its length their total. A file without scored bases gets a
               ``*`` row of length 0, uniform probabilities, confidence 0, call ``unclassified``.
  p_<species>  the model's probability of each species; they sum to 1, or to less where the model
               also has a "no species" class (the neural and k-mer models, ``genomamba.negatives``)
  call         the most probable species, or ``unclassified`` when confidence < the model's threshold
               or confidence is 0 (nothing scored, or rejected as out of distribution).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError, open_input
from .outputs import open_output

UNCLASSIFIED = "unclassified"
ASSEMBLY_RECORD = "*"
PROB_PREFIX = "p_"
COLUMNS = ("file", "record", "length", "call", "confidence")
_UNSAFE = re.compile(r"[\s]")


def prob_column(species: str) -> str:
    """``Escherichia coli`` -> ``p_Escherichia_coli`` (TSV-safe: whitespace becomes ``_``)."""
    return PROB_PREFIX + _UNSAFE.sub("_", species)


def header(species) -> list[str]:
    return [*COLUMNS, *(prob_column(s) for s in species)]


def decide(probs, confidence: float, species, threshold: float) -> str:
    """The species with the highest probability, or ``unclassified`` below the threshold or at
    confidence 0 (no evidence: nothing scored, or out of distribution)."""
    if confidence <= 0 or confidence < threshold or len(probs) == 0:
        return UNCLASSIFIED
    return species[int(np.argmax(probs))]


def aggregate(lengths, probs, confidences) -> tuple[np.ndarray, float]:
    """Length-weighted mean of row probabilities and confidences (uniform, 0 if no bases)."""
    lengths = np.asarray(lengths, dtype=np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    total = lengths.sum()
    if total <= 0:
        n = probs.shape[1] if probs.ndim == 2 else 0
        return np.full(n, 1.0 / n if n else 0.0), 0.0
    weights = lengths / total
    return weights @ probs, float(weights @ np.asarray(confidences, dtype=np.float64))


def _number(x: float) -> str:
    return f"{min(max(float(x), 0.0), 1.0):.6g}"


class CallsWriter:
    """Writes a calls table atomically: ``add(file, record, length, probs, confidence)`` per record,
    ``end_file(file)`` after a file's records (writes its ``*`` row). Keeps only running sums per
    file, so memory does not grow with the number of records."""

    def __init__(self, path, species, threshold: float):
        self.path, self.species, self.threshold = path, list(species), float(threshold)
        self._fh = None
        self._writer = None
        self._context = None
        self._reset()

    def __enter__(self):
        self._context = open_output(self.path, newline="")  # "-": standard output
        self._fh = self._context.__enter__()
        self._writer = csv.writer(self._fh, delimiter="\t", lineterminator="\n")
        self._writer.writerow(header(self.species))
        return self

    def __exit__(self, *exc_info):
        return self._context.__exit__(*exc_info)

    def _reset(self):
        self._length = 0
        self._weighted_probs = np.zeros(len(self.species))
        self._weighted_confidence = 0.0

    def _row(self, file, record, length, probs, confidence) -> str:
        call = decide(probs, confidence, self.species, self.threshold)
        self._writer.writerow([file, record, int(length), call, _number(confidence),
                               *(_number(p) for p in probs)])
        return call

    def add(self, file, record, length: int, probs, confidence: float) -> str:
        """Write one record's row; returns its call."""
        probs = np.asarray(probs, dtype=np.float64)
        if probs.shape != (len(self.species),):
            raise ValueError(f"expected {len(self.species)} probabilities, got shape {probs.shape}")
        self._length += length
        self._weighted_probs += length * probs
        self._weighted_confidence += length * float(confidence)
        return self._row(file, record, length, probs, confidence)

    def end_file(self, file) -> str:
        """Write the file's ``*`` row (see the module docstring) and start the next file."""
        if self._length > 0:
            probs = self._weighted_probs / self._length
            confidence = self._weighted_confidence / self._length
        else:
            probs, confidence = np.full(len(self.species), 1.0 / len(self.species)), 0.0
        call = self._row(file, ASSEMBLY_RECORD, self._length, probs, confidence)
        self._reset()
        return call


def calibrate_threshold(confidences, correct, target_accuracy: float, floor: float = 0.0) -> float:
    """The lowest confidence threshold t >= ``floor`` whose kept calls (confidence >= t) are right at
    least ``target_accuracy`` of the time; if no t reaches the target, the t with the best such
    accuracy. Used on validation data, so that abstaining trades coverage for accuracy."""
    confidences = np.asarray(confidences, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    if confidences.size == 0:
        return float(floor)
    order = np.argsort(-confidences, kind="stable")
    conf_sorted, right = confidences[order], correct[order]
    kept_accuracy = np.cumsum(right) / np.arange(1, len(right) + 1)
    # a threshold at conf_sorted[i] keeps every row with that confidence: use the last of each tie
    last_of_tie = np.r_[conf_sorted[1:] != conf_sorted[:-1], True]
    candidates = np.flatnonzero(last_of_tie)
    reaching = candidates[kept_accuracy[candidates] >= target_accuracy]
    if reaching.size:
        chosen = reaching[-1]  # the most rows kept
    else:  # never reached: the best kept accuracy, the lowest threshold among ties
        chosen = candidates[len(candidates) - 1 - np.argmax(kept_accuracy[candidates][::-1])]
    if chosen == len(right) - 1:
        return float(floor)  # every validation call kept
    return float(max(conf_sorted[chosen], floor))


@dataclass
class CallsTable:
    """One calls file: the model's species (from the ``p_`` columns) and its rows."""

    path: Path
    species: list[str]
    file: list[str] = field(default_factory=list)
    record: list[str] = field(default_factory=list)
    length: list[int] = field(default_factory=list)
    call: list[str] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)
    probs: list[list[float]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.record)


def species_from_column(column: str, known=()) -> str:
    """``p_Escherichia_coli`` -> ``Escherichia coli`` (a known name wins over the underscore rule)."""
    key = column[len(PROB_PREFIX):]
    for name in known:
        if name.replace(" ", "_") == key:
            return name
    return key.replace("_", " ")


def read_calls(path, known_species=()) -> CallsTable:
    """Read a calls TSV; bad rows raise InputError naming the file, record and line."""
    path = Path(path)
    with open_input(path, "calls table", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        header = next(reader, None)
        if header is None:
            raise InputError("empty calls table (no header)", path, line=1)
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise InputError(f"calls table lacks column(s) {', '.join(missing)}", path, line=1)
        index = {c: header.index(c) for c in COLUMNS}
        prob_cols = [i for i, c in enumerate(header) if c.startswith(PROB_PREFIX)]
        if not prob_cols:
            raise InputError("calls table has no p_<species> columns", path, line=1)
        table = CallsTable(path, [species_from_column(header[i], known_species) for i in prob_cols])
        allowed_calls = set(table.species) | {UNCLASSIFIED}
        for line_no, row in enumerate(reader, start=2):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            record = row[index["record"]] if len(row) > index["record"] else None
            if len(row) != len(header):
                raise InputError(f"expected {len(header)} columns, found {len(row)}", path, record, line_no)
            try:
                length = int(row[index["length"]])
                confidence = float(row[index["confidence"]])
                probs = [float(row[i]) for i in prob_cols]
            except ValueError as exc:
                raise InputError(f"not a number: {exc}", path, record, line_no) from None
            if length < 0 or not 0.0 <= confidence <= 1.0 or not all(0.0 <= p <= 1.0 for p in probs):
                raise InputError("length must be >= 0, confidence and p_ values in [0, 1]",
                                 path, record, line_no)
            call = row[index["call"]]
            if call not in allowed_calls:
                raise InputError(f"call {call!r} is neither a p_ column species nor {UNCLASSIFIED!r}",
                                 path, record, line_no)
            table.file.append(row[index["file"]])
            table.record.append(record)
            table.length.append(length)
            table.call.append(call)
            table.confidence.append(confidence)
            table.probs.append(probs)
    return table
