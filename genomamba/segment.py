"""Species segments along a record from its track, and the flags they imply.

Segmentation is the most likely path of a hidden Markov model over the track's windows (Viterbi):
the states are the species and ``unclassified``; staying costs nothing and every change of state
costs ``switch_penalty`` nats, so a change point is reported only where the windows after it support
another state by more than the penalty (a run of windows of another species inside a segment must
gain more than twice the penalty). A window's evidence (log-likelihood) for each state:

* a called window (confidence > 0 and >= the model's threshold): log max(p_species, ``floor``) for
  each species, log ``unclassified_weight`` for ``unclassified``;
* an uncalled window: log ``unclassified_weight`` for every species and 0 for ``unclassified``: it
  tells nothing about which species, and a long run of them is a segment of no known species.

Evidence is weighted by the window's share of a full window, so the record's short last window
counts for less. Change points lie on window boundaries: a breakpoint is found to within half a
window where the window holding it leans to the side with most of its bases.

A segment's confidence is the length-weighted mean, over its windows, of the window's confidence
where the window's call is the segment's species (0 elsewhere); a species segment is *confident*
when that is at least the model's threshold and it is at least ``min_segment`` bases long.

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
from dataclasses import dataclass

import numpy as np

from .atomic import atomic_open
from .calls import ASSEMBLY_RECORD, UNCLASSIFIED

DEFAULT_SWITCH_PENALTY = 10.0
DEFAULT_FLOOR = 1e-3
DEFAULT_UNCLASSIFIED_WEIGHT = 0.05
SEGMENT_COLUMNS = ("record", "start", "end", "call", "confidence", "windows", "confident")
FLAG_COLUMNS = ("record", "length", "call", "flag", "species")


@dataclass(frozen=True)
class SegmentParams:
    switch_penalty: float = DEFAULT_SWITCH_PENALTY
    floor: float = DEFAULT_FLOOR
    unclassified_weight: float = DEFAULT_UNCLASSIFIED_WEIGHT
    min_segment: int = 0

    def check(self) -> None:
        from .errors import InputError

        if not self.switch_penalty >= 0:
            raise InputError(f"the switch penalty must be >= 0, got {self.switch_penalty}")
        if not 0 < self.floor < 1 or not 0 < self.unclassified_weight < 1:
            raise InputError("floor and unclassified weight must lie in (0, 1), got "
                             f"{self.floor} and {self.unclassified_weight}")
        if self.min_segment < 0:
            raise InputError(f"the minimum segment length must be >= 0, got {self.min_segment}")


@dataclass
class Segment:
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
    out = np.full((n, k + 1), np.log(params.unclassified_weight))
    out[called, :k] = np.log(np.maximum(probs[called], params.floor))
    out[~called, k] = 0.0
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


def segment_track(track, species, threshold: float, params: SegmentParams = SegmentParams()) -> list[Segment]:
    """The segments of one record's track (``genomamba.track.Track``)."""
    n = len(track.starts)
    if n == 0:
        return []
    sizes = track.sizes
    path = viterbi(evidence(track.probs, track.confidence, sizes, threshold, params), params.switch_penalty)
    labels = [*species, UNCLASSIFIED]
    calls = np.argmax(track.probs, 1)
    called = (track.confidence > 0) & (track.confidence >= threshold)
    segments = []
    cuts = [0, *(np.flatnonzero(np.diff(path)) + 1), n]
    for a, b in zip(cuts[:-1], cuts[1:]):
        state = int(path[a])
        agree = called[a:b] & (calls[a:b] == state)
        confidence = float(np.sum(np.where(agree, track.confidence[a:b], 0.0) * sizes[a:b]) / sizes[a:b].sum())
        start, end = int(track.starts[a]), int(track.ends[b - 1])
        confident = state < len(species) and confidence >= threshold and end - start >= params.min_segment
        segments.append(Segment(track.record, start, end, labels[state], confidence, b - a, bool(confident)))
    return segments


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
