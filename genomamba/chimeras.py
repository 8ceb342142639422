"""Seeded synthetic chimeras and contaminated assemblies, with a truth table of every piece.

From a host assembly (one species) and one or more donor assemblies (other species) it makes one
assembly (FASTA) holding:

* ``host`` records: the host's own records, unchanged, and ``host_pieces`` slices of them as
  ``host<i>`` records (lengths as a chimera's pieces, like the contigs of a draft assembly): real
  sequence, on which no breakpoint should be found;
* ``chimera<i>`` records: ``pieces`` pieces joined end to end, alternating between the host and a
  donor drawn at random for each chimera; a piece is a slice of a record drawn in proportion to its
  length, at a uniform offset, from either strand, its length log-uniform in [``piece_min``,
  ``piece_max``] (at most the record's length);
* ``contaminant<i>`` records: a donor's slice, length log-uniform in [``contaminant_min``,
  ``contaminant_max``].

The truth table has one row per piece: ``record start end species kind source source_record
source_start source_end strand`` (0-based half-open; ``source_*`` on the source's forward strand;
kind ``host``, ``chimera`` or ``contaminant``). A breakpoint is the end of a chimera's piece that is
not the record's end (``breakpoints``). Every random choice comes from ``seed``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .alphabet import decode, reverse_complement
from .atomic import atomic_open
from .errors import InputError

TRUTH_COLUMNS = ("record", "start", "end", "species", "kind", "source", "source_record", "source_start",
                 "source_end", "strand")


@dataclass(frozen=True)
class ChimeraParams:
    chimeras: int = 10
    pieces: int = 2
    piece_min: int = 20_000
    piece_max: int = 1_000_000
    contaminants: int = 10
    contaminant_min: int = 5_000
    contaminant_max: int = 200_000
    keep_host: bool = True
    host_pieces: int = 0

    def check(self) -> None:
        if min(self.chimeras, self.contaminants, self.host_pieces) < 0:
            raise InputError(f"the numbers of chimeras, contaminants and host pieces must be >= 0, got "
                             f"{self.chimeras}, {self.contaminants} and {self.host_pieces}")
        if self.pieces < 2:
            raise InputError(f"a chimera has at least 2 pieces, got {self.pieces}")
        for low, high, what in ((self.piece_min, self.piece_max, "piece"),
                                (self.contaminant_min, self.contaminant_max, "contaminant")):
            if not 0 < low <= high:
                raise InputError(f"{what} lengths need 0 < min <= max, got {low} and {high}")


@dataclass
class Source:
    """One assembly in memory: its species, path, record names and token arrays."""
    species: str
    path: str
    names: list[str] = field(default_factory=list)
    sequences: list[np.ndarray] = field(default_factory=list)

    @classmethod
    def read(cls, species: str, path) -> "Source":
        from .simulate import Assembly

        assembly = Assembly.read(path)
        if assembly.lengths.sum() == 0:
            raise InputError("the assembly has no bases", path)
        return cls(species, str(path), assembly.names, assembly.sequences)


@dataclass
class Piece:
    record: str
    start: int
    end: int
    species: str
    kind: str
    source: str
    source_record: str
    source_start: int
    source_end: int
    strand: str


def _log_uniform(rng, low: int, high: int) -> int:
    return int(round(np.exp(rng.uniform(np.log(low), np.log(high)))))


def _slice(rng, source: Source, length: int):
    """A random slice of ``source`` of ``length`` bases at most: (tokens, record, start, end, strand)."""
    sizes = np.array([len(s) for s in source.sequences], np.float64)
    which = int(rng.choice(len(sizes), p=sizes / sizes.sum()))
    size = int(sizes[which])
    length = min(length, size)
    start = int(rng.integers(0, size - length + 1))
    tokens = source.sequences[which][start:start + length]
    strand = "-" if rng.random() < 0.5 else "+"
    if strand == "-":
        tokens = reverse_complement(tokens)
    return tokens, source.names[which], start, start + length, strand


def simulate_chimeras(host: Source, donors: list[Source], params: ChimeraParams, seed: int):
    """The records (name, tokens) of the synthetic assembly and its truth (``Piece`` rows)."""
    params.check()
    if not donors:
        raise InputError("at least one donor assembly is needed")
    same = [d.path for d in donors if d.species == host.species]
    if same:
        raise InputError(f"a donor of the host's species {host.species!r}", same[0])
    rng = np.random.default_rng(seed)
    records, truth = [], []
    if params.keep_host:
        for name, tokens in zip(host.names, host.sequences):
            records.append((name, tokens))
            truth.append(Piece(name, 0, len(tokens), host.species, "host", host.path, name, 0, len(tokens), "+"))
    for i in range(params.host_pieces):
        name = f"host{i}"
        tokens, record, start, end, strand = _slice(rng, host, _log_uniform(rng, params.piece_min, params.piece_max))
        records.append((name, tokens))
        truth.append(Piece(name, 0, len(tokens), host.species, "host", host.path, record, start, end, strand))
    for i in range(params.chimeras):
        name, parts, at = f"chimera{i}", [], 0
        donor = donors[int(rng.integers(len(donors)))]
        first_host = rng.random() < 0.5
        for j in range(params.pieces):
            source = host if (j % 2 == 0) == first_host else donor
            tokens, record, start, end, strand = _slice(rng, source, _log_uniform(rng, params.piece_min,
                                                                                  params.piece_max))
            parts.append(tokens)
            truth.append(Piece(name, at, at + len(tokens), source.species, "chimera", source.path, record,
                               start, end, strand))
            at += len(tokens)
        records.append((name, np.concatenate(parts)))
    for i in range(params.contaminants):
        name = f"contaminant{i}"
        donor = donors[int(rng.integers(len(donors)))]
        tokens, record, start, end, strand = _slice(rng, donor, _log_uniform(rng, params.contaminant_min,
                                                                             params.contaminant_max))
        records.append((name, tokens))
        truth.append(Piece(name, 0, len(tokens), donor.species, "contaminant", donor.path, record, start, end,
                           strand))
    names = [name for name, _ in records]
    if len(set(names)) != len(names):
        clash = next(n for n in names if names.count(n) > 1)
        raise InputError(f"record name {clash!r} occurs twice in the output (rename the host's record)", host.path)
    return records, truth


def breakpoints(truth) -> list[tuple[str, int, int, int]]:
    """(record, position, length of the piece before, length of the piece after) of every join."""
    out = []
    for before, after in zip(truth[:-1], truth[1:]):
        if before.record == after.record and before.end == after.start:
            out.append((before.record, before.end, before.end - before.start, after.end - after.start))
    return out


def write_fasta(path, records, width: int = 80) -> None:
    with atomic_open(path, "wb") as fh:
        for name, tokens in records:
            fh.write(f">{name}\n".encode())
            text = decode(tokens)
            for i in range(0, len(text), width):
                fh.write(text[i:i + width] + b"\n")


def write_truth(path, truth) -> None:
    with atomic_open(path, newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(TRUTH_COLUMNS)
        for p in truth:
            writer.writerow([p.record, p.start, p.end, p.species, p.kind, p.source, p.source_record,
                             p.source_start, p.source_end, p.strand])


def read_truth(path) -> list[Piece]:
    """Read a truth table; a malformed row is an InputError naming the file, record and line."""
    from .errors import open_input

    pieces = []
    with open_input(path, "truth table", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        if tuple(next(reader, ())) != TRUTH_COLUMNS:
            raise InputError(f"not a truth table: the header must be {' '.join(TRUTH_COLUMNS)}", path, line=1)
        for line, row in enumerate(reader, start=2):
            if len(row) != len(TRUTH_COLUMNS):
                raise InputError(f"{len(row)} fields, expected {len(TRUTH_COLUMNS)}", path,
                                 row[0] if row else None, line)
            try:
                pieces.append(Piece(row[0], int(row[1]), int(row[2]), row[3], row[4], row[5], row[6],
                                    int(row[7]), int(row[8]), row[9]))
            except ValueError as exc:
                raise InputError(f"not a number: {exc}", path, row[0], line) from None
    return pieces


def parse_source(text: str, option: str) -> tuple[str, Path]:
    """``SPECIES=PATH`` (a command-line argument) -> (species, path)."""
    species, sep, path = text.partition("=")
    if not sep or not species.strip() or not path:
        raise InputError(f"{option} takes SPECIES=PATH, got {text!r}")
    if not Path(path).exists():
        raise InputError("no such file or directory", path)
    return species.strip(), Path(path)
