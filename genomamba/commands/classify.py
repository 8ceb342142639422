"""`genomamba classify`: call the species of every record (or fragment) and of every input file.

Writes the calls table described in ``genomamba.calls``; inputs are sequence files (read by
``genomamba.io``) or zarr stores, streamed record by record. Records (or fragments) short enough for
the model to score several at once (its ``batch_bases``: reads, contigs, fragments) are read whole
and scored in lots (``scored_pieces``); longer ones stream through the model chunk by chunk.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import numpy as np

from .. import progress
from ..errors import InputError
from ..inputs import DEFAULT_CHUNK_SIZE, STDIN, Counted
from ..outputs import add_force_argument, check_output


def add_arguments(parser):
    parser.add_argument("--model", required=True, type=Path, help="model directory (genomamba train)")
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                        help="FASTA/GenBank/EMBL/SAM/BAM/CRAM files or zarr stores; - reads standard input")
    parser.add_argument("-o", "--output", required=True, type=Path,
                        help="calls table (TSV) to write; - for standard output")
    add_force_argument(parser)
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE,
                        help=f"tokens per streamed chunk (default {DEFAULT_CHUNK_SIZE})")
    parser.add_argument("--fragment-length", type=int, default=None, metavar="L",
                        help="call consecutive fragments of L bases of every record instead of whole "
                             "records (a last fragment shorter than L is kept if >= L/2)")
    parser.add_argument("--regions", type=Path, default=None, metavar="SPLIT_TSV",
                        help="a region-block split table: call only the sample's blocks (records named "
                             "record@start-end; with --fragment-length, fragments of each block)")
    parser.add_argument("--sample", default=None,
                        help="with --regions: the inputs' sample in the table (default: the input's "
                             "name up to its first '.')")
    parser.add_argument("--region-splits", nargs="+", default=["test"], choices=["train", "validation", "test"],
                        help="with --regions: the splits whose blocks are called (default: test)")
    parser.add_argument("--device", default="auto",
                        help="torch device for neural models: auto, cpu, cuda, cuda:N (default auto)")
    add_cpu_arguments(parser)
    parser.add_argument("--min-length", type=int, default=0, help="skip records shorter than this")
    parser.add_argument("--min-mapq", type=int, default=0, help="SAM/BAM/CRAM: minimum mapping quality")
    parser.add_argument("--reference", type=Path, default=None, help="CRAM: reference FASTA")
    progress.add_arguments(parser)


def add_cpu_arguments(parser) -> None:
    from ..classifiers.devices import CPU_PRECISIONS

    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="CPU threads of a neural model on the CPU (default 0: every core this process may use)")
    parser.add_argument("--cpu-precision", choices=CPU_PRECISIONS, default="float32",
                        help="precision of a Mamba model's matrix products on the CPU (their sums are float32 "
                             "either way): bfloat16 factors and products make a d_model 128 model 1.2-1.5 "
                             "times as fast where the processor has bfloat16 dot products (AVX512_BF16, AMX; "
                             "elsewhere they are slower) and move its probabilities by up to a few 1e-4 "
                             "(default float32)")


def check_threads(threads: int) -> None:
    if threads < 0:
        raise InputError(f"--threads must not be negative, got {threads}")


def load_model(model_dir: Path, device: str, threads: int = 0, precision: str = "float32"):
    """The classifier in ``model_dir``; a missing or damaged model file is an InputError naming it.
    A device other than ``auto`` is passed to the classifier's ``to(device)`` where it has one
    (the neural models; with ``auto`` they keep the device their ``load`` chose). A neural model
    on the CPU scores on ``threads`` threads (0: every available core), its matrix products in
    ``precision`` (genomamba.classifiers.devices.CPU_PRECISIONS)."""
    from ..classifiers import load
    from ..classifiers.devices import use_cpu

    if not model_dir.is_dir():
        raise InputError("model directory not found", model_dir)
    try:
        model = load(model_dir)
    except (OSError, KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot load model: {type(exc).__name__}: {exc}", model_dir) from None
    if device != "auto" and hasattr(model, "to"):
        model.to(device)
    use_cpu(model, threads, precision)
    return model


def records_to_call(path: Path, reader_options: dict, regions, args):
    """The input's records, or with a region table only its sample's blocks of --region-splits."""
    from ..inputs import iter_records
    from ..regions import cut_blocks, sample_blocks_of

    if regions is None:
        yield from iter_records(path, **reader_options)
        return
    sample = args.sample or Path(path).name.split(".")[0]
    blocks = sample_blocks_of(regions, sample, args.region_splits, args.regions)
    for record in iter_records(path, **reader_options):
        if record.name in blocks:
            yield from cut_blocks(record, blocks[record.name])


def total_bases(paths, reader_options: dict) -> int | None:
    """The bases to call, for the progress bar's percentage and time left: read ahead (a store's
    lengths, a file read once more: quick beside calling it); None with standard input, which is
    read only as it is called."""
    from ..inputs import iter_records
    from ..io.stdin import Stdin

    if any(isinstance(p, Stdin) for p in paths):
        return None
    return sum(sum(len(c) for c in record.chunks()) for p in paths for record in iter_records(p, **reader_options))


def counted(chunks, bar):
    """The token chunks, each counted on the bar as the classifier takes it."""
    for chunk in chunks:
        bar.update(len(chunk))
        yield chunk


# short pieces read ahead and scored as one lot, in bases, as a multiple of the model's batch_bases:
# the lot is sorted by length, so that each batch holds similar lengths
LOT_BATCHES = 32


def read_up_to(chunks, limit: int) -> tuple[list[np.ndarray], bool]:
    """(copies of the first chunks, whether they are all of them): reading stops once they hold
    more than ``limit`` tokens."""
    head, total = [], 0
    for chunk in chunks:
        head.append(np.array(chunk, dtype=np.uint8))
        total += len(chunk)
        if total > limit:
            return head, False
    return head, True


def scored_pieces(model, pieces, bar):
    """(piece, length, probabilities, confidence) of each piece, in order. A piece of at most
    ``model.batch_bases`` bases is read whole and scored with others in a lot (``score_many``); a
    longer one streams through ``score``."""
    limit = model.batch_bases
    lot, lot_bases = [], 0

    def score_lot():
        results = model.score_many([tokens for _, tokens in lot]) if lot else []
        scored = [(piece, len(tokens), *result) for (piece, tokens), result in zip(lot, results)]
        lot.clear()
        return scored

    for piece in pieces:
        chunks = counted(piece.chunks(), bar)
        head, whole = read_up_to(chunks, limit) if limit else ([], False)
        if whole:
            lot.append((piece, np.concatenate(head) if head else np.zeros(0, np.uint8)))
            lot_bases += len(lot[-1][1])
            if lot_bases >= LOT_BATCHES * limit:
                yield from score_lot()
                lot_bases = 0
            continue
        yield from score_lot()
        lot_bases = 0
        stream = Counted(itertools.chain(head, chunks))
        probs, confidence = model.score(stream)
        yield piece, stream.length, probs, confidence
    yield from score_lot()


def run(args) -> int:
    from ..calls import CallsWriter
    from ..classifiers import check_device
    from ..inputs import check_distinct_inputs, check_options, fragments, stdin_inputs
    from ..split import Split

    if args.chunk_size <= 0:
        raise InputError(f"--chunk-size must be > 0, got {args.chunk_size}")
    if args.fragment_length is not None and args.fragment_length <= 0:
        raise InputError(f"--fragment-length must be > 0, got {args.fragment_length}")
    check_options(min_length=args.min_length, min_mapq=args.min_mapq)
    check_device(args.device, "--device")
    check_threads(args.threads)
    files = [p for p in args.inputs if str(p) != STDIN]
    missing = [p for p in files if not p.exists()]
    if missing:
        raise InputError("no such file or directory", missing[0])
    if args.regions and not args.sample and len(files) < len(args.inputs):
        raise InputError("--regions with standard input (-) needs --sample")
    check_distinct_inputs(files)  # each file's rows are told apart by its path alone
    check_output(args.output, "file", [*files, args.model, args.regions, args.reference], args.force,
                 stdout=True)
    regions = Split.read(args.regions) if args.regions else None
    model = load_model(args.model, args.device, args.threads, args.cpu_precision)
    reader_options = dict(chunk_size=args.chunk_size, min_length=args.min_length,
                          min_mapq=args.min_mapq, reference=args.reference)
    with stdin_inputs(args.inputs) as inputs, CallsWriter(args.output, model.species, model.threshold) as writer:
        total = total_bases(inputs, reader_options) if progress.shown() and regions is None else None
        with progress.Bases("classify", total) as bar:
            for path in inputs:
                started, rows = time.perf_counter(), 0
                records = records_to_call(path, reader_options, regions, args)
                pieces = (piece for record in records for piece in
                          (fragments(record, args.fragment_length) if args.fragment_length else [record]))
                for piece, length, probs, confidence in scored_pieces(model, pieces, bar):
                    writer.add(str(path), piece.name, length, probs, confidence)
                    rows += 1
                call = writer.end_file(str(path))
                progress.message(f"{path}: {rows} rows, assembly call {call} "
                                 f"({time.perf_counter() - started:.1f} s)")
    return 0
