"""Assign samples to train / validation / test: by strain (the default) or by genomic region blocks.

By strain, no strain is in two splits. The rule, per species (strains are keyed by species and strain name; all samples of a strain follow it):

* A species that is not a training species is out-of-distribution: all its samples go to `test`
  (models should call them `unclassified`).
* A training species' strains are sorted, then shuffled with a generator seeded from the seed and the
  species name (so adding a species never moves another one's strains), then dealt in that order:
  first the `test` strains, then the `validation` strains, the rest to `train`.
* How many go to each: one to `train` first, then (if its fraction is > 0) one to `test`, then one to
  `validation` -- so a species with >= 3 strains is in all three splits, one with 2 strains in train and
  test, one with a single strain in train only (noted). Each further strain goes to the split whose
  count is furthest below its target (fraction x strains), ties in the order train, test, validation.

By region blocks (``make_region_split``; for closely related genomes in the same coordinates, such as
syntenic chromosome regions of several species), every sample is in every split, region by region:

* Record j of every training sample is cut into n_j blocks *by fraction of its length* (block k is
  [floor(k L / n_j), floor((k+1) L / n_j)) of a record of length L), n_j = round(mean length of record
  j over the samples / block_length), at least 1. So block (j, k) is the same relative region in every
  sample; the samples must have the same number of records, in the same order.
* The block indices are shuffled with a generator seeded from the seed, then dealt like strains above
  (``strain_counts``): every sample gets the same block assignment, so a region is never trained on in
  one species and tested in another.
* Where two neighbouring blocks are in different splits, ``margin`` bases between them are left out
  (margin // 2 from the end of the first, the rest from the start of the second), so windows near a
  boundary never reach into another split's region.
* Samples of species that are not training species are test only, each record one whole block.

The table then has one row per block, columns ``sample species strain split store record start end``
(0-based, half-open); ``Split.samples(name)`` gives the blocks of a split, ``sample_blocks`` groups them
by sample. The strain table (no record/start/end) is read and written as before.
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_open
from .errors import ConfigError, InputError, open_input

SPLITS = ("train", "validation", "test")
COLUMNS = ("sample", "species", "strain", "split", "store")
BLOCK_COLUMNS = COLUMNS + ("record", "start", "end")
MODES = ("strain", "region_blocks")
_FILL_ORDER = ("train", "test", "validation")  # who gets the first strains and wins ties


@dataclass(frozen=True)
class SplitRow:
    sample: str
    species: str
    strain: str
    split: str
    store: str
    record: str | None = None  # region blocks only: the block is record[start:end]
    start: int | None = None
    end: int | None = None

    @property
    def block(self) -> str:
        """The block's name (``block_name``); only for region-block rows."""
        return block_name(self.record, self.start, self.end)


def block_name(record: str, start: int, end: int) -> str:
    """``record@start-end``: a block as a record name. Not ``record:start-end``, which is how
    ``genomamba classify`` names fragments (fragments of a block are ``record@start-end:0-1024``)."""
    return f"{record}@{start}-{end}"


BLOCK_NAME = re.compile(r"^(?P<record>.+)@(?P<start>\d+)-(?P<end>\d+)(?::\d+-\d+)?$")


def parse_block_name(name: str) -> tuple[str, int, int] | None:
    """(record, start, end) of a block name or of a fragment of one; None for other names."""
    m = BLOCK_NAME.match(name)
    return (m["record"], int(m["start"]), int(m["end"])) if m else None


