"""The ``genomamba`` command: one subcommand per module in ``genomamba.commands``.

Each command module defines ``add_arguments(parser)`` and ``run(args) -> int``; its one-line help is
its entry in ``COMMANDS``.
Modules are imported only when their command runs, so ``genomamba tokenize`` never loads torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import warnings
from typing import NamedTuple

from . import interrupts, progress
from .errors import ConfigError, InputError

class Command(NamedTuple):
    help: str  # one line: what it does
    example: str  # one typical use, shown by ``genomamba --help``


COMMANDS = {
    "tokenize": Command("FASTA/GenBank/EMBL/SAM/BAM/CRAM into a chunked zarr store",
                        'genomamba tokenize genome.fa.gz -o genome.zarr --species "Escherichia coli"'),
    "export": Command("write a store's records back as FASTA", "genomamba export genome.zarr -o - | head"),
    "inspect": Command("summarise a store: records, lengths, GC and N fraction",
                       "genomamba inspect genome.zarr --verify"),
    "split": Command("assign samples (or region blocks) to train/validation/test",
                     "genomamba split --samples config/samples.tsv --stores-dir results/stores -o split.tsv"),
    "train": Command("train a classifier (mamba, transformer, kmer, sourmash) on a split, or combine trained ones",
                     "genomamba train --kind kmer --split split.tsv -o models/kmer"),
    "classify": Command("call the species of every record and file",
                        "zcat assembly.fa.gz | genomamba classify --model resources/models/bacteria - -o -"),
    "track": Command("species probabilities in windows along every record; species segments; chimeric and "
                     "mixed flagged", "genomamba track --model models/mamba assembly.fa -o track.tsv "
                                      "--flags flags.tsv"),
    "evaluate": Command("score calls against the truth",
                        "genomamba evaluate --split split.tsv --calls calls/*.tsv -o metrics.json"),
    "report": Command("write the self-contained HTML report",
                      "genomamba report --split split.tsv --metrics metrics.json -o report.html"),
    "figures": Command("draw the paper figures from results",
                       "genomamba figures --metrics metrics.json -o figures"),
    "bench": Command("benchmarks: ingest, kernels, model, cpu", "genomamba bench cpu"),
    "simulate-reads": Command("simulate seeded long reads (log-normal lengths, both strands, errors) from an "
                              "assembly into an unaligned BAM",
                              "genomamba simulate-reads assembly.fa -o reads.bam --seed 1 --count 1000"),
    "simulate-chimeras": Command("seeded chimeric records and contaminant contigs from assemblies of several "
                                 "species, with a truth table",
                                 "genomamba simulate-chimeras --host 'Escherichia coli=ecoli.fa' --donor "
                                 "'Vibrio cholerae=vibrio.fa' -o chimeras.fa --truth truth.tsv --seed 1"),
}

ABOUT = """\
Species classification of genome assemblies, contigs and reads with a Mamba DNA model that
streams sequences of any length in constant memory (CPU or GPU), beside k-mer and sourmash
baselines: sequences are tokenized into zarr stores, split by strain, classifiers trained, and
every record and file called; the Snakemake workflow (snakemake --cores N) runs it all and writes
an HTML report."""

STREAMS = """\
An input '-' is standard input (FASTA, plain or compressed, SAM or BAM) for tokenize, classify and
simulate-reads; '-o -' writes classify's calls table or export's FASTA to standard output. A
progress bar shows on stderr when it is a terminal (--progress / --no-progress). Bad input is an
error naming the file, record and line, exit status 2, with nothing half-written left behind.
'genomamba COMMAND --help' tells a command's options."""


def overview() -> str:
    """The top-level help after the usage line: what the tool does, then each command's line and
    example (from COMMANDS)."""
    width = max(map(len, COMMANDS)) + 2
    lines = [ABOUT, "", "commands (each with an example):"]
    for name, command in COMMANDS.items():
        lines += [f"  {name:<{width}}{command.help}", f"  {'':<{width}}$ {command.example}"]
    return "\n".join([*lines, "", STREAMS])


def _command_module(name: str):
    return importlib.import_module(f"genomamba.commands.{name.replace('-', '_')}")


def build_parser(argv=None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genomamba", description=overview(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    from . import __version__
    parser.add_argument("--version", action="version", version=f"genomamba {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                help="one of the commands above")
    wanted = next((a for a in (argv or []) if a in COMMANDS), None)
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, description=command.help)
        if name == wanted:  # only the command being run needs its arguments (and imports)
            _command_module(name).add_arguments(p)
    return parser


def _interrupted_message(args, signum: int) -> str:
    output = getattr(args, "output", None)
    where = f" at {output}" if output else ""
    return (f"genomamba {args.command}: interrupted ({signal.Signals(signum).name}); "
            f"nothing half-written left{where}")


def _silence_stdout() -> None:
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (tests capture it)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def main(argv=None) -> int:
    # OpenMP's threads (PyTorch's) sleep between parallel regions instead of spinning: spinning, they
    # take the cores from the numba kernels that run between the matrix products, and from other jobs.
    # Read once, when torch loads (no command module has imported it yet), so the user's value wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    progress.choose(getattr(args, "progress", None))
    with interrupts.handled():
        try:
            status = _command_module(args.command).run(args) or 0
            interrupts.check()  # a signal whose exception a finaliser dropped
            return status
        except BrokenPipeError:
            # whoever read standard output stopped (| head): end quietly, with the status of a program
            # that SIGPIPE ended; standard output now goes nowhere, so flushing it at exit fails no more
            _silence_stdout()
            return 128 + signal.SIGPIPE
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
            progress.choose(None)  # the choice was this command's (main may run again in one process)


if __name__ == "__main__":
    sys.exit(main())
