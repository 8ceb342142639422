"""A species track along a record: species probabilities in consecutive windows of W bases.

Windows are ``[0, W), [W, 2W), ...`` along the record; the last one ends at the record's end (it is
shorter unless W divides the length; a record shorter than W is one window).

How a window is scored depends on the classifier:

* A streaming neural model (Mamba) reads the record once, its state carried from the record's
  start, as ``genomamba classify`` does; a window's summary is the mean of the final hidden states
  at its bases (so each position sees the whole sequence before it), and its probabilities and
  confidence follow the classifier's own rules: the species head's softmax, confidence the top
  probability, or 0 where the summary lies beyond the out-of-distribution radius for a record of the
  window's length or where the classifier's Markov check rejects the window's bases (no species'
  DNA; ``genomamba.markov``). With the RC option the reverse strand is streamed from the record's end and a
  window's summary is the mean of both strands' summaries over the same bases. The length-weighted
  mean of the window summaries is the record's summary, so a record of one window gets exactly the
  record's call.
* Every other kind (k-mer, sourmash, the Transformer, a combined cascade) scores each window on its
  own with ``classifier.score``.

Outputs: the track table (tab-separated, BED-like: ``record start end call confidence
p_<species>...``, 0-based half-open) and one bedGraph per species (``<species>.bedgraph``, the
species' probability per window) that genome browsers load.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_open, atomic_path
from .calls import decide, prob_column
from .inputs import rechunk
from .kmers import codes_by_chunk

DEFAULT_WINDOW = 10_000
TRACK_COLUMNS = ("record", "start", "end", "call", "confidence")


@dataclass
class Track:
    """The windows of one record: ``starts``/``ends`` (n,), ``probs`` (n, species), ``confidence`` (n,)."""
    record: str
    starts: np.ndarray
    ends: np.ndarray
    probs: np.ndarray
    confidence: np.ndarray

    @property
    def length(self) -> int:
        return int(self.ends[-1]) if len(self.ends) else 0

    @property
    def sizes(self) -> np.ndarray:
        return self.ends - self.starts


def window_bounds(length: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of the windows of a record of ``length`` bases (none if it is empty)."""
    starts = np.arange(0, length, window, dtype=np.int64)
    return starts, np.minimum(starts + window, length)


def streams_state(classifier) -> bool:
    """Whether ``classifier`` carries a model state along a record (its windows then come from one pass)."""
    from .classifiers.neural import NeuralClassifier

    return isinstance(classifier, NeuralClassifier) and classifier.model.streams


def track_record(classifier, name: str, chunks, window: int = DEFAULT_WINDOW) -> Track:
    """The track of one record given as token chunks in order (see the module docstring)."""
    if window <= 0:
        raise ValueError(f"window must be > 0, got {window}")
    if streams_state(classifier):
        return _streamed_track(classifier, name, chunks, window)
    probs, confidence, sizes = [], [], []
    for piece in rechunk(chunks, window):
        p, c = classifier.score([piece])
        probs.append(np.asarray(p, np.float64))
        confidence.append(float(c))
        sizes.append(len(piece))
    starts, ends = window_bounds(int(sum(sizes)), window)
    return Track(name, starts, ends, np.array(probs).reshape(len(sizes), len(classifier.species)),
                 np.array(confidence, np.float64))