class Split:
    """The split table: rows in sample-sheet order (region mode: one per block, in record order);
    ``species`` are the training species, sorted."""

    def __init__(self, rows, notes=()):
        self.rows = list(rows)
        self.notes = list(notes)
        self.species = sorted({r.species for r in self.rows if r.split == "train"})

    def samples(self, split_name: str) -> list[SplitRow]:
        if split_name not in SPLITS:
            raise ValueError(f"unknown split {split_name!r}; expected one of {', '.join(SPLITS)}")
        return [r for r in self.rows if r.split == split_name]

    def sample_names(self, split_names) -> list[str]:
        """Each sample with a row in any of ``split_names`` once, in table order."""
        wanted = set(split_names)
        return list(dict.fromkeys(r.sample for r in self.rows if r.split in wanted))

    @property
    def mode(self) -> str:
        """``region_blocks`` if rows are blocks of records, else ``strain``."""
        return "region_blocks" if self.rows and self.rows[0].record is not None else "strain"

    def sample_blocks(self, split_name: str) -> list[tuple[str, list[SplitRow]]]:
        """(sample, its rows of this split) in table order: one row per sample in strain mode, its
        blocks in region mode."""
        grouped = {}
        for row in self.samples(split_name):
            grouped.setdefault(row.sample, []).append(row)
        return list(grouped.items())

    @property
    def ood_species(self) -> list[str]:
        """Species present only in test: not trained on, expected to be called unclassified."""
        return sorted({r.species for r in self.rows} - set(self.species))

    def write(self, path) -> None:
        columns = BLOCK_COLUMNS if self.mode == "region_blocks" else COLUMNS
        with atomic_open(path, newline="") as fh:
            writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
            writer.writerow(columns)
            writer.writerows([getattr(r, c) for c in columns] for r in self.rows)

    @classmethod
    def read(cls, path) -> "Split":
        path = Path(path)
        with open_input(path, "split table", newline="") as fh:
            reader = csv.reader(fh, delimiter="\t")
            header = tuple(next(reader, None) or ())
            if header not in (COLUMNS, BLOCK_COLUMNS):
                raise InputError(f"header must be {' '.join(COLUMNS)} (by strain) or "
                                 f"{' '.join(BLOCK_COLUMNS)} (region blocks), tab-separated", path, line=1)
            rows = [_parse_row(fields, header, path, n) for n, fields in enumerate(reader, 2)]
        if header == BLOCK_COLUMNS:
            check_blocks_disjoint(rows, path)
        else:
            check_strains_disjoint(rows, path)
        return cls(rows)

    def __eq__(self, other):
        return isinstance(other, Split) and self.rows == other.rows

    def __repr__(self):
        counts = {s: len(self.samples(s)) for s in SPLITS}
        return f"Split({counts}, species={self.species})"


def _parse_row(fields, header, path, n: int) -> SplitRow:
    if len(fields) != len(header):
        raise InputError(f"{len(fields)} fields, expected {len(header)}", path, line=n)
    values = dict(zip(header, fields))
    if "start" in values:
        try:
            values["start"], values["end"] = int(values["start"]), int(values["end"])
        except ValueError:
            raise InputError("start and end must be integers", path, record=values["sample"], line=n) from None
        if not 0 <= values["start"] < values["end"]:
            raise InputError(f"block {values['start']}-{values['end']} is empty or negative", path,
                             record=values["sample"], line=n)
    row = SplitRow(**values)
    if row.split not in SPLITS:
        raise InputError(f"split {row.split!r} is not one of {', '.join(SPLITS)}", path, record=row.sample, line=n)
    return row


def check_blocks_disjoint(rows, path=None) -> None:
    """Blocks of one sample's record never overlap (whatever their splits)."""
    by_record = {}
    for row in rows:
        by_record.setdefault((row.sample, row.record), []).append(row)
    for (sample, record), blocks in by_record.items():
        blocks.sort(key=lambda r: r.start)
        for before, after in zip(blocks, blocks[1:]):
            if after.start < before.end:
                raise InputError(f"blocks {before.block} ({before.split}) and {after.block} ({after.split}) "
                                 "overlap", path, record=sample)


def check_strains_disjoint(rows, path=None) -> None:
    where = {}
    for row in rows:
        first = where.setdefault((row.species, row.strain), row)
        if first.split != row.split:
            raise InputError(f"strain {row.strain!r} of {row.species} is in both {first.split!r} "
                             f"(sample {first.sample!r}) and {row.split!r}", path, record=row.sample)


def check_fractions(fractions) -> dict[str, float]:
    """(train, validation, test) -> mapping; non-negative, train > 0, summing to 1."""
    fractions = [float(f) for f in fractions]
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ConfigError(f"split fractions must be three non-negative numbers (train validation test) "
                          f"summing to 1, got {fractions}")
    if fractions[0] == 0:
        raise ConfigError("the train fraction must be > 0")
    return dict(zip(SPLITS, fractions))


def strain_counts(n: int, fractions: dict[str, float]) -> dict[str, int]:
    """How many of a species' n strains go to each split (the rule in the module docstring)."""
    counts = dict.fromkeys(SPLITS, 0)
    for name in _FILL_ORDER:
        if sum(counts.values()) < n and (name == "train" or fractions[name] > 0):
            counts[name] = 1
    for _ in range(n - sum(counts.values())):
        name = max(_FILL_ORDER, key=lambda s: (fractions[s] * n - counts[s], -_FILL_ORDER.index(s)))
        counts[name] += 1
    return counts


def assign_strains(strains, fractions: dict[str, float], rng: random.Random) -> dict[str, str]:
    """strain -> split for one training species."""
    order = sorted(set(strains))
    rng.shuffle(order)
    counts = strain_counts(len(order), fractions)
    dealt = ["test"] * counts["test"] + ["validation"] * counts["validation"] + ["train"] * counts["train"]
    return dict(zip(order, dealt))


