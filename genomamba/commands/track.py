"""`genomamba track`: species probabilities in windows along every record of an assembly, species
segments, and chimeric records and mixed assemblies flagged.

Writes the track table and bedGraphs (``genomamba.track``), and optionally the segments and the flags
(``genomamba.segment``). Records are streamed one at a time; each record's tokens (1 byte per base)
are kept while it is tracked, to place its change points more finely than the windows
(``genomamba.segment.refine_changes``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..errors import InputError
from ..inputs import DEFAULT_CHUNK_SIZE
from ..outputs import add_force_argument, check_output
from ..segment import DEFAULT_SWITCH_PENALTY
from ..track import DEFAULT_WINDOW
from .classify import add_cpu_arguments


def add_arguments(parser):
    parser.add_argument("--model", required=True, type=Path, help="model directory (genomamba train)")
    parser.add_argument("input", type=Path, metavar="INPUT",
                        help="an assembly: FASTA/GenBank/EMBL/SAM/BAM/CRAM file or zarr store")
    parser.add_argument("-o", "--output", required=True, type=Path,
                        help="track table (TSV: record start end call confidence p_<species>...)")
    parser.add_argument("--bedgraph-dir", type=Path, default=None, metavar="DIR",
                        help="also write one bedGraph per species into DIR (replaced as a whole)")
    parser.add_argument("--segments", type=Path, default=None, metavar="TSV",
                        help="also write the species segments of every record")
    parser.add_argument("--flags", type=Path, default=None, metavar="TSV",
                        help="also write one flag per record (clean, chimeric, contaminant) and per "
                             "assembly (record *: clean or mixed)")
    parser.add_argument("--window", type=int, default=DEFAULT_WINDOW,
                        help=f"window length in bases (default {DEFAULT_WINDOW})")
    parser.add_argument("--switch-penalty", type=float, default=DEFAULT_SWITCH_PENALTY,
                        help=f"segmentation: cost of a change of species in nats (default {DEFAULT_SWITCH_PENALTY:g})")
    parser.add_argument("--min-segment", type=int, default=0,
                        help="segments shorter than this many bases are never confident (default 0)")
    parser.add_argument("--device", default="auto",
                        help="torch device for neural models: auto, cpu, cuda, cuda:N (default auto)")
    add_cpu_arguments(parser)
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE,
                        help=f"tokens per streamed chunk (default {DEFAULT_CHUNK_SIZE})")
    parser.add_argument("--min-length", type=int, default=0, help="skip records shorter than this")
    add_force_argument(parser)


def run(args) -> int:
    from ..classifiers import check_device
    from ..inputs import check_options, iter_records
    import numpy as np

    from ..segment import (SegmentParams, flag_records, refine_changes, segment_track, write_flags,
                           write_segments)
    from ..track import track_record, write_bedgraphs, write_track_table
    from .classify import check_threads, load_model

    for flag, value in (("--window", args.window), ("--chunk-size", args.chunk_size)):
        if value <= 0:
            raise InputError(f"{flag} must be > 0, got {value}")
    params = SegmentParams(switch_penalty=args.switch_penalty, min_segment=args.min_segment)
    params.check()
    check_options(min_length=args.min_length)
    check_device(args.device, "--device")
    check_threads(args.threads)
    if not args.input.exists():
        raise InputError("no such file or directory", args.input)
    outputs = [p for p in (args.output, args.segments, args.flags) if p is not None]
    if len({p.resolve() for p in outputs + ([args.bedgraph_dir] if args.bedgraph_dir else [])}) \
            < len(outputs) + bool(args.bedgraph_dir):
        raise InputError("the outputs must be different paths", args.output)
    for path in outputs:
        check_output(path, "file", [args.input, args.model], args.force)
    if args.bedgraph_dir is not None:
        check_output(args.bedgraph_dir, "folder", [args.input, args.model], args.force)
    model = load_model(args.model, args.device, args.threads, args.cpu_precision)

    started, tracks, segments = time.perf_counter(), [], {}
    for record in iter_records(args.input, chunk_size=args.chunk_size, min_length=args.min_length):
        kept = []  # the record's tokens, for placing its change points more finely than the windows
        track = track_record(model, record.name, (kept.append(c) or c for c in record.chunks()), args.window)
        tracks.append(track)
        found = segment_track(track, model.species, model.threshold, params)
        if len({s.call for s in found}) > 1:
            found = refine_changes(found, np.concatenate(kept), lambda t: model.score([t]), model.species,
                                   args.window)
        segments[track.record] = found
    write_track_table(args.output, tracks, model.species, model.threshold)
    if args.bedgraph_dir is not None:
        write_bedgraphs(args.bedgraph_dir, tracks, model.species)
    flags = flag_records(segments, {t.record: t.length for t in tracks})
    if args.segments is not None:
        write_segments(args.segments, [s for record in segments.values() for s in record])
    if args.flags is not None:
        write_flags(args.flags, flags)
    flagged = [f"{f.record} {f.flag}" for f in flags[:-1] if f.flag != "clean"]
    print(f"{args.input}: {len(tracks)} records, {sum(len(t.starts) for t in tracks)} windows, assembly "
          f"{flags[-1].call} ({flags[-1].flag}); flagged: {', '.join(flagged) or 'none'} "
          f"({time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)
    return 0
