"""The ``genomamba`` command: one subcommand per module in ``genomamba.commands``.

Each command module defines ``add_arguments(parser)`` and ``run(args) -> int``; its one-line help is
its entry in ``COMMANDS``.
Modules are imported only when their command runs, so ``genomamba tokenize`` never loads torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
import warnings

from .errors import ConfigError, InputError

COMMANDS = {
    "tokenize": "FASTA/GenBank/EMBL/SAM/BAM/CRAM into a chunked zarr store",
    "export": "write a store's records back as FASTA",
    "inspect": "summarise a store: records, lengths, GC and N fraction",
    "split": "assign samples (or region blocks) to train/validation/test",
    "train": "train a classifier (mamba, transformer, kmer, sourmash) on a split, or combine trained ones",
    "classify": "call the species of every record and file",
    "track": "species probabilities in windows along every record; species segments; chimeric and mixed flagged",
    "evaluate": "score calls against the truth",
    "report": "write the self-contained HTML report",
    "figures": "draw the paper figures from results",
    "bench": "benchmarks: ingest, kernels, model",
    "simulate-reads": "simulate seeded long reads (log-normal lengths, both strands, errors) from an assembly "
                      "into an unaligned BAM",
    "simulate-chimeras": "seeded chimeric records and contaminant contigs from assemblies of several species, "
                         "with a truth table",
}


def _command_module(name: str):
    return importlib.import_module(f"genomamba.commands.{name.replace('-', '_')}")


def build_parser(argv=None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genomamba", description=__doc__.splitlines()[0])
    from . import __version__
    parser.add_argument("--version", action="version", version=f"genomamba {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    wanted = next((a for a in (argv or []) if a in COMMANDS), None)
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == wanted:  # only the command being run needs its arguments (and imports)
            _command_module(name).add_arguments(p)
    return parser


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: raised in the main thread so that every ``with`` block unwinds and
    genomamba.atomic removes its temporary outputs."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


INTERRUPTS = (signal.SIGINT, signal.SIGTERM)


def _interrupt(signum, frame):
    for s in INTERRUPTS:  # a second signal must not cut the clean-up short
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signum)


def _interrupted_message(args, signum: int) -> str:
    output = getattr(args, "output", None)
    where = f" at {output}" if output else ""
    return (f"genomamba {args.command}: interrupted ({signal.Signals(signum).name}); "
            f"nothing half-written left{where}")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    handlers = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, _interrupt) for s in INTERRUPTS} if handlers else {}
    try:
        return _command_module(args.command).run(args) or 0
    except (InputError, ConfigError) as exc:
        print(f"genomamba {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        # a write cut short can leave zarr's asynchronous tasks and coroutines pending: asyncio and
        # the warnings module would report each one as it is destroyed at exit, after our message;
        # they are abandoned on purpose
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        warnings.simplefilter("ignore")
        print(_interrupted_message(args, signum), file=sys.stderr)
        return 128 + signum
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


if __name__ == "__main__":
    sys.exit(main())
