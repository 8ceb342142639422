"""Seeded long-read simulation from an assembly, written as an unaligned BAM (issue 5's long-read goal).

A read is a slice of one record (records drawn in proportion to their length, the start uniform),
taken from either strand, with nanopore-like errors applied to the read in its sequenced orientation.
Lengths are log-normal (``median_length``, shape ``sigma``), clipped to [``min_length``,
``max_length``] and to the record. Errors per template base (``ErrorModel``): deleted with
probability ``deletion``, otherwise replaced by one of the three other bases with probability
``substitution``; independently, one random base is inserted before it with probability ``insertion``.

Read names trace back to the source: ``r<index>:<record>:<start>-<end>:<strand>`` (0-based, half-open
on the forward strand; ``parse_read_name`` reads them back). The header's ``@RG`` carries sample,
species and strain; ``@CO`` lines the source file, its SHA-256, the seed and every parameter.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .alphabet import decode, reverse_complement
from .atomic import atomic_path
from .errors import InputError
from .inputs import iter_records

READ_GROUP = "sim"
UNMAPPED = 0x4
READ_NAME = re.compile(r"^r(?P<index>\d+):(?P<record>.+):(?P<start>\d+)-(?P<end>\d+):(?P<strand>[+-])$")
_QNAME_UNSAFE = re.compile(r"[^!-?A-~]")  # SAM QNAME: printable, no '@', no space


@dataclass(frozen=True)
class ErrorModel:
    substitution: float = 0.02
    insertion: float = 0.015
    deletion: float = 0.015

    def check(self):
        rates = asdict(self)
        if any(not 0 <= r < 1 for r in rates.values()) or self.substitution + self.deletion >= 1:
            raise InputError(f"error rates must lie in [0, 1) with substitution + deletion < 1, got {rates}")


@dataclass(frozen=True)
class LengthModel:
    median_length: int = 6000
    sigma: float = 1.0
    min_length: int = 200
    max_length: int = 100_000

    def check(self):
        if not 0 < self.min_length <= self.median_length <= self.max_length or self.sigma < 0:
            raise InputError("read lengths need 0 < min_length <= median_length <= max_length and sigma >= 0, "
                             f"got {asdict(self)}")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        lengths = rng.lognormal(np.log(self.median_length), self.sigma, size=n)
        return np.clip(np.rint(lengths), self.min_length, self.max_length).astype(np.int64)


@dataclass(frozen=True)
class SimulatedRead:
    name: str
    tokens: np.ndarray  # the read as sequenced, errors included
    record: str
    start: int
    end: int
    strand: str
    substitutions: int
    insertions: int
    deletions: int


@dataclass
class Assembly:
    """The records of one input, in memory (a bacterial genome is a few Mb)."""
    path: str
    names: list[str] = field(default_factory=list)
    sequences: list[np.ndarray] = field(default_factory=list)

    @classmethod
    def read(cls, path) -> "Assembly":
        assembly = cls(str(path))
        for record in iter_records(path):
            assembly.names.append(record.name)
            chunks = list(record.chunks())
            assembly.sequences.append(np.concatenate(chunks) if chunks else np.zeros(0, np.uint8))
        if not assembly.names:
            raise InputError("no records to simulate reads from", path)
        return assembly

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.sequences], dtype=np.int64)


def apply_errors(template: np.ndarray, errors: ErrorModel, rng: np.random.Generator):
    """``template`` with substitutions, insertions and deletions (see the module docstring).

    Returns (read tokens, substitutions, insertions, deletions)."""
    n = len(template)
    u = rng.random(n)
    deleted = u < errors.deletion
    substituted = (u >= errors.deletion) & (u < errors.deletion + errors.substitution)
    bases = template.copy()
    shift = rng.integers(1, 4, size=n, dtype=np.uint8)  # another base; an N becomes a random base
    bases[substituted] = np.where(bases[substituted] < 4, (bases[substituted] + shift[substituted]) % 4,
                                  shift[substituted])
    inserted = rng.random(n) < errors.insertion
    slots = np.stack([rng.integers(0, 4, size=n, dtype=np.uint8), bases], axis=1)  # insert, then base
    keep = np.stack([inserted, ~deleted], axis=1)
    return slots[keep], int(substituted.sum()), int(inserted.sum()), int(deleted.sum())


def read_name(index: int, record: str, start: int, end: int, strand: str) -> str:
    return f"r{index}:{_QNAME_UNSAFE.sub('_', record)}:{start}-{end}:{strand}"


def parse_read_name(name: str) -> dict:
    """``read_name``'s fields back: index, record, start, end, strand."""
    m = READ_NAME.match(name)
    if not m:
        raise ValueError(f"not a simulated read name: {name!r}")
    return {"index": int(m["index"]), "record": m["record"], "start": int(m["start"]),
            "end": int(m["end"]), "strand": m["strand"]}


