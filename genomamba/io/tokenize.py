"""Tokenize input files into one sequence store: the work behind ``genomamba tokenize``."""

from __future__ import annotations

import os
import sys

from . import Source
from ..atomic import atomic_path
from ..errors import InputError
from ..inputs import check_options, checked_records
from ..store import StoreWriter


def _progress(enabled):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(unit="bp", unit_scale=True, desc="tokenize", file=sys.stderr)


def tokenize_files(inputs, output, *, species=None, strain=None, min_length=0, min_mapq=0,
                   reference=None, include_secondary=False, progress=None) -> dict:
    """Read every input (any supported format) into a new store at ``output``; returns its attributes.

    The store appears at ``output`` only when complete. Record names must be unique across all
    inputs. ``progress`` None shows a bar only when stderr is a terminal.
    """
    if not inputs:
        raise InputError("no input files")
    check_options(min_length=min_length, min_mapq=min_mapq)
    bar = _progress(progress)
    first_seen: dict[str, str] = {}
    sources = []
    try:
        with atomic_path(output) as tmp:
            writer = StoreWriter(tmp)
            for path in inputs:
                with Source(path, min_length=min_length, min_mapq=min_mapq, reference=reference,
                            include_secondary=include_secondary) as source:
                    n_records = n_bases = 0
                    # the input rules shared with classify and simulate-reads: unique names, some records
                    for record in checked_records(path, source.records(), first_seen=first_seen,
                                                  min_length=min_length, min_mapq=min_mapq):
                        writer.begin(record.name)
                        for tokens, mask in record.chunks():
                            writer.append(tokens, mask)
                        length = writer.end()
                        n_records += 1
                        n_bases += length
                        if bar is not None:
                            bar.update(length)
                    sources.append({"path": str(path), "name": os.path.basename(str(path)),
                                    "format": source.format, "sha256": source.sha256(),
                                    "records": n_records, "bases": n_bases})
            writer.close(species=species, strain=strain, sources=sources)
            return dict(writer.attrs)
    finally:
        if bar is not None:
            bar.close()
