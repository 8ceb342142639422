"""`genomamba export STORE.zarr -o OUT.fa[.gz]`: a store's records back as FASTA."""

from __future__ import annotations

import numpy as np

from ..alphabet import BASES
from ..outputs import add_force_argument, check_output

WIDTH = 60
_LETTERS = np.frombuffer(BASES.encode(), dtype=np.uint8)


def add_arguments(parser):
    parser.add_argument("store", metavar="STORE.zarr")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.fa[.gz]",
                        help="FASTA to write; gzip-compressed when the name ends in .gz; - for standard "
                             "output (plain)")
    parser.add_argument("--width", type=int, default=WIDTH, help=f"bases per line (default {WIDTH})")
    add_force_argument(parser)


def wrap(letters: np.ndarray, column: int, width: int):
    """``letters`` as lines of ``width`` continuing a line that already holds ``column`` letters;
    returns (bytes, new column). Vectorised: full lines are a reshape plus a newline column."""
    out = []
    head = min(len(letters), (width - column) % width if column else 0)
    if head:
        out.append(letters[:head].tobytes())
        column += head
        if column == width:
            out.append(b"\n")
            column = 0
    rest = letters[head:]
    full = len(rest) // width
    if full:
        lines = np.empty((full, width + 1), dtype=np.uint8)
        lines[:, :width] = rest[:full * width].reshape(full, width)
        lines[:, width] = ord("\n")
        out.append(lines.tobytes())
    tail = rest[full * width:]
    if len(tail):
        out.append(tail.tobytes())
        column = len(tail)
    return b"".join(out), column


def write_fasta(store, fh, width: int = WIDTH):
    """Every record of ``store`` to the binary file ``fh``; soft-masked bases in lower case."""
    current, column = None, 0
    for index, tokens, mask in store.iter_pieces():
        if index != current:
            if current is not None and column:
                fh.write(b"\n")
            fh.write(f">{store.names[index]}\n".encode())
            current, column = index, 0
        letters = _LETTERS[tokens]
        if mask.any():
            letters[mask] |= 0x20  # lower case
        text, column = wrap(letters, column, width)
        fh.write(text)
    if current is not None and column:
        fh.write(b"\n")


def run(args) -> int:
    import gzip

    from ..errors import InputError
    from ..outputs import open_output
    from ..store import SequenceStore

    if args.width < 1:
        raise InputError("--width must be positive")
    check_output(args.output, "file", [args.store], args.force, stdout=True)
    store = SequenceStore.open(args.store)
    with open_output(args.output, "wb", buffering=1 << 20) as fh:
        if str(args.output).endswith(".gz"):
            with gzip.GzipFile(fileobj=fh, mode="wb", compresslevel=6) as gz:
                write_fasta(store, gz, args.width)
        else:
            write_fasta(store, fh, args.width)
    return 0
