"""Tokenize input files into one sequence store: the work behind ``genomamba tokenize``."""

from __future__ import annotations

import os

from . import Source
from ..atomic import atomic_path
from ..errors import InputError
from ..inputs import check_options, checked_records
from ..progress import Bases
from ..store import StoreWriter
from .stdin import Stdin


def _sizes(inputs) -> int | None:
    """The inputs' total size in bytes, where all are files of known size (not standard input)."""
    try:
        return sum(os.path.getsize(p) for p in inputs if not isinstance(p, Stdin))
    except OSError:
        return None


def tokenize_files(inputs, output, *, species=None, strain=None, min_length=0, min_mapq=0,
                   reference=None, include_secondary=False, progress=None) -> dict:
    """Read every input (any supported format) into a new store at ``output``; returns its attributes.

    The store appears at ``output`` only when complete. Record names must be unique across all
    inputs. ``progress`` None shows a bar when genomamba.progress says so (on a terminal); its
    percentage and time left follow the bytes read of the input files (not for standard input).
    """
    if not inputs:
        raise InputError("no input files")
    check_options(min_length=min_length, min_mapq=min_mapq)
    total = None if any(isinstance(p, Stdin) for p in inputs) else _sizes(inputs)
    done = 0  # bytes of the inputs read to their end
    first_seen: dict[str, str] = {}
    sources = []
    with Bases("tokenize", total, show=progress) as bar, atomic_path(output) as tmp:
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
                        bar.update(len(tokens), done + source.raw_bytes_read if total else None)
                    n_records += 1
                    n_bases += writer.end()
                sources.append({"path": str(path), "name": os.path.basename(str(path)),
                                "format": source.format, "sha256": source.sha256(),
                                "records": n_records, "bases": n_bases})
            if total:
                done += os.path.getsize(path)
                bar.update(0, done)
        writer.close(species=species, strain=strain, sources=sources)
        return dict(writer.attrs)
