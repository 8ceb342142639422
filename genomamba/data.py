"""Windows sampled from sequence stores, by split and species, reproducibly: every classifier's
training and calibration windows come from here.

A *source* is anything with ``lengths`` (per record) and ``read(record, start, end)`` returning uint8
tokens: a ``genomamba.store.SequenceStore``, the blocks of one split in a store (``RegionSource``,
for region-block splits: windows never leave their split's blocks) or, in memory, an ``ArraySource``.
``sample_sources`` opens the right one for each sample of a split, for every classifier kind. Stores
are opened only there so that the model path imports no zarr.

Every window is cut by ``read_window``: a uniform start in a record, cut short by a shorter record.
Two ways of choosing the records serve the two ways the classifiers learn:

* ``WindowSampler``, for the neural models' gradient steps: batches of fixed-length windows that are
  a pure function of (seed, stream, step), so that resuming at step k gives the same batches as an
  uninterrupted run, with nothing to save but k. Species are drawn uniformly (class-balanced), then a
  sample of that species, a record with probability proportional to its number of windows, and a
  start. With ``negatives`` > 0 each window is, with that probability, replaced by a synthetic
  sequence of no species made from it (``genomamba.negatives``) and labelled ``n_classes``: the "no
  species" class.
* ``labelled_windows``, for the models fitted at once (k-mer, sourmash): a set of windows per sample,
  of one length or of log-uniform lengths, from one numpy Generator; records are chosen in proportion
  to their length. ``with_negatives`` replaces a share of them by negatives.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from .alphabet import reverse_complement
from .errors import ConfigError
from .negatives import random_negative

TRAIN_STREAM, EVAL_STREAM = 0, 1


class ArraySource:
    """Records held as token arrays: the same reading interface as a sequence store."""

    def __init__(self, records, names=None):
        self.records = [np.asarray(r, dtype=np.uint8) for r in records]
        self.names = list(names) if names is not None else [f"record{i}" for i in range(len(self.records))]
        self.lengths = np.array([len(r) for r in self.records], dtype=np.int64)
        self.attrs = {}

    def read(self, record, start=0, end=None):
        index = self.names.index(record) if isinstance(record, str) else record
        return self.records[index][start:end]


class RegionSource:
    """Blocks ``(record, start, end)`` of a source, each one a record: ``lengths`` are the blocks'
    lengths and ``read(i, start, end)`` reads inside block i only (clipped to it)."""

    def __init__(self, source, blocks):
        from .split import block_name

        self.source, self.blocks = source, [(r, int(a), int(b)) for r, a, b in blocks]
        self.names = [block_name(*b) for b in self.blocks]
        self.lengths = np.array([b - a for _, a, b in self.blocks], dtype=np.int64)
        self.attrs = getattr(source, "attrs", {})

    def read(self, record, start=0, end=None):
        index = self.names.index(record) if isinstance(record, str) else record
        name, a, b = self.blocks[index]
        end = b - a if end is None else min(end, b - a)
        return self.source.read(name, a + start, a + max(end, start))

    def iter_chunks(self, record, chunk_size: int):
        index = self.names.index(record) if isinstance(record, str) else record
        for start in range(0, int(self.lengths[index]), chunk_size):
            yield self.read(index, start, start + chunk_size)


@dataclass
class LabelledSource:
    sample: str
    label: int
    source: object


def open_rows(rows):
    """The source of one sample's split rows: its store, or in region mode the store's blocks."""
    from .store import SequenceStore  # zarr only where stores are read

    store = SequenceStore.open(rows[0].store)
    if rows[0].record is None:
        return store
    return RegionSource(store, [(r.record, r.start, r.end) for r in rows])


def sample_sources(split, split_name: str, species: list[str] | None = None):
    """(sample row, source) for each sample of one split (whose species is among ``species``, if
    given), in table order: the first row stands for the sample (sample, species, strain)."""
    return [(rows[0], open_rows(rows)) for _, rows in split.sample_blocks(split_name)
            if species is None or rows[0].species in species]


def split_sources(split, split_name: str, species: list[str]) -> list[LabelledSource]:
    """Open the sources of one split's samples whose species is among ``species``."""
    index = {name: i for i, name in enumerate(species)}
    return [LabelledSource(row.sample, index[row.species], source)
            for row, source in sample_sources(split, split_name, species)]