def simulate_reads(assembly: Assembly, *, seed: int, count: int | None = None, coverage: float | None = None,
                   lengths: LengthModel = LengthModel(), errors: ErrorModel = ErrorModel()):
    """Yield ``SimulatedRead``s: ``count`` of them, or until their template bases reach ``coverage`` x
    the assembly's length. Deterministic for a given seed and parameters."""
    if (count is None) == (coverage is None):
        raise ValueError("give exactly one of count and coverage")
    lengths.check()
    errors.check()
    sizes = assembly.lengths
    if sizes.sum() == 0:
        raise InputError("the assembly has no bases", assembly.path)
    weights = sizes / sizes.sum()
    target = None if coverage is None else coverage * sizes.sum()
    rng = np.random.default_rng(seed)
    index, bases = 0, 0
    while (index < count) if count is not None else (bases < target):
        which = int(rng.choice(len(sizes), p=weights))
        size = int(sizes[which])
        length = min(int(lengths.sample(rng, 1)[0]), size)
        start = int(rng.integers(0, size - length + 1))
        strand = "-" if rng.random() < 0.5 else "+"
        template = assembly.sequences[which][start:start + length]
        if strand == "-":
            template = reverse_complement(template)
        tokens, subs, ins, dels = apply_errors(template, errors, rng)
        if len(tokens) == 0:  # every base deleted: draw again
            continue
        record = assembly.names[which]
        yield SimulatedRead(read_name(index, record, start, start + length, strand), tokens, record,
                            start, start + length, strand, subs, ins, dels)
        index += 1
        bases += length


def bam_header(*, sample: str, species: str | None, strain: str | None, source: str, sha256: str | None,
               parameters: dict) -> dict:
    group = {"ID": READ_GROUP, "SM": sample, "PL": "ONT"}
    description = "; ".join(f"{k}={v}" for k, v in (("species", species), ("strain", strain)) if v)
    if description:
        group["DS"] = description
    comments = [f"genomamba simulate-reads source={source}",
                f"genomamba simulate-reads parameters={json.dumps(parameters, sort_keys=True)}"]
    if sha256:
        comments.insert(1, f"genomamba simulate-reads source_sha256={sha256}")
    return {"HD": {"VN": "1.6", "SO": "unknown"}, "RG": [group],
            "PG": [{"ID": "genomamba-simulate-reads", "PN": "genomamba"}], "CO": comments}


def write_bam(reads, path, header: dict) -> dict:
    """Write ``reads`` as an unaligned BAM, atomically. Returns counts (reads, template and read bases,
    substitutions, insertions, deletions)."""
    import pysam

    totals = dict.fromkeys(("reads", "template_bases", "read_bases", "substitutions", "insertions",
                            "deletions"), 0)
    with atomic_path(path, suffix=".bam") as tmp:
        with pysam.AlignmentFile(str(tmp), "wb", header=header) as bam:
            for read in reads:
                segment = pysam.AlignedSegment(bam.header)
                segment.query_name = read.name
                segment.query_sequence = decode(read.tokens).decode("ascii")
                segment.flag = UNMAPPED
                segment.set_tag("RG", READ_GROUP)
                bam.write(segment)
                totals["reads"] += 1
                totals["template_bases"] += read.end - read.start
                totals["read_bases"] += len(read.tokens)
                totals["substitutions"] += read.substitutions
                totals["insertions"] += read.insertions
                totals["deletions"] += read.deletions
    return totals


def simulate_to_bam(source, output, *, seed: int, count=None, coverage=None, lengths=LengthModel(),
                    errors=ErrorModel(), sample=None, species=None, strain=None) -> dict:
    """Read ``source`` (a store or any supported file), simulate, write ``output``; returns the counts."""
    from .io.compression import file_sha256
    from .inputs import is_store

    assembly = Assembly.read(source)
    parameters = {"seed": seed, "count": count, "coverage": coverage, **asdict(lengths), **asdict(errors)}
    header = bam_header(sample=sample or Path(source).name, species=species, strain=strain, source=str(source),
                        sha256=None if is_store(source) else file_sha256(source), parameters=parameters)
    reads = simulate_reads(assembly, seed=seed, count=count, coverage=coverage, lengths=lengths, errors=errors)
    return write_bam(reads, output, header)