class _WindowSums:
    """Running float64 sums of hidden states per window, added a chunk at a time at any position."""

    def __init__(self, window: int):
        self.window, self.sums = window, {}

    def add(self, hidden, start: int) -> None:
        """Add the (L, d) hidden states of the bases at ``start .. start + L`` (forward coordinates)."""
        from .kernels import cpu_inference

        end, w = start + hidden.shape[0], self.window
        for k in range(start // w, (end - 1) // w + 1):
            lo, hi = max(start, k * w), min(end, (k + 1) * w)
            part = cpu_inference.time_sums(hidden[None, lo - start:hi - start])[0]
            self.sums[k] = self.sums[k] + part if k in self.sums else part

    def stacked(self):
        import torch

        return torch.stack([self.sums[k] for k in sorted(self.sums)])


def _stream_strand(classifier, tokens_stream, sums: _WindowSums, total: int | None) -> int:
    """Feed one strand through the model; hidden states go to ``sums`` in forward coordinates (the
    reverse strand, ``total`` bases long, is given from the record's end). Returns the bases fed."""
    import torch

    model, state, fed = classifier.model, classifier.model.new_state(1), 0
    for piece in rechunk(tokens_stream, classifier.score_chunk):
        tokens = torch.from_numpy(piece.astype(np.int64)).to(classifier.device)[None]
        hidden = model.feed(tokens, state)[0]
        if total is None:
            sums.add(hidden, fed)
        else:  # reverse strand: its bases fed .. fed + n are the forward bases total - fed - n .. total - fed
            sums.add(hidden.flip(0), total - fed - len(piece))
        fed += len(piece)
    return fed


def _markov_verdicts(check, chunks, window: int, verdicts: list):
    """Pass ``chunks`` on, re-cut into windows, appending whether ``check`` accepts each window's bases."""
    k = check.order + 1
    for piece, codes in codes_by_chunk(rechunk(chunks, window), k):
        verdicts.append(check.accepts_counts(np.bincount(codes, minlength=4 ** k)))
        yield piece


def _streamed_track(classifier, name: str, chunks, window: int) -> Track:
    import torch

    from .alphabet import reverse_complement
    from .models import autocast_for

    model = classifier.model
    rc = model.cfg.rc_equivariant
    kept = [] if rc else None
    check, verdicts = classifier.markov_check, []
    if check is not None:
        chunks = _markov_verdicts(check, chunks, window, verdicts)
    if rc:  # the reverse strand starts at the record's end: keep its tokens
        chunks = (kept.append(np.asarray(c, np.uint8)) or c for c in chunks)
    model.eval()
    strands = [_WindowSums(window)]
    with torch.inference_mode(), autocast_for(classifier.device):
        length = _stream_strand(classifier, chunks, strands[0], None)
        if rc and length:
            strands.append(_WindowSums(window))
            _stream_strand(classifier, [reverse_complement(np.concatenate(kept))], strands[1], length)
        starts, ends = window_bounds(length, window)
        if not length:
            return Track(name, starts, ends, np.zeros((0, len(classifier.species))), np.zeros(0))
        sizes = torch.as_tensor(ends - starts, dtype=torch.float64, device=classifier.device)[:, None]
        summaries = model.mean_of_strands([s.stacked() / sizes for s in strands]).float()
        probs = model.probabilities(summaries)[:, :len(classifier.species)]
    n_windows = (ends - starts) / classifier.params["window"] * len(strands)
    distance = classifier.distance.gaussian.distance(summaries.cpu()).numpy()
    inside = classifier.distance.inside(distance, n_windows)
    if check is not None:
        inside = inside & np.array(verdicts, dtype=bool)
    return Track(name, starts, ends, probs, np.where(inside, probs.max(1), 0.0))


# -- outputs -----------------------------------------------------------------------------------------
def _number(x: float) -> str:
    return f"{x:.6g}"


def track_header(species) -> list[str]:
    return [*TRACK_COLUMNS, *(prob_column(s) for s in species)]


def write_track_table(path, tracks, species, threshold: float) -> None:
    """The track table of ``tracks`` (module docstring), written atomically."""
    with atomic_open(path, newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(track_header(species))
        for t in tracks:
            for i in range(len(t.starts)):
                writer.writerow([t.record, int(t.starts[i]), int(t.ends[i]),
                                 decide(t.probs[i], t.confidence[i], species, threshold),
                                 _number(t.confidence[i]), *(_number(p) for p in t.probs[i])])


def bedgraph_name(species: str) -> str:
    """``Escherichia coli`` -> ``Escherichia_coli.bedgraph``."""
    return prob_column(species)[2:].replace("/", "_") + ".bedgraph"


def write_bedgraphs(folder, tracks, species) -> list[Path]:
    """One bedGraph per species in ``folder`` (replaced as a whole, atomically); returns the paths."""
    folder = Path(folder)
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        for j, s in enumerate(species):
            with open(tmp / bedgraph_name(s), "w") as fh:
                fh.write(f'track type=bedGraph name="{prob_column(s)}" description="probability of {s} '
                         f'per window" viewLimits=0:1 autoScale=off\n')
                for t in tracks:
                    for i in range(len(t.starts)):
                        fh.write(f"{t.record}\t{int(t.starts[i])}\t{int(t.ends[i])}\t{_number(t.probs[i, j])}\n")
    return [folder / bedgraph_name(s) for s in species]


def read_track_table(path, species=None):
    """Read a track table back: a list of ``Track`` and the species of its columns. A malformed row
    is an InputError naming the file and line."""
    from .calls import species_from_column
    from .errors import InputError, open_input

    rows: dict[str, list] = {}
    with open_input(path, "track table", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        head = next(reader, None)
        if head is None or tuple(head[:len(TRACK_COLUMNS)]) != TRACK_COLUMNS:
            raise InputError(f"not a track table: the header must begin {' '.join(TRACK_COLUMNS)}", path, line=1)
        names = [species_from_column(c, species or ()) for c in head[len(TRACK_COLUMNS):]]
        for line, row in enumerate(reader, start=2):
            record = row[0] if row else None
            if len(row) != len(head):
                raise InputError(f"{len(row)} fields, the header has {len(head)}", path, record, line)
            try:
                values = (int(row[1]), int(row[2]), float(row[4]), [float(x) for x in row[5:]])
            except ValueError as exc:
                raise InputError(f"not a number: {exc}", path, record, line) from None
            rows.setdefault(row[0], []).append(values)
    tracks = [Track(name, np.array([r[0] for r in rs], np.int64), np.array([r[1] for r in rs], np.int64),
                    np.array([r[3] for r in rs], np.float64).reshape(len(rs), len(names)),
                    np.array([r[2] for r in rs], np.float64))
              for name, rs in rows.items()]
    return tracks, names