def make_split(samples, *, seed: int, fractions=(0.6, 0.2, 0.2), species=None,
               stores_dir="results/stores") -> Split:
    """Split samples (objects with .sample, .species, .strain) by strain; ``species``: the training
    species (default: all). Returns the Split with ``notes`` saying what needed a special rule."""
    fractions = check_fractions(fractions)
    present = sorted({s.species for s in samples})
    training = sorted(species) if species else present
    absent = [s for s in training if s not in present]
    if absent:
        raise ConfigError(f"training species {', '.join(map(repr, absent))} have no samples")

    assignment, notes = {}, []
    for name in present:
        strains = sorted({s.strain for s in samples if s.species == name})
        if name not in training:
            assignment.update({(name, strain): "test" for strain in strains})
            notes.append(f"{name}: not a training species; its {len(strains)} strain(s) are test only "
                         "(expected call: unclassified)")
            continue
        rng = random.Random(f"{seed}:{name}")  # str seeds are hashed deterministically
        assignment.update({(name, strain): split
                           for strain, split in assign_strains(strains, fractions, rng).items()})
        if len(strains) < 3:
            placed = ", ".join(f"{st} -> {assignment[(name, st)]}" for st in strains)
            notes.append(f"{name}: only {len(strains)} strain(s), not in every split ({placed})")
    rows = [SplitRow(s.sample, s.species, s.strain, assignment[(s.species, s.strain)],
                     str(Path(stores_dir) / f"{s.sample}.zarr")) for s in samples]
    return Split(rows, notes)


def record_blocks(length: int, n_blocks: int) -> list[tuple[int, int]]:
    """``n_blocks`` consecutive blocks covering [0, length), by fraction of the length."""
    return [(k * length // n_blocks, (k + 1) * length // n_blocks) for k in range(n_blocks)]


def make_region_split(samples, records, *, seed: int, block_length: int, margin: int = 0,
                      fractions=(0.6, 0.2, 0.2), species=None, stores_dir="results/stores") -> Split:
    """Split samples region by region (the rule in the module docstring). ``records``: sample ->
    [(record name, length), ...] in store order."""
    fractions = check_fractions(fractions)
    if block_length < 1 or margin < 0:
        raise ConfigError(f"block_length must be >= 1 and margin >= 0, got {block_length} and {margin}")
    present = sorted({s.species for s in samples})
    training = sorted(species) if species else present
    absent = [s for s in training if s not in present]
    if absent:
        raise ConfigError(f"training species {', '.join(map(repr, absent))} have no samples")
    layouts = {s.sample: records[s.sample] for s in samples if s.species in training}
    n_records = {len(layout) for layout in layouts.values()}
    if len(n_records) != 1:
        raise ConfigError("region blocks need the same number of records in every training sample, found "
                          + ", ".join(f"{name}: {len(layout)}" for name, layout in layouts.items()))
    n_blocks = [max(1, round(np.mean([layout[j][1] for layout in layouts.values()]) / block_length))
                for j in range(n_records.pop())]
    ids = [(j, k) for j, n in enumerate(n_blocks) for k in range(n)]
    dealt = assign_strains(ids, fractions, random.Random(f"{seed}:region_blocks"))
    notes = [f"{len(ids)} blocks of about {block_length} bases, margin {margin}: "
             + ", ".join(f"{sum(v == s for v in dealt.values())} {s}" for s in SPLITS)]
    rows = []
    for s in samples:
        store = str(Path(stores_dir) / f"{s.sample}.zarr")
        if s.species not in training:
            rows += [SplitRow(s.sample, s.species, s.strain, "test", store, name, 0, length)
                     for name, length in records[s.sample] if length > 0]
            continue
        for j, (name, length) in enumerate(records[s.sample]):
            blocks = record_blocks(length, n_blocks[j])
            for k, (start, end) in enumerate(blocks):
                here = dealt[(j, k)]
                if k > 0 and dealt[(j, k - 1)] != here:
                    start += margin - margin // 2
                if k + 1 < len(blocks) and dealt[(j, k + 1)] != here:
                    end -= margin // 2
                if start >= end:
                    raise ConfigError(f"sample {s.sample}, record {name}: margin {margin} leaves nothing of "
                                      f"block {k} (blocks of {length // n_blocks[j]} bases)")
                rows.append(SplitRow(s.sample, s.species, s.strain, here, store, name, start, end))
    return Split(rows, notes)


def summary(split: Split) -> str:
    """A few lines: samples and strains (blocks and bases by region) per split and species, then the notes."""
    lines = ["species\t" + "\t".join(SPLITS)]
    for name in sorted({r.species for r in split.rows}):
        if split.mode == "region_blocks":
            cells = [f"{sum(r.species == name for r in split.samples(s))} blocks, "
                     f"{sum(r.end - r.start for r in split.samples(s) if r.species == name)} bp" for s in SPLITS]
        else:
            cells = [str(len({r.strain for r in split.samples(s) if r.species == name})) for s in SPLITS]
        lines.append(f"{name}\t" + "\t".join(cells))
    lines += [f"note: {n}" for n in split.notes]
    return "\n".join(lines)
