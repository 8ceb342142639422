"""`genomamba inspect STORE.zarr [--json]`: records, lengths, GC, N and masked fractions, attributes."""

from __future__ import annotations

import json
import sys

import numpy as np

HELP = "summarise a store: records, lengths, GC and N fraction"


def add_arguments(parser):
    parser.add_argument("store", metavar="STORE.zarr")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")


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


def run(args) -> int:
    from ..store import SequenceStore

    summary = summarise(SequenceStore.open(args.store))
    out = sys.stdout
    if args.json:
        json.dump(summary, out, indent=1)
        out.write("\n")
        return 0
    attrs = summary["attributes"]
    for key in ("species", "strain", "format_version", "tokenizer_version", "n_records", "total_length"):
        out.write(f"{key}\t{attrs.get(key)}\n")
    for source in attrs.get("sources", []):
        out.write(f"source\t{source['path']}\t{source['format']}\tsha256:{source['sha256']}\n")
    out.write("\nrecord\tlength\tgc\tn_fraction\tmasked_fraction\n")
    for row in summary["records"] + [{"name": "*total*", **summary["total"]}]:
        out.write(f"{row['name']}\t{row['length']}\t{_fmt(row['gc'])}\t{_fmt(row['n_fraction'])}\t"
                  f"{_fmt(row['masked_fraction'])}\n")
    return 0
