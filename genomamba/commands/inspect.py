"""`genomamba inspect STORE.zarr [--json] [--verify]`: records, lengths, GC, N and masked fractions,
attributes; with ``--verify`` every chunk is read and checked against its checksum.

Opening a store checks its attributes, tables and that its chunk files are there (a damaged store
is an error, exit 2); ``--verify`` also decodes every chunk and lists each damaged one, then fails
(exit 2) if there were any."""

from __future__ import annotations

import json
import sys

import numpy as np


def add_arguments(parser):
    parser.add_argument("store", metavar="STORE.zarr")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--verify", action="store_true",
                        help="read every chunk and check it against its checksum (exit 2 if any is damaged)")


def _fractions(counts: np.ndarray, masked: np.ndarray):
    """GC of the non-N bases, N and soft-masked fractions, for rows of (A, C, G, T, N) counts."""
    counts = np.atleast_2d(counts).astype(np.float64)
    length = counts.sum(axis=1)
    acgt = length - counts[:, 4]
    with np.errstate(invalid="ignore", divide="ignore"):
        gc = np.where(acgt > 0, (counts[:, 1] + counts[:, 2]) / acgt, np.nan)
        return gc, counts[:, 4] / length, np.asarray(masked) / length


def summarise(store) -> dict:
    """The numbers ``inspect`` prints, per record and in total (GC is None where a record is all N)."""
    counts, masked = store.counts(), store.masked()
    gc, n_frac, m_frac = _fractions(counts, masked)
    total_gc, total_n, total_m = _fractions(counts.sum(axis=0), masked.sum())
    clean = lambda x: None if np.isnan(x) else round(float(x), 6)
    return {
        "store": str(store.path),
        "attributes": store.attrs,
        "total": {"records": len(store), "length": int(store.lengths.sum()), "gc": clean(total_gc[0]),
                  "n_fraction": clean(total_n[0]), "masked_fraction": clean(total_m[0])},
        "records": [{"name": name, "length": int(length), "gc": clean(g), "n_fraction": clean(n),
                     "masked_fraction": clean(m)}
                    for name, length, g, n, m in zip(store.names, store.lengths, gc, n_frac, m_frac)],
    }


def _fmt(x):
    return "NA" if x is None else f"{x:.4f}"


def verification(store) -> dict:
    """What ``--verify`` reports: the checksum algorithm (None for a format 1 store), the number of
    chunks read and one message per damaged chunk."""
    from ..store import CHECKSUM

    return {"checksums": CHECKSUM if store.verified else None, "chunks": store.n_chunks,
            "problems": [str(problem) for problem in store.verify()]}


def run(args) -> int:
    from ..errors import InputError
    from ..store import SequenceStore

    store = SequenceStore.open(args.store, check_files=not args.verify)
    summary = summarise(store)
    if args.verify:
        summary["verify"] = verification(store)
    out = sys.stdout
    if args.json:
        json.dump(summary, out, indent=1)
        out.write("\n")
    else:
        attrs = summary["attributes"]
        for key in ("species", "strain", "format_version", "tokenizer_version", "n_records", "total_length"):
            out.write(f"{key}\t{attrs.get(key)}\n")
        for source in attrs.get("sources", []):
            out.write(f"source\t{source['path']}\t{source['format']}\tsha256:{source['sha256']}\n")
        out.write("\nrecord\tlength\tgc\tn_fraction\tmasked_fraction\n")
        for row in summary["records"] + [{"name": "*total*", **summary["total"]}]:
            out.write(f"{row['name']}\t{row['length']}\t{_fmt(row['gc'])}\t{_fmt(row['n_fraction'])}\t"
                      f"{_fmt(row['masked_fraction'])}\n")
        if args.verify:
            _write_verification(summary["verify"], store.format_version, out)
        else:
            out.write(f"\nchunks\t{store.n_chunks} (not read: --verify reads and checks every one)\n")
    problems = summary.get("verify", {}).get("problems")
    if problems:
        raise InputError(f"{len(problems)} damaged chunk{'s' * (len(problems) > 1)} (listed on stdout); "
                         "re-tokenize the store's inputs", args.store)
    return 0


def _write_verification(report: dict, format_version: int, out):
    out.write("\n")
    for problem in report["problems"]:
        out.write(f"damaged\t{problem}\n")
    if report["checksums"] is None:
        state = f"no checksums (format {format_version}): chunks decoded, contents unverified"
    else:
        state = f"{report['checksums']} checksums"
    verdict = f"{len(report['problems'])} damaged" if report["problems"] else "all intact"
    out.write(f"verify\t{report['chunks']} chunks read, {verdict}; {state}\n")
