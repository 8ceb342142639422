"""Rebuild the embedded default genomes in resources/genomes from the development data.

Usage (from the repository root):  python resources/make_resources.py ../shared/data [--seed 20261123]

Every bacterial genome becomes a 3-contig "assembly": its first record (the chromosome, or chromosome I)
is cut into three equal thirds and one 40 kb slice is taken at a seeded position inside each third, so the
slices never overlap. One 60 kb slice of the human chr22 region is the out-of-distribution sample.
Record names are `<accession>:<start>-<end>` (0-based, half-open, as in BED and as the calls tables
name fragments) followed by the original header description. Output is gzip'd with 60-column lines and a zero timestamp, so the same
seed gives byte-identical files. Tests never run this script: they use the files it wrote.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import lzma
import random
from pathlib import Path

SLICE = 40_000
SLICES_PER_GENOME = 3
OOD_SLICE = 60_000
OOD_SOURCE = "apes/Hsap.fa.gz"
OOD_OUTPUT = "Homo_sapiens/chr22_slice.fa.gz"
MAX_N_FRACTION = 0.01
HERE = Path(__file__).resolve().parent


def open_text(path: Path):
    opener = lzma.open if path.suffix == ".xz" else gzip.open
    return opener(path, "rt")


def first_record(path: Path) -> tuple[str, str, str]:
    """(accession, description, sequence) of the first FASTA record."""
    header, lines = None, []
    with open_text(path) as fh:
        for line in fh:
            if line.startswith(">"):
                if header is not None:
                    break
                header = line[1:].strip()
            else:
                lines.append(line.strip())
    ident, _, description = header.partition(" ")
    fields = [f for f in ident.split("|") if f]
    accession = fields[3] if len(fields) >= 4 and fields[0] == "gi" else ident  # gi|N|ref|ACC| -> ACC
    return accession, description, "".join(lines)


def seeded_starts(rng: random.Random, length: int, size: int, count: int) -> list[int]:
    """0-based starts of `count` non-overlapping slices, one at a random position in each of `count` bins."""
    bin_size = length // count
    if bin_size < size:
        raise ValueError(f"sequence of {length} bp too short for {count} slices of {size} bp")
    return [b * bin_size + rng.randrange(bin_size - size + 1) for b in range(count)]


def clean_start(rng: random.Random, seq: str, start: int, size: int, lo: int, hi: int) -> int:
    """`start`, or another random start in [lo, hi) if the slice has more than 1% N."""
    for _ in range(100):
        window = seq[start:start + size].upper()
        if window.count("N") <= MAX_N_FRACTION * size:
            return start
        start = lo + rng.randrange(hi - lo - size + 1)
    raise ValueError("no slice with few enough N found")


def write_fasta_gz(path: Path, records: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    for header, seq in records:
        text.write(f">{header}\n")
        for i in range(0, len(seq), 60):
            text.write(seq[i:i + 60] + "\n")
    with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(text.getvalue().encode("ascii"))


def make_slices(source: Path, output: Path, rng: random.Random, size: int, count: int) -> list[dict]:
    accession, description, seq = first_record(source)
    bin_size = len(seq) // count
    records, rows = [], []
    for b, start in enumerate(seeded_starts(rng, len(seq), size, count)):
        start = clean_start(rng, seq, start, size, b * bin_size, (b + 1) * bin_size)
        name = f"{accession}:{start}-{start + size}"
        records.append((f"{name} {description}", seq[start:start + size]))
        rows.append({"record": name, "accession": accession, "start": start, "end": start + size,
                     "source_length": len(seq)})
    write_fasta_gz(output, records)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the development data folder (with manifest.tsv)")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--out", type=Path, default=HERE / "genomes")
    args = parser.parse_args()

    with open(args.data / "manifest.tsv") as fh:
        manifest = list(csv.DictReader(fh, delimiter="\t"))
    jobs = [(row, f"{Path(row['path']).parent.name}/{row['strain']}.fa.gz", SLICE, SLICES_PER_GENOME)
            for row in manifest if row["path"].startswith("genomes/")]
    jobs += [(row, OOD_OUTPUT, OOD_SLICE, 1) for row in manifest if row["path"] == OOD_SOURCE]

    lines = ["file\tspecies\tstrain\tsource\tsource_package\trecord\tstart\tend\tsource_length"]
    for row, output, size, count in jobs:
        rng = random.Random(f"{args.seed}:{row['path']}")  # str seeds are hashed deterministically
        for s in make_slices(args.data / row["path"], args.out / output, rng, size, count):
            lines.append(f"genomes/{output}\t{row['species']}\t{row['strain']}\t{row['path']}\t"
                         f"{row['source_package']}\t{s['record']}\t{s['start']}\t{s['end']}\t"
                         f"{s['source_length']}")
    (args.out.parent / "provenance.tsv").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