def data_digest(sources: list[LabelledSource]) -> str:
    """sha256 over each sample's name, label, record lengths and recorded source checksums."""
    h = hashlib.sha256()
    for s in sources:
        attrs = getattr(s.source, "attrs", {}) or {}
        h.update(json.dumps([s.sample, s.label, [int(n) for n in s.source.lengths],
                             attrs.get("sources", [])], sort_keys=True, default=str).encode())
    return h.hexdigest()


def window_span(source, record: int, length: int, rng: np.random.Generator) -> tuple[int, int]:
    """(start, end) of ``length`` bases of one record of a source from a uniform start (fewer if the
    record is shorter)."""
    record_length = int(source.lengths[record])
    start = int(rng.integers(0, max(record_length - length, 0) + 1))
    return start, min(start + int(length), record_length)


def read_window(source, record: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """The tokens of ``window_span``."""
    start, end = window_span(source, record, length, rng)
    return np.asarray(source.read(record, start, end), dtype=np.uint8)


class WindowSampler:
    """Class-balanced batches of fixed-length windows, a pure function of (seed, stream, step)."""

    def __init__(self, sources: list[LabelledSource], n_classes: int, window: int, batch_size: int,
                 seed: int, rc_augment: bool = True, require_all_classes: bool = True,
                 negatives: float = 0.0):
        self.window, self.batch_size, self.seed, self.rc_augment = window, batch_size, seed, rc_augment
        self.negatives = negatives
        self.by_class = [[] for _ in range(n_classes)]
        for s in sources:
            lengths = np.asarray(s.source.lengths, dtype=np.int64)
            starts = np.maximum(lengths - window + 1, 0)
            if starts.sum() == 0:
                raise ConfigError(f"sample {s.sample}: no record is as long as the window ({window} bases)")
            self.by_class[s.label].append((s, starts / starts.sum()))
        empty = [c for c, members in enumerate(self.by_class) if not members]
        if empty and require_all_classes:
            raise ConfigError(f"no samples for class(es) {empty} to draw windows from")

    def _choose(self, rng, label: int) -> tuple:
        """Where a window of class ``label`` comes from, (source, record, start, end, reverse), drawn
        without reading it."""
        members = self.by_class[label]
        source, weights = members[rng.integers(len(members))]
        record = int(rng.choice(len(weights), p=weights))
        start, end = window_span(source.source, record, self.window, rng)
        return source.source, record, start, end, bool(self.rc_augment and rng.random() < 0.5)

    @staticmethod
    def _read(choice: tuple) -> np.ndarray:
        source, record, start, end, reverse = choice
        tokens = np.asarray(source.read(record, start, end), dtype=np.uint8)
        return reverse_complement(tokens) if reverse else tokens

    def _draw(self, rng, label: int) -> np.ndarray:
        return self._read(self._choose(rng, label))

    def batch(self, step: int, stream: int = TRAIN_STREAM, share: tuple[int, int] = (0, 1)):
        """(tokens uint8 (batch, window), labels int64 (batch,)) for this step; the same every time.
        Label ``n_classes`` marks a synthetic negative (only with ``negatives`` > 0).

        ``share = (rank, ranks)`` gives rows rank, rank + ranks, rank + 2 ranks, ... of that batch:
        one rank's share in data-parallel training, so the ranks' shares are disjoint and together
        are the batch of one process. The windows of the other rows are drawn but not read (those
        that become negatives are: making one draws from ``rng`` according to its tokens)."""
        rank, ranks = share
        rng = np.random.default_rng([self.seed, stream, step])
        labels = rng.integers(len(self.by_class), size=self.batch_size)
        choices = [self._choose(rng, int(c)) for c in labels]
        rows = range(rank, self.batch_size, ranks)
        negative = np.flatnonzero(rng.random(self.batch_size) < self.negatives) if self.negatives else []
        windows = {i: self._read(choices[i]) for i in sorted({*rows, *map(int, negative)})}
        for i in negative:
            windows[i], labels[i] = random_negative(rng, windows[i]), len(self.by_class)
        return np.stack([windows[i] for i in rows]), labels[list(rows)].astype(np.int64)

    def fixed_windows(self, per_class: int, stream: int = EVAL_STREAM):
        """``per_class`` windows of every class that has samples (no augmentation): an evaluation set."""
        rng = np.random.default_rng([self.seed, stream])
        present = [c for c, members in enumerate(self.by_class) if members]
        labels = np.repeat(np.array(present, dtype=np.int64), per_class)
        augment, self.rc_augment = self.rc_augment, False
        try:
            tokens = [self._draw(rng, int(c)) for c in labels]
        finally:
            self.rc_augment = augment
        return np.array(tokens, dtype=np.uint8).reshape(len(labels), self.window), labels


# ---- window sets of the classifiers fitted at once ---------------------------------------------

def window_lengths(n: int, shortest: int, longest: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` lengths drawn log-uniformly from [shortest, longest]."""
    return np.exp(rng.uniform(np.log(shortest), np.log(longest), size=n)).round().astype(np.int64)


def sample_windows(source, lengths, rng: np.random.Generator) -> list[np.ndarray]:
    """One window per entry of ``lengths`` from a source: records chosen with probability in
    proportion to their length (all at once), then each window cut by ``read_window``."""
    record_lengths = np.asarray(source.lengths, dtype=np.int64)
    if len(record_lengths) == 0 or record_lengths.max() == 0:
        raise ConfigError(f"{getattr(source, 'path', source)}: no sequence to sample windows from")
    records = rng.choice(len(record_lengths), size=len(lengths), p=record_lengths / record_lengths.sum())
    return [read_window(source, int(record), length, rng) for record, length in zip(records, lengths)]


def labelled_windows(rows, species, n: int, length, rng) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` windows from every sample of the split rows (of ``length``, or of log-uniform lengths in
    ``length = (shortest, longest)``), and the index of each sample's species in ``species``. In a
    region-block split a sample's rows are its blocks, and windows stay inside them."""
    windows, labels = [], []
    by_sample = {}
    for row in rows:
        by_sample.setdefault(row.sample, []).append(row)
    for sample_rows in by_sample.values():
        row = sample_rows[0]
        lengths = (window_lengths(n, *length, rng) if isinstance(length, (tuple, list))
                   else np.full(n, length))
        drawn = sample_windows(open_rows(sample_rows), lengths, rng)
        windows += drawn
        labels += [species.index(row.species)] * len(drawn)
    return windows, np.asarray(labels, dtype=np.int64)


def with_negatives(windows, labels, share: float, label: int, rng) -> tuple[list[np.ndarray], np.ndarray]:
    """The windows and labels with ``share`` of the windows (at least one if ``share`` > 0, so that the
    class exists), chosen at random, each replaced by a synthetic sequence of no species made from it
    (``genomamba.negatives.random_negative``) and labelled ``label``."""
    windows, labels = list(windows), np.array(labels, dtype=np.int64)
    count = max(1, round(share * len(windows))) if share > 0 and windows else 0
    for i in rng.choice(len(windows), size=count, replace=False):
        windows[i], labels[i] = random_negative(rng, windows[i]), label
    return windows, labels


def calibration_rows(split, log):
    """The validation rows of the training species; the training rows if there are none."""
    rows = [r for r in split.samples("validation") if r.species in split.species]
    if not rows:
        log("no validation samples of the training species: calibrating on fresh training windows")
        rows = split.samples("train")
    return rows
