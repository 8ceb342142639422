"""Species segments along a record from its track, and the flags they imply.

Segmentation is the most likely path of a hidden Markov model over the track's windows (Viterbi):
the states are the species and ``unclassified``; staying costs nothing and every change of state
costs ``switch_penalty`` nats, so a change point is reported only where the windows after it support
another state by more than the penalty (a run of windows of another species inside a segment must
gain more than twice the penalty). A window's evidence (log-likelihood) for each state:

* a called window (confidence > 0 and >= the model's threshold): log max(p_species, ``floor``) for
  each species, log ``unclassified_weight`` for ``unclassified``;
* an uncalled window: log ``uncalled_weight`` for every species and 0 for ``unclassified``: it tells
  nothing about which species, and leans a little to no species (a window of a strain unlike the
  training strains is often uncalled, so one uncalled window counts for less than a called one);
  a long run of them is a segment of no known species.

Evidence is weighted by the window's share of a full window, so the record's short last window
counts for less. Change points found by Viterbi lie on window boundaries (a change between two
species across uncalled windows is put in their middle); ``refine_changes`` then moves each change
between two species to the best of the positions within two windows of it, ``step`` bases apart, by
scoring half-windows on either side of each.

A segment's confidence is the length-weighted mean, over its called windows, of their probability of
the segment's species (0 where none is called); a species segment is *confident* when that is at
least the model's threshold and it is at least ``min_segment`` bases long.

Flags, per record: ``chimeric`` when its confident segments are of two or more species;
``contaminant`` when it has confident segments but none of the assembly's main species (the species
with the most bases in confident segments over all the assembly's records); ``clean`` otherwise.
Per assembly (record ``*``): ``mixed`` when its confident segments are of two or more species,
``clean`` otherwise. A record of no known species (only ``unclassified`` segments) is not flagged:
that is no evidence of another species.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from .atomic import atomic_open
from .calls import ASSEMBLY_RECORD, UNCLASSIFIED

DEFAULT_SWITCH_PENALTY = 10.0
DEFAULT_FLOOR = 1e-3
DEFAULT_UNCLASSIFIED_WEIGHT = 0.05
DEFAULT_UNCALLED_WEIGHT = 0.5
SEGMENT_COLUMNS = ("record", "start", "end", "call", "confidence", "windows", "confident")
FLAG_COLUMNS = ("record", "length", "call", "flag", "species")


@dataclass(frozen=True)
class SegmentParams:
    switch_penalty: float = DEFAULT_SWITCH_PENALTY
    floor: float = DEFAULT_FLOOR
    unclassified_weight: float = DEFAULT_UNCLASSIFIED_WEIGHT
    uncalled_weight: float = DEFAULT_UNCALLED_WEIGHT
    min_segment: int = 0

    def check(self) -> None:
        from .errors import InputError

        if not self.switch_penalty >= 0:
            raise InputError(f"the switch penalty must be >= 0, got {self.switch_penalty}")
        weights = (self.floor, self.unclassified_weight, self.uncalled_weight)
        if not all(0 < w < 1 for w in weights):
            raise InputError(f"floor, unclassified and uncalled weights must lie in (0, 1), got {weights}")
        if self.min_segment < 0:
            raise InputError(f"the minimum segment length must be >= 0, got {self.min_segment}")


@dataclass
class Segment:
    """A run of windows in one state; ``windows``, ``confidence`` and ``confident`` are those of the
    windows Viterbi assigned, also after ``refine_changes`` moved its ends."""
    record: str
    start: int
    end: int
    call: str
    confidence: float
    windows: int
    confident: bool


def evidence(probs, confidence, sizes, threshold: float, params: SegmentParams) -> np.ndarray:
    """(windows, species + 1) log-likelihoods of each state, ``unclassified`` last (module docstring)."""
    probs = np.asarray(probs, np.float64)
    confidence = np.asarray(confidence, np.float64)
    called = (confidence > 0) & (confidence >= threshold)
    n, k = probs.shape
    out = np.zeros((n, k + 1))
    out[called, :k] = np.log(np.maximum(probs[called], params.floor))
    out[called, k] = np.log(params.unclassified_weight)
    out[~called, :k] = np.log(params.uncalled_weight)
    sizes = np.asarray(sizes, np.float64)
    weight = sizes / sizes.max() if n else sizes
    return out * weight[:, None]


def viterbi(loglik: np.ndarray, switch_penalty: float) -> np.ndarray:
    """The state path maximising the summed log-likelihoods minus ``switch_penalty`` per change."""
    n, k = loglik.shape
    if n == 0:
        return np.zeros(0, np.int64)
    score = loglik[0].copy()
    back = np.zeros((n, k), np.int64)
    for i in range(1, n):
        best = int(np.argmax(score))
        switch = score[best] - switch_penalty
        stay = score >= switch  # ties keep the current state
        back[i] = np.where(stay, np.arange(k), best)
        score = np.where(stay, score, switch) + loglik[i]
    path = np.empty(n, np.int64)
    path[-1] = int(np.argmax(score))
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def centre_changes_in_gaps(path: np.ndarray, called: np.ndarray, unclassified: int) -> np.ndarray:
    """Move each change between two species into the middle of the uncalled windows around it: they
    are evidence for neither side, so every position in them scores the same and Viterbi's choice
    among them is arbitrary."""
    path = path.copy()
    for i in np.flatnonzero(np.diff(path)) + 1:
        before, after = path[i - 1], path[i]
        if unclassified in (before, after):
            continue
        lo, hi = i, i
        while lo > 0 and not called[lo - 1] and path[lo - 1] == before:
            lo -= 1
        while hi < len(path) and not called[hi] and path[hi] == after:
            hi += 1
        middle = (lo + hi) // 2
        path[lo:middle], path[middle:hi] = before, after
    return path


def segment_track(track, species, threshold: float, params: SegmentParams = SegmentParams()) -> list[Segment]:
    """The segments of one record's track (``genomamba.track.Track``)."""
    n = len(track.starts)
    if n == 0:
        return []
    sizes = track.sizes
    path = viterbi(evidence(track.probs, track.confidence, sizes, threshold, params), params.switch_penalty)
    labels = [*species, UNCLASSIFIED]
    called = (track.confidence > 0) & (track.confidence >= threshold)
    path = centre_changes_in_gaps(path, called, len(species))
    segments = []
    cuts = [0, *(np.flatnonzero(np.diff(path)) + 1), n]
    for a, b in zip(cuts[:-1], cuts[1:]):
        state = int(path[a])
        size = np.where(called[a:b], sizes[a:b], 0)
        mine = track.probs[a:b, state] if state < len(species) else np.zeros(b - a)
        confidence = float(np.sum(mine * size) / size.sum()) if size.sum() else 0.0
        start, end = int(track.starts[a]), int(track.ends[b - 1])
        confident = state < len(species) and confidence >= threshold and end - start >= params.min_segment
        segments.append(Segment(track.record, start, end, labels[state], confidence, b - a, bool(confident)))
    return segments


