"""Assign samples to train / validation / test by strain, so that no strain is in two splits.

The rule, per species (strains are keyed by species and strain name; all samples of a strain follow it):

* A species that is not a training species is out-of-distribution: all its samples go to `test`
  (models should call them `unclassified`).
* A training species' strains are sorted, then shuffled with a generator seeded from the seed and the
  species name (so adding a species never moves another one's strains), then dealt in that order:
  first the `test` strains, then the `validation` strains, the rest to `train`.
* How many go to each: one to `train` first, then (if its fraction is > 0) one to `test`, then one to
  `validation` -- so a species with >= 3 strains is in all three splits, one with 2 strains in train and
  test, one with a single strain in train only (noted). Each further strain goes to the split whose
  count is furthest below its target (fraction x strains), ties in the order train, test, validation.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_open
from .errors import ConfigError, InputError, open_input

SPLITS = ("train", "validation", "test")
COLUMNS = ("sample", "species", "strain", "split", "store")
_FILL_ORDER = ("train", "test", "validation")  # who gets the first strains and wins ties


@dataclass(frozen=True)
class SplitRow:
    sample: str
    species: str
    strain: str
    split: str
    store: str


class Split:
    """The split table: rows in sample-sheet order; ``species`` are the training species, sorted."""

    def __init__(self, rows, notes=()):
        self.rows = list(rows)
        self.notes = list(notes)
        self.species = sorted({r.species for r in self.rows if r.split == "train"})

    def samples(self, split_name: str) -> list[SplitRow]:
        if split_name not in SPLITS:
            raise ValueError(f"unknown split {split_name!r}; expected one of {', '.join(SPLITS)}")
        return [r for r in self.rows if r.split == split_name]

    @property
    def ood_species(self) -> list[str]:
        """Species present only in test: not trained on, expected to be called unclassified."""
        return sorted({r.species for r in self.rows} - set(self.species))

    def write(self, path) -> None:
        with atomic_open(path, newline="") as fh:
            writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
            writer.writerow(COLUMNS)
            writer.writerows([getattr(r, c) for c in COLUMNS] for r in self.rows)

    @classmethod
    def read(cls, path) -> "Split":
        path = Path(path)
        with open_input(path, "split table", newline="") as fh:
            reader = csv.reader(fh, delimiter="\t")
            header = next(reader, None)
            if header is None or tuple(header) != COLUMNS:
                raise InputError(f"header must be {' '.join(COLUMNS)} (tab-separated)", path, line=1)
            rows = []
            for n, fields in enumerate(reader, 2):
                if len(fields) != len(COLUMNS):
                    raise InputError(f"{len(fields)} fields, expected {len(COLUMNS)}", path, line=n)
                row = SplitRow(*fields)
                if row.split not in SPLITS:
                    raise InputError(f"split {row.split!r} is not one of {', '.join(SPLITS)}",
                                     path, record=row.sample, line=n)
                rows.append(row)
        check_strains_disjoint(rows, path)
        return cls(rows)

    def __eq__(self, other):
        return isinstance(other, Split) and self.rows == other.rows

    def __repr__(self):
        counts = {s: len(self.samples(s)) for s in SPLITS}
        return f"Split({counts}, species={self.species})"


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


def summary(split: Split) -> str:
    """A few lines: samples and strains per split and species, then the notes."""
    lines = ["species\t" + "\t".join(SPLITS)]
    for name in sorted({r.species for r in split.rows}):
        cells = [str(len({r.strain for r in split.samples(s) if r.species == name})) for s in SPLITS]
        lines.append(f"{name}\t" + "\t".join(cells))
    lines += [f"note: {n}" for n in split.notes]
    return "\n".join(lines)