def refine_changes(segments: list[Segment], tokens, score, species, window: int, floor: float = DEFAULT_FLOOR,
                   step: int | None = None) -> list[Segment]:
    """``segments`` with each change between two species moved to the position p, ``step`` bases
    apart (default a tenth of the window) within two windows of it, where the half-window before p is
    most like the left species and the one after p most like the right: the largest log p_left(before)
    + log p_right(after), each floored at ``floor``; where several positions tie (a classifier whose
    probabilities are often exactly 0 or 1), the middle one of them. ``score(tokens) -> (probs,
    confidence)`` is the classifier's."""
    step = step or max(window // 10, 1)
    half = max(window // 2, 1)
    out = list(segments)
    for i in range(1, len(out)):
        left, right = out[i - 1], out[i]
        if UNCLASSIFIED in (left.call, right.call):
            continue
        a, b = species.index(left.call), species.index(right.call)
        here = right.start
        lowest, highest = max(left.start + step, here - 2 * window), min(right.end - step, here + 2 * window)
        positions = np.arange(here - (here - lowest) // step * step, highest + 1, step)
        if not len(positions):
            continue
        fits = np.array([np.log(max(score(tokens[max(p - half, left.start):p])[0][a], floor))
                         + np.log(max(score(tokens[p:min(p + half, right.end)])[0][b], floor)) for p in positions])
        best = positions[np.flatnonzero(fits >= fits.max() - 1e-9)]
        moved = int(best[len(best) // 2])
        out[i - 1], out[i] = replace(left, end=moved), replace(right, start=moved)
    return out


@dataclass
class RecordFlag:
    record: str
    length: int
    call: str
    flag: str
    species: list[str]


def flag_records(segments_by_record: dict[str, list[Segment]], lengths: dict[str, int]) -> list[RecordFlag]:
    """One flag per record, then the assembly's (record ``*``), per the module docstring."""
    bases = Counter()
    for segments in segments_by_record.values():
        for s in segments:
            if s.confident:
                bases[s.call] += s.end - s.start
    main = bases.most_common(1)[0][0] if bases else UNCLASSIFIED
    flags = []
    for record, segments in segments_by_record.items():
        own = Counter()
        for s in segments:
            if s.confident:
                own[s.call] += s.end - s.start
        kinds = []
        if len(own) >= 2:
            kinds.append("chimeric")
        if own and main not in own:
            kinds.append("contaminant")
        call = own.most_common(1)[0][0] if own else UNCLASSIFIED
        flags.append(RecordFlag(record, lengths[record], call, ",".join(kinds) or "clean", sorted(own)))
    flags.append(RecordFlag(ASSEMBLY_RECORD, sum(lengths.values()), main,
                            "mixed" if len(bases) >= 2 else "clean", sorted(bases)))
    return flags


def write_segments(path, segments) -> None:
    with atomic_open(path, newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(SEGMENT_COLUMNS)
        for s in segments:
            writer.writerow([s.record, s.start, s.end, s.call, f"{s.confidence:.6g}", s.windows,
                             "yes" if s.confident else "no"])


def write_flags(path, flags) -> None:
    with atomic_open(path, newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(FLAG_COLUMNS)
        for f in flags:
            writer.writerow([f.record, f.length, f.call, f.flag, ",".join(f.species) or "."])
